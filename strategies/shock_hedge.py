"""The flagship: trade a shock as a hedged basket.

Each headline whose shock clears the threshold becomes a basket: long the legs scored up, short
the legs scored down, sized by |score| over volatility, its net market beta hedged (with the
legs themselves, or with an index ETF; to the market or, with `beta="sector"`, to each leg's
sector peers), its gross notional capped. The basket is closed after a
holding time, or earlier at a stop loss or take profit. Baskets of overlapping shocks net in
the portfolio because every order is a delta.

A headline is traded once. A closed basket that holds nothing is forgotten `forget_seconds`
after it closed (its orders' ids with it; the baskets due are dropped together, at a close at
most an eighth of that period later), so a daemon that runs for months keeps only recent
baskets; until then a headline that comes again under the same id is not traded again (the
daemon's journal drops a repeated id before any strategy sees it, however late it comes).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.orders import Fill
from engine.scoring import Shock
from engine.strategy import Strategy, StrategyConfig

_NEVER = 2**63 - 1


class ShockHedgeConfig(StrategyConfig):
    """Settings of `ShockHedge`."""

    threshold: float = 0.15
    gross_notional: float = 100_000.0
    max_legs: int = 8
    hold_seconds: float = 300.0
    stop_loss: float = 0.02
    take_profit: float = 0.04
    check_seconds: float = 60.0
    hedge: Literal["legs", "index", "none"] = "legs"
    beta: Literal["market", "sector"] = "market"  # which beta the hedge neutralises
    hedge_symbol: str = "SPY"
    min_vol: float = 0.005
    # how long a closed basket that holds nothing is kept (its headline id not traded again);
    # keep it well above the time an order takes to fill: a forgotten basket's late entry
    # fill is not undone
    forget_seconds: float = 7 * 86_400.0


@dataclass(slots=True)
class _Basket:
    news_id: str
    qty: dict[str, float] = field(default_factory=dict)
    cost: dict[str, float] = field(default_factory=dict)  # filled qty * price
    closing: bool = False
    opened_ns: int = 0
    closed_ns: int = 0
    orders: list[str] = field(default_factory=list)  # client order ids of its orders


class ShockHedge(Strategy):
    """Shock → hedged basket, exits by time, stop and take-profit."""

    config_class = ShockHedgeConfig
    rehearsal_safe = True
    config: ShockHedgeConfig

    def __init__(self, config: StrategyConfig) -> None:
        super().__init__(config)
        self.baskets: dict[str, _Basket] = {}
        self._orders: dict[str, tuple[str, str]] = {}  # client order id -> (news id, leg)
        self._open: dict[str, _Basket] = {}  # baskets not yet closing
        self._closed: deque[tuple[int, str]] = deque()  # (when, news id) of closing baskets
        self._next_forget_ns = _NEVER  # when to look for baskets due to be forgotten
        cfg = self.config
        # read once, as the config is frozen: a pydantic model's attribute costs about 4 times
        # a plain one, and `weights` runs for every headline
        self._threshold, self._max_legs, self._min_vol = cfg.threshold, cfg.max_legs, cfg.min_vol
        self._hedge, self._gross = cfg.hedge, cfg.gross_notional
        self._hold_ns = int(cfg.hold_seconds * 1e9)
        self._check_s = cfg.check_seconds
        self._forget_ns = int(cfg.forget_seconds * 1e9)
        # the baskets due are dropped together, at the first close an eighth of the period
        # after the oldest is due (looking at every close was most of the cost of forgetting)
        self._look_after_ns = self._forget_ns + self._forget_ns // 8
        # the PnL band of a basket, watched by the engine (`_watch`)
        self._stop = -cfg.stop_loss * cfg.gross_notional
        self._take = cfg.take_profit * cfg.gross_notional

    def _watch(self, basket: _Basket) -> None:
        """Have the engine check the basket's PnL against the stop and take-profit every
        `check_seconds` (`on_watch` hears of a breach); a restored basket brings what it
        holds, a new one nothing."""
        qty, cost = basket.qty, basket.cost
        held = {s: (q, cost.get(s, 0.0)) for s, q in qty.items()} if qty else None
        self.ctx.watch(
            basket.news_id, low=self._stop, high=self._take, every_s=self._check_s, held=held
        )  # fmt: skip

    def weights(self, shock: Shock) -> dict[str, float]:
        """Target notional per symbol for a shock (empty when nothing clears the threshold)."""
        market = self.ctx.market
        price, threshold = market.price, self._threshold
        legs = [
            leg for leg in shock.legs
            if (leg.score >= threshold or leg.score <= -threshold) and price(leg.symbol) > 0.0
        ]  # fmt: skip
        if not legs:
            return {}
        legs = legs[: self._max_legs]
        daily_vol, min_vol = market.daily_vol, self._min_vol
        raw = {}
        for leg in legs:  # leg.score / max(vol, min_vol), with max's choice on a tie or a NaN
            vol = daily_vol(leg.symbol)
            raw[leg.symbol] = leg.score / (min_vol if min_vol > vol else vol)
        # betas only where a hedge uses them: a lone leg hedged with the legs (most shocks)
        # or hedge="none" never asks the market for one
        hedge, cfg = self._hedge, self.config
        if hedge == "legs" and len(raw) > 1:
            betas, exposure = self.exposure(raw)
            b2 = sum(b * b for b in betas.values())
            if b2 > 0.0:  # legs with no beta at all carry no market exposure to hedge
                raw = {s: w - betas[s] * exposure / b2 for s, w in raw.items()}
        elif hedge == "index" and market.price(cfg.hedge_symbol) > 0.0:
            _, exposure = self.exposure(raw)
            raw[cfg.hedge_symbol] = raw.get(cfg.hedge_symbol, 0.0) - exposure
        gross = sum(map(abs, raw.values()))
        if gross <= 0.0:
            return {}
        notional = self._gross
        return {s: w * notional / gross for s, w in raw.items()}

    def exposure(self, raw: dict[str, float]) -> tuple[dict[str, float], float]:
        """Each leg's beta and the net beta exposure of weights `raw` (symbol -> weight)."""
        market = self.ctx.market
        beta_of = market.beta
        if self.config.beta == "sector":  # beta to the sector peers, where the market has it
            beta_of = getattr(market, "sector_beta", market.beta)
        betas = {s: beta_of(s) for s in raw}
        return betas, sum(w * betas[s] for s, w in raw.items())

    def on_shock(self, shock: Shock) -> None:
        if shock.news_id in self.baskets:
            self._forget(self.ctx.clock.now_ns())  # a repeat: its basket may be due to go
            if shock.news_id in self.baskets:
                return  # a headline is traded once (while its basket is remembered)
        targets = self.weights(shock)
        if not targets:
            return
        ctx, news_id = self.ctx, shock.news_id
        price, submit, orders = ctx.market.price, ctx.submit, self._orders
        now = ctx.clock.now_ns()
        basket = _Basket(news_id, opened_ns=now)
        self._watch(basket)
        sent = basket.orders
        for symbol, notional in targets.items():
            qty = float(math.floor(abs(notional) / price(symbol))) * math.copysign(1, notional)
            if qty == 0.0:
                continue
            reason = f"score → {notional:+,.0f}"
            intent = submit(news_id, symbol, qty, "entry", reason=reason, watch=news_id)
            orders[intent.client_order_id] = (news_id, "entry")
            sent.append(intent.client_order_id)
        self.baskets[news_id] = basket
        self._open[news_id] = basket
        # due a holding time after the basket opened, as `on_load` restores it
        ctx.set_timer(f"exit:{news_id}", now + self._hold_ns)

    def on_fill(self, fill: Fill) -> None:
        news_id, leg = self._orders.get(fill.client_order_id, ("", ""))
        basket = self.baskets.get(news_id)
        if basket is None:
            return
        basket.qty[fill.symbol] = basket.qty.get(fill.symbol, 0.0) + fill.qty
        basket.cost[fill.symbol] = basket.cost.get(fill.symbol, 0.0) + fill.qty * fill.price
        if leg == "entry" and basket.closing:  # filled after the basket was closed: undo it
            intent = self.ctx.submit(news_id, fill.symbol, -fill.qty, f"exit-late-{fill.symbol}")
            self._orders[intent.client_order_id] = (news_id, "exit")
            basket.orders.append(intent.client_order_id)

    def basket_pnl(self, basket: _Basket) -> float:
        """Mark-to-market PnL of a basket's filled legs."""
        price, cost = self.ctx.market.price, basket.cost.get
        return sum([q * price(s) - cost(s, 0.0) for s, q in basket.qty.items()])

    def on_timer(self, name: str, ts_ns: int) -> None:
        if name.startswith("exit:"):
            self._close(name.removeprefix("exit:"), "time", ts_ns)

    def on_watch(self, key: str, pnl: float, ts_ns: int) -> None:
        """A basket's PnL reached the stop or the take-profit at a check."""
        self._close(key, "stop" if pnl <= self._stop else "take", ts_ns)

    def on_save(self) -> dict[str, Any]:
        """Open baskets (and closing ones still holding shares) with their order ids."""
        live = {nid: b for nid, b in self.baskets.items() if not b.closing or _holds(b)}
        return {
            "version": 1,
            "baskets": [
                {
                    "news_id": b.news_id,
                    "opened_ns": b.opened_ns,
                    "closing": b.closing,
                    "closed_ns": b.closed_ns,
                    "qty": b.qty,
                    "cost": b.cost,
                }
                for b in live.values()
            ],
            "orders": {cid: [nid, leg] for cid, (nid, leg) in self._orders.items() if nid in live},
        }

    def on_load(self, state: dict[str, Any]) -> None:
        """Restore baskets; open ones get their exit timer back (at once if already due)."""
        now = self.ctx.clock.now_ns()
        reopened, closed = [], []
        for raw in state.get("baskets", []):
            basket = _Basket(
                raw["news_id"], dict(raw["qty"]), dict(raw["cost"]), bool(raw["closing"]),
                int(raw["opened_ns"]), int(raw.get("closed_ns", now)),
            )  # fmt: skip
            self.baskets[basket.news_id] = basket
            if basket.closing:
                closed.append((basket.closed_ns, basket.news_id))
            else:
                self._open[basket.news_id] = basket
                due = basket.opened_ns + self._hold_ns
                self.ctx.set_timer(f"exit:{basket.news_id}", max(now, due))
                reopened.append(basket)
        for cid, (nid, leg) in state.get("orders", {}).items():
            self._orders[cid] = (nid, leg)
            if nid in self.baskets:
                self.baskets[nid].orders.append(cid)
        self._closed.extend(sorted(closed))
        if self._closed:
            self._next_forget_ns = self._closed[0][0] + self._look_after_ns
        for basket in reopened:  # after the exit timers, as their checks always came
            self._watch(basket)
        for cid, (nid, _) in self._orders.items():
            if nid in self._open:
                self.ctx.attach(cid, nid)

    def _close(self, news_id: str, why: str, now: int) -> None:
        basket = self.baskets.get(news_id)
        if basket is None or basket.closing:
            return
        basket.closing, basket.closed_ns = True, now
        self._open.pop(news_id, None)
        self.ctx.unwatch(news_id)
        submit, leg, orders, sent = self.ctx.submit, f"exit-{why}", self._orders, basket.orders
        for symbol, qty in basket.qty.items():
            if qty:
                cid = submit(news_id, symbol, -qty, leg, reason=why).client_order_id
                orders[cid] = (news_id, "exit")
                sent.append(cid)
        if now >= self._next_forget_ns:
            self._forget(now)
        if not self._closed:
            self._next_forget_ns = now + self._look_after_ns
        self._closed.append((now, news_id))

    def _forget(self, now: int) -> None:
        """Drop the baskets closed `forget_seconds` ago or earlier that hold nothing, with
        their order ids (a late fill of one is no longer booked to it); one still holding
        shares (an exit that did not fill) is looked at again a period later."""
        closed, baskets, orders = self._closed, self.baskets, self._orders
        horizon = now - self._forget_ns
        for _ in range(len(closed)):  # each at most once: one put back is not looked at again
            if closed[0][0] > horizon:
                break
            _, news_id = closed.popleft()
            basket = baskets.get(news_id)
            if basket is None:
                continue
            if _holds(basket):
                closed.append((now, news_id))  # to the back of the line
                continue
            del baskets[news_id]
            for cid in basket.orders:
                orders.pop(cid, None)
        self._next_forget_ns = closed[0][0] + self._look_after_ns if closed else _NEVER


def _holds(basket: _Basket) -> bool:
    """Whether the basket still holds shares of any symbol."""
    for q in basket.qty.values():  # noqa: SIM110 (a loop: a third of the cost of any())
        if q > 1e-9 or q < -1e-9:
            return True
    return False
