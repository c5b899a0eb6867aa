"""Strategy API v1: one base class, synchronous handlers, a pydantic config per strategy.

A strategy never reaches for globals: the engine hands it a `StrategyContext` (clock, logger,
market view, portfolio, order submission, timers) when it registers it, so the same class runs
unchanged in a backtest and in the daemon.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from engine.clock import Clock
from engine.errors import SpilloverError
from engine.orders import Fill, OrderIntent
from engine.scoring.shock import Shock

ENTRY_POINT_GROUP = "spillover.strategies"


class StrategyLoadError(SpilloverError):
    """A strategy could not be found, imported or configured; the message names it."""


class MarketView(Protocol):
    """What a strategy may know about prices: only what has traded up to now."""

    def price(self, symbol: str) -> float:
        """Last traded price, NaN if none."""
        ...

    def daily_vol(self, symbol: str) -> float:
        """Recent volatility over a session."""
        ...

    def beta(self, symbol: str) -> float:
        """Beta to the market."""
        ...


class StrategyConfig(BaseModel):
    """Base of every strategy's settings; a typo in a config file is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy_id: str = ""


@dataclass(slots=True)
class Portfolio:
    """Positions (shares) and cash of one strategy."""

    cash: float = 0.0
    positions: dict[str, float] = field(default_factory=dict)

    def apply(self, fill: Fill) -> None:
        """Book a fill."""
        self.cash -= fill.qty * fill.price + fill.commission
        qty = self.positions.get(fill.symbol, 0.0) + fill.qty
        if abs(qty) < 1e-9:
            self.positions.pop(fill.symbol, None)
        else:
            self.positions[fill.symbol] = qty

    def position(self, symbol: str) -> float:
        """Shares held (negative: short)."""
        return self.positions.get(symbol, 0.0)

    def value(self, price: Callable[[str], float]) -> float:
        """Cash plus positions marked at `price`."""
        return self.cash + sum(q * price(s) for s, q in self.positions.items())


@dataclass(slots=True)
class StrategyContext:
    """Everything a strategy may use, handed over by the engine."""

    strategy_id: str
    clock: Clock
    log: logging.LoggerAdapter[logging.Logger]
    market: MarketView
    portfolio: Portfolio
    submit_intent: Callable[[OrderIntent], None]
    set_timer: Callable[[str, int], None]

    def submit(
        self, news_id: str, symbol: str, qty: float, leg: str, reason: str = ""
    ) -> OrderIntent:
        """Ask to trade `qty` shares now; risk checks and the broker take it from there."""
        intent = OrderIntent(
            strategy_id=self.strategy_id,
            news_id=news_id,
            symbol=symbol,
            qty=qty,
            leg=leg,
            ts_init=self.clock.now_ns(),
            reason=reason,
        )
        self.submit_intent(intent)
        return intent


class Strategy:
    """Subclass this; override the handlers you need. `config_class` names your config model."""

    config_class: ClassVar[type[StrategyConfig]] = StrategyConfig

    def __init__(self, config: StrategyConfig) -> None:
        self.config = config
        self._ctx: StrategyContext | None = None

    @property
    def ctx(self) -> StrategyContext:
        """The context the engine bound; only available once registered."""
        if self._ctx is None:
            raise RuntimeError(f"{type(self).__name__} is not registered with an engine yet")
        return self._ctx

    def bind(self, ctx: StrategyContext) -> None:
        """Called by the engine when it registers the strategy."""
        self._ctx = ctx

    def on_start(self) -> None:
        """Called once before the first event."""

    def on_shock(self, shock: Shock) -> None:
        """Called for each scored headline, at or after its receipt time."""

    def on_fill(self, fill: Fill) -> None:
        """Called for each fill of one of this strategy's orders."""

    def on_timer(self, name: str, ts_ns: int) -> None:
        """Called when a timer set with `ctx.set_timer(name, ts_ns)` fires."""

    def on_stop(self) -> None:
        """Called once after the last event."""


def _registered() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_strategy_class(spec: str) -> type[Strategy]:
    """Find a strategy by registered name or as `package.module:Class`."""
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            target = getattr(importlib.import_module(module_name), attr)
        except ImportError as exc:
            raise StrategyLoadError(
                f"strategy {spec!r}: cannot import {module_name}: {exc}"
            ) from None
        except AttributeError:
            raise StrategyLoadError(f"strategy {spec!r}: {module_name} has no {attr}") from None
    else:
        found = _registered().get(spec)
        if found is None:
            names = ", ".join(sorted(_registered())) or "none installed"
            raise StrategyLoadError(
                f"no strategy named {spec!r} (registered: {names}); or name one as module:Class"
            )
        try:
            target = found.load()
        except Exception as exc:  # a plugin's import may fail in any way; report it by name
            raise StrategyLoadError(
                f"strategy {spec!r} failed to load: {type(exc).__name__}: {exc}"
            ) from None
    if not (isinstance(target, type) and issubclass(target, Strategy)):
        raise StrategyLoadError(f"strategy {spec!r} is not a subclass of engine.strategy.Strategy")
    return target


def make_strategy(spec: str, settings: dict[str, Any] | None = None) -> Strategy:
    """Load a strategy class and build it from its settings (validated by its config class)."""
    cls = load_strategy_class(spec)
    try:
        config = cls.config_class(**(settings or {}))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise StrategyLoadError(f"strategy {spec!r} settings: {problems}") from None
    if not config.strategy_id:
        config = config.model_copy(update={"strategy_id": spec.rpartition(":")[2] or spec})
    return cls(config)
