"""Strategy API v1: one base class, synchronous handlers, a pydantic config per strategy.

A strategy never reaches for globals: the engine hands it a `StrategyContext` (clock, logger,
market view, portfolio, order submission, timers) when it registers it, so the same class runs
unchanged in a backtest and in the daemon.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from engine.clock import Clock
from engine.errors import SpilloverError, validation_problems
from engine.orders import Fill, OrderIntent
from engine.scoring.shock import Shock

ENTRY_POINT_GROUP = "spillover.strategies"

log = logging.getLogger(__name__)


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


def _no_watches(*_: Any) -> None:
    raise RuntimeError("this context has no engine behind it: watches need one")


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
    # the engine's watch book: (key, low, high, every_ns, held, per_cost), (key), (order id, key)
    add_watch: Callable[..., None] = _no_watches
    remove_watch: Callable[[str], None] = _no_watches
    attach_order: Callable[[str, str], None] = _no_watches

    def submit(
        self, news_id: str, symbol: str, qty: float, leg: str, reason: str = "",
        watch: str | None = None,
    ) -> OrderIntent:  # fmt: skip
        """Ask to trade `qty` shares now; risk checks and the broker take it from there. With
        `watch`, the order's fills count toward that watch's PnL (see `watch`)."""
        intent = OrderIntent(
            strategy_id=self.strategy_id,
            news_id=news_id,
            symbol=symbol,
            qty=qty,
            leg=leg,
            ts_init=self.clock.now_ns(),
            reason=reason,
        )
        if watch is not None:
            self.attach_order(intent.client_order_id, watch)
        self.submit_intent(intent)
        return intent

    def watch(
        self,
        key: str,
        *,
        low: float,
        high: float,
        every_s: float,
        held: Mapping[str, tuple[float, float]] | None = None,
        per_cost: bool = False,
    ) -> None:
        """Watch the PnL of the orders sent with `submit(..., watch=key)`: shares times the
        last price minus cost, over the symbols they filled. At each check the engine calls
        `on_watch(key, pnl, ts_ns)` if the PnL is at or below `low` or at or above `high`
        (never while nothing has filled, nor while a symbol has no price; with `low` at or
        above `high`, at every check). Checks run every
        `every_s` seconds on one chain per strategy: it starts `every_s` after a watch is
        added while none runs (the period of that call) and ends at a check that finds no
        watch left. A check is a timer: at equal times it runs in the order timers were set.
        With `per_cost`, `low` and `high` are per dollar of the cost the watch holds (the sum
        of |cost| over its symbols): `low=-0.02` stops a position at a 2% loss of its cost.
        `held` restores (shares, cost) per symbol after a restart (`on_load`). A check that
        finds every watch in its band costs the backtest almost nothing (it runs inside the
        market's fold), unlike a timer that reaches `on_timer`.
        """
        self.add_watch(key, low, high, int(every_s * 1e9), held, per_cost)

    def attach(self, order_id: str, key: str) -> None:
        """Count an order already sent (its `client_order_id`) toward watch `key`, as
        `submit(..., watch=key)` does for a new one (a restored order, after a restart)."""
        self.attach_order(order_id, key)

    def unwatch(self, key: str) -> None:
        """Stop watching `key` (its later fills no longer count); unknown keys are ignored."""
        self.remove_watch(key)


class Strategy:
    """Subclass this; override the handlers you need. `config_class` names your config model."""

    config_class: ClassVar[type[StrategyConfig]] = StrategyConfig
    # True when `on_shock` only reads the shock, the market and the strategy's own state and
    # acts only through its context (no files, sockets or globals): the daemon may then run a
    # fresh copy of the class on a canned headline while it waits, to keep the path warm
    # (`engine.live.warm`). Its orders go nowhere.
    rehearsal_safe: ClassVar[bool] = False

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

    def on_watch(self, key: str, pnl: float, ts_ns: int) -> None:
        """Called at a check when the PnL of watch `key` (`ctx.watch`) left its band; the
        watch stays until `ctx.unwatch(key)`, so a strategy that does not act on it hears of
        it again at the next check."""

    def on_stop(self) -> None:
        """Called once after the last event."""

    def on_save(self) -> dict[str, Any]:
        """Return what the strategy needs to carry across a daemon restart (JSON-able).

        The daemon journals it (`Journal.save_strategy_state`) and hands it back to `on_load`
        after a restart. The default keeps nothing.
        """
        return {}

    def on_load(self, state: dict[str, Any]) -> None:
        """Restore what `on_save` returned; called after registration, before `on_start`."""


@dataclass(frozen=True, slots=True)
class StrategyInfo:
    """One strategy registered under the entry-point group, loaded or not.

    `target` is where the entry point points (`module:Class`), `distribution` the installed
    package that registered it; `error` says why it failed to load ("" when `cls` is set).
    """

    name: str
    target: str
    distribution: str
    cls: type[Strategy] | None
    error: str = ""


_classes: dict[str, type[Strategy]] = {}  # spec -> class, every successful load
_infos: dict[str, StrategyInfo] | None = None


def clear_strategy_cache() -> None:
    """Forget every loaded strategy (tests; a process that installed a plugin meanwhile)."""
    global _infos
    _classes.clear()
    _infos = None


def _check(spec: str, target: object) -> type[Strategy]:
    if not (isinstance(target, type) and issubclass(target, Strategy)):
        raise StrategyLoadError(f"strategy {spec!r} is not a subclass of engine.strategy.Strategy")
    return target


def discover_strategies() -> dict[str, StrategyInfo]:
    """Load every strategy registered under `spillover.strategies`, once, by name.

    A plugin that fails to import (or does not point at a `Strategy`) is kept with its error,
    so one broken package never hides the others. Built-ins register exactly like third-party
    packages. The first registration of a name wins; later ones are listed as errors.
    """
    global _infos
    if _infos is not None:
        return _infos
    found: dict[str, StrategyInfo] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist is not None else ""
        if ep.name in found:
            first = found[ep.name]
            if first.target != ep.value:
                log.warning(
                    "strategy %r registered twice: %s and %s", ep.name, first.target, ep.value
                )
                key = f"{ep.name} ({dist or ep.value})"
                found[key] = StrategyInfo(
                    key, ep.value, dist, None, f"name {ep.name!r} is taken by {first.target}"
                )
            continue
        try:
            cls = _check(ep.name, ep.load())
        except StrategyLoadError as exc:
            found[ep.name] = StrategyInfo(ep.name, ep.value, dist, None, str(exc))
        except Exception as exc:  # a plugin's import may fail in any way; report it by name
            log.warning("strategy %r (%s) failed to load: %s", ep.name, ep.value, exc)
            found[ep.name] = StrategyInfo(
                ep.name, ep.value, dist, None, f"{type(exc).__name__}: {exc}"
            )
        else:
            found[ep.name] = StrategyInfo(ep.name, ep.value, dist, cls)
    _infos = found
    return found


def load_strategy_class(spec: str) -> type[Strategy]:
    """Find a strategy by registered name or as `package.module:Class` (cached)."""
    cached = _classes.get(spec)
    if cached is not None:
        return cached
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
        except Exception as exc:  # the module itself raised while importing
            raise StrategyLoadError(
                f"strategy {spec!r}: importing {module_name} failed: {type(exc).__name__}: {exc}"
            ) from None
        cls = _check(spec, target)
    else:
        infos = discover_strategies()
        info = infos.get(spec)
        if info is None:
            names = ", ".join(n for n, i in infos.items() if i.cls is not None) or "none installed"
            raise StrategyLoadError(
                f"no strategy named {spec!r} (registered: {names}); or name one as module:Class"
            )
        if info.cls is None:
            raise StrategyLoadError(
                f"strategy {spec!r} ({info.target}) failed to load: {info.error}"
            )
        cls = info.cls
    _classes[spec] = cls
    return cls


def make_strategy(spec: str, settings: dict[str, Any] | None = None) -> Strategy:
    """Load a strategy class and build it from its settings (validated by its config class)."""
    cls = load_strategy_class(spec)
    try:
        config = cls.config_class(**(settings or {}))
    except ValidationError as exc:
        problems = validation_problems(exc)
        raise StrategyLoadError(f"strategy {spec!r} settings: {problems}") from None
    if not config.strategy_id:
        config = config.model_copy(update={"strategy_id": spec.rpartition(":")[2] or spec})
    return cls(config)
