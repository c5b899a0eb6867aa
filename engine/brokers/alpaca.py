"""Alpaca paper trading as a `LiveBroker`, through alpaca-py's `TradingClient`.

`submit` reports `submitted` at once and sends a market order in the background (calls run in
worker threads: see `engine.brokers.alpaca_calls`). Alpaca enforces unique client order ids, so
a retried POST can never place a second order; a 422 "client_order_id must be unique" (after a
504 that landed, or after a restart) is resolved by looking the order up by its client order id
and following it. Open orders are polled every `poll_interval_s` — one list of open orders per
poll, plus one read of each order that has left the list — and their changes are reported:
fills as increments (`Fill.qty` newly filled, signed; price such that the running average
equals Alpaca's `filled_avg_price`), then the new state.

States reported: submitted → accepted → (partially_filled →) filled, or canceled / rejected /
expired. Alpaca's other states map onto these (`pending_new`, `new`, `held`, ... → accepted,
`replaced` → canceled); the reason then names Alpaca's own state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order, Position, TradeAccount
from alpaca.trading.requests import GetOrdersRequest, MarketOrderRequest

from engine.alpaca import KEYS_HINT, AlpacaError, AlpacaKeysError, resolve_keys
from engine.brokers.alpaca_calls import AlpacaCalls, CallError
from engine.brokers.base import TERMINAL_STATES, BrokerSnapshot, OrderEvents
from engine.clock import Clock
from engine.feeds.base import TradeBatch
from engine.news import parse_time_ns
from engine.orders import Fill, OrderIntent
from engine.settings import AlpacaSettings

log = logging.getLogger(__name__)

Phase = Literal["sending", "following", "unresolved"]
_STATES = {
    "filled": "filled",
    "partially_filled": "partially_filled",
    "canceled": "canceled",
    "expired": "expired",
    "rejected": "rejected",
    "replaced": "canceled",
}
_EPS = 1e-9
OPEN_LIMIT = 500  # Alpaca's largest page of orders


def map_status(raw: str, filled_qty: float) -> tuple[str, str]:
    """Our state for Alpaca's `raw` state, and a note naming Alpaca's when they differ."""
    state = _STATES.get(raw) or ("partially_filled" if filled_qty > _EPS else "accepted")
    return state, "" if state == raw else f"alpaca: {raw}"


@dataclass(slots=True)
class _Order:
    """An order we send or follow, and how much of it we have reported filled."""

    cid: str
    strategy_id: str
    symbol: str
    sign: int  # +1 buy, -1 sell
    qty: float  # unsigned
    status: str = "new"
    broker_id: str | None = None
    filled: float = 0.0  # unsigned, reported so far
    notional: float = 0.0  # filled × average price, reported so far
    phase: Phase = "sending"


def _value(x: Any) -> str:
    """An alpaca-py enum or plain value as text."""
    return str(getattr(x, "value", x))


def _float(x: Any) -> float:
    return float(x) if x not in (None, "") else 0.0


def _order_row(o: Order) -> dict[str, Any]:
    """An open order as `BrokerSnapshot.open_orders` lists it."""
    filled = _float(o.filled_qty)
    sign = -1.0 if _value(o.side) == "sell" else 1.0
    return {
        "client_order_id": o.client_order_id,
        "broker_id": str(o.id),
        "symbol": o.symbol,
        "qty": sign * _float(o.qty),
        "filled_qty": sign * filled,
        "filled_avg_price": _float(o.filled_avg_price),
        "status": map_status(_value(o.status), filled)[0],
        "alpaca_status": _value(o.status),
    }


def _read_order(broker_id: str) -> Callable[[TradingClient], Any]:
    return lambda client: client.get_order_by_id(broker_id)


def _position_qty(p: Position) -> float:
    qty = float(p.qty)
    return -abs(qty) if _value(p.side) == "short" else qty


class AlpacaBroker:
    """Alpaca (paper) trading behind the `LiveBroker` interface; an async context manager."""

    name = "alpaca"
    durable_orders = True  # journaled and committed before each order leaves the process

    def __init__(
        self, settings: AlpacaSettings, clock: Clock, *, shutdown_grace_s: float = 3.0
    ) -> None:
        keys = resolve_keys(settings)
        if not settings.paper:
            log.warning("Alpaca LIVE trading (paper = false): orders use real money")
        self.settings = settings
        self.clock = clock
        self.shutdown_grace_s = shutdown_grace_s
        self._calls = AlpacaCalls(
            keys,
            paper=settings.paper,
            url=settings.trading_url,
            max_retries=settings.max_retries,
            backoff_s=settings.retry_backoff_s,
        )
        self._tif = TimeInForce(settings.time_in_force)
        self._events: OrderEvents | None = None
        self._orders: dict[str, _Order] = {}  # client order id → order not yet terminal
        self._tasks: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._closing = False

    def __repr__(self) -> str:
        return f"AlpacaBroker(url={self.settings.trading_url!r}, paper={self.settings.paper})"

    async def __aenter__(self) -> AlpacaBroker:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def open_count(self) -> int:
        """Orders sent or followed and not yet in a final state."""
        return len(self._orders)

    @property
    def retries(self) -> int:
        """Calls retried so far (429, 5xx, network)."""
        return self._calls.retries

    # -- LiveBroker ----------------------------------------------------------------------------

    async def start(self, events: OrderEvents) -> BrokerSnapshot:
        """Check the account and keys; return positions and open orders; start polling."""
        if self._poller is not None or self._closing:
            raise AlpacaError("AlpacaBroker.start() called twice or after aclose()")
        self._events = events
        try:
            account = await self._calls.call("read the account", lambda c: c.get_account())
        except CallError as exc:
            if exc.status in (401, 403):
                raise AlpacaKeysError(
                    f"Alpaca refused the API keys (HTTP {exc.status}: {exc.message}): {KEYS_HINT}"
                ) from None
            where = self.settings.trading_url or "Alpaca's trading API"
            raise AlpacaError(f"cannot use {where}: {exc}") from None
        assert isinstance(account, TradeAccount)
        if _value(getattr(account, "status", "ACTIVE")) != "ACTIVE" or getattr(
            account, "trading_blocked", False
        ):
            log.warning(
                "Alpaca account %s is %s (trading blocked: %s)",
                account.account_number,
                _value(account.status),
                account.trading_blocked,
            )
        positions = await self._calls.call("read positions", lambda c: c.get_all_positions())
        open_orders = await self._calls.call("read open orders", self._list_open)
        assert isinstance(positions, list) and isinstance(open_orders, list)
        snapshot = BrokerSnapshot(
            positions={p.symbol: _position_qty(p) for p in positions},
            open_orders=[_order_row(o) for o in open_orders],
        )
        self._wake = asyncio.Event()
        self._poller = asyncio.create_task(self._poll_forever(), name="alpaca-order-poller")
        log.info(
            "Alpaca account %s: %d positions, %d open orders",
            account.account_number,
            len(snapshot.positions),
            len(snapshot.open_orders),
        )
        return snapshot

    def submit(self, intent: OrderIntent, position: float = 0.0) -> bool:
        """Report `submitted` and send a market order in the background; False if refused."""
        events = self._events
        cid = intent.client_order_id
        if events is None or self._closing:
            log.error("order %s refused: the Alpaca broker is not running", cid)
            return False
        if cid in self._orders:
            log.info("order %s is already being sent or followed; not sent again", cid)
            return True
        if not math.isfinite(intent.qty) or abs(intent.qty) < _EPS:
            events.order_status(cid, "rejected", reason=f"invalid quantity {intent.qty}")
            return False
        order = _Order(
            cid, intent.strategy_id, intent.symbol, 1 if intent.qty > 0 else -1, abs(intent.qty)
        )
        self._orders[cid] = order
        self._set_status(order, "submitted")
        self._spawn(self._send(order), f"alpaca-submit-{cid}")
        return True

    async def resume(self, orders: list[dict[str, Any]]) -> None:
        """Follow journaled open orders; send those Alpaca has never seen and we never sent.

        A row may carry `filled_qty` and `filled_avg_price` (what the journal has booked) so
        that only fills beyond them are reported; without them fills count from zero.
        """
        if self._events is None:
            raise AlpacaError("resume() before start()")
        results = await asyncio.gather(
            *(self._resume_one(row) for row in orders), return_exceptions=True
        )
        for row, result in zip(orders, results, strict=True):
            if isinstance(result, Exception):
                cid = row.get("client_order_id")
                log.error("order %s: cannot resume it", cid, exc_info=result)
                stuck = self._orders.get(str(cid))
                if stuck is not None and stuck.phase == "sending":
                    stuck.phase = "unresolved"  # the poller looks it up again

    def on_trades(self, batch: TradeBatch) -> None:
        """Alpaca fills orders itself; market trades are not needed."""

    async def cancel_all(self) -> int:
        """Cancel every open order at Alpaca; return how many it accepted to cancel."""
        answers = await self._calls.call("cancel all orders", lambda c: c.cancel_orders())
        self._poll_now()
        count = len(answers) if isinstance(answers, list) else 0
        log.info("Alpaca: %d open orders canceled", count)
        return count

    async def flatten(self) -> None:
        """Cancel open orders and close every position at market (Alpaca's own orders).

        The closing orders are Alpaca's, not ours: they are not reported as fills; read
        positions again (`start` or the Alpaca dashboard) to reconcile.
        """
        answers = await self._calls.call(
            "close all positions", lambda c: c.close_all_positions(cancel_orders=True)
        )
        self._poll_now()
        log.warning(
            "Alpaca: closing %d positions", len(answers) if isinstance(answers, list) else 0
        )

    async def aclose(self) -> None:
        """Let in-flight sends finish (up to `shutdown_grace_s`), stop polling, stop threads."""
        self._closing = True
        if self._poller is not None:
            self._poll_now()
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=self.shutdown_grace_s)
            for task in late:
                task.cancel()
            if late:
                log.warning("Alpaca: %d calls still in flight at shutdown were cut", len(late))
                await asyncio.gather(*late, return_exceptions=True)
        self._calls.close()

    # -- sending -------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    async def _send(self, order: _Order) -> None:
        try:
            request = MarketOrderRequest(
                symbol=order.symbol,
                qty=order.qty,
                side=OrderSide.BUY if order.sign > 0 else OrderSide.SELL,
                time_in_force=self._tif,
                client_order_id=order.cid,
            )
        except ValueError as exc:
            self._finish(order, "rejected", f"invalid order: {exc}")
            return
        try:
            placed = await self._calls.call(
                f"submit order {order.cid}", lambda c: c.submit_order(request)
            )
        except CallError as exc:
            if exc.duplicate:
                log.info("order %s: Alpaca already has it; following that order", order.cid)
                await self._adopt(order, "Alpaca said the order exists but cannot find it")
            elif not exc.retryable:
                self._finish(order, "rejected", exc.message)
            else:  # a 504 or a timeout may have placed it: ask before deciding
                log.warning("order %s: %s; checking whether Alpaca has it", order.cid, exc)
                await self._adopt(order, f"not placed: {exc.message}")
            return
        except Exception:  # e.g. an answer alpaca-py cannot parse: the order may exist
            log.exception("order %s: unexpected failure; asking Alpaca again later", order.cid)
            order.phase = "unresolved"
            return
        assert isinstance(placed, Order)
        self._apply(order, placed)

    async def _adopt(self, order: _Order, missing_reason: str) -> None:
        """Look `order` up by client order id: follow it if found, else reject it."""
        try:
            found = await self._calls.call(
                f"look up order {order.cid}", lambda c: c.get_order_by_client_id(order.cid)
            )
        except CallError as exc:
            if exc.status == 404:
                self._finish(order, "rejected", missing_reason)
            else:
                order.phase = "unresolved"  # the poller asks again
                log.warning("order %s: state unknown (%s); asking again later", order.cid, exc)
            return
        assert isinstance(found, Order)
        self._apply(order, found)

    async def _resume_one(self, row: dict[str, Any]) -> None:
        cid = str(row["client_order_id"])
        if cid in self._orders:
            return
        qty = float(row["qty"])
        filled = abs(float(row.get("filled_qty") or 0.0))
        order = _Order(
            cid,
            str(row["strategy_id"]),
            str(row["symbol"]),
            1 if qty > 0 else -1,
            abs(qty),
            status=str(row["status"]),
            broker_id=row.get("broker_id"),
            filled=filled,
            notional=filled * float(row.get("filled_avg_price") or 0.0),
        )
        self._orders[cid] = order
        try:
            found = await self._calls.call(
                f"look up order {cid}", lambda c: c.get_order_by_client_id(cid)
            )
        except CallError as exc:
            if exc.status != 404:
                order.phase = "unresolved"
                log.warning("order %s: state unknown (%s); asking again later", cid, exc)
            elif order.status in ("new", "submitted"):
                # never acknowledged and Alpaca has never seen it: send it now (a duplicate
                # could not be placed anyway: the client order id is unique)
                log.info("order %s: unknown to Alpaca; sending it now", cid)
                if order.status == "new":
                    self._set_status(order, "submitted")
                await self._send(order)
            else:
                self._finish(order, "rejected", "Alpaca has no order with this client order id")
            return
        assert isinstance(found, Order)
        self._apply(order, found)

    # -- following -----------------------------------------------------------------------------

    def _set_status(self, order: _Order, status: str, reason: str = "") -> None:
        order.status = status
        assert self._events is not None
        self._events.order_status(order.cid, status, order.broker_id, reason)

    def _finish(self, order: _Order, status: str, reason: str) -> None:
        log.info("order %s %s: %s", order.cid, status, reason)
        self._set_status(order, status, reason)
        self._orders.pop(order.cid, None)

    def _apply(self, order: _Order, o: Order) -> None:
        """Report what changed in `o` since we last saw it: new fills, then a new state."""
        assert self._events is not None
        if order.status in TERMINAL_STATES:
            return
        new_id = str(o.id)
        learned_id = order.broker_id != new_id
        order.broker_id = new_id
        order.phase = "following"
        filled, average = _float(o.filled_qty), _float(o.filled_avg_price)
        if filled > order.filled + _EPS and average <= 0:
            return  # filled without a price yet: report both once Alpaca has the price
        if filled > order.filled + _EPS:
            notional = filled * average
            increment = filled - order.filled
            price = (notional - order.notional) / increment
            order.filled, order.notional = filled, notional
            stamp = o.filled_at or o.updated_at
            self._events.fill(
                Fill(
                    client_order_id=order.cid,
                    strategy_id=order.strategy_id,
                    symbol=order.symbol,
                    qty=order.sign * increment,
                    price=price,
                    ts_event=parse_time_ns(stamp) if stamp else self.clock.now_ns(),
                )
            )
        status, note = map_status(_value(o.status), filled)
        if status != order.status or learned_id:
            self._set_status(order, status, note)
        if status in TERMINAL_STATES:
            self._orders.pop(order.cid, None)

    def _poll_now(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _poll_forever(self) -> None:
        assert self._wake is not None
        while not self._closing:
            # not wait_for: on 3.11 it can swallow a cancel that races the event
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.poll_interval_s):
                    await self._wake.wait()
            self._wake.clear()
            if self._closing:
                return
            try:
                await self._poll_once()
            except CallError as exc:
                log.warning("Alpaca: polling orders failed: %s", exc)
            except Exception:
                log.exception("Alpaca: polling orders failed")

    @staticmethod
    def _list_open(client: Any) -> Any:
        return client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=OPEN_LIMIT))

    async def _poll_once(self) -> None:
        following = [o for o in self._orders.values() if o.phase == "following"]
        if following:
            listed = await self._calls.call("read open orders", self._list_open)
            by_cid = {o.client_order_id: o for o in listed}
            for order in following:
                if self._orders.get(order.cid) is not order:
                    continue
                found = by_cid.get(order.cid)
                if found is None:  # it left the open list: read it once more
                    try:
                        found = await self._calls.call(
                            f"read order {order.cid}", _read_order(str(order.broker_id))
                        )
                    except CallError as exc:
                        log.warning("order %s: %s", order.cid, exc)
                        continue
                assert isinstance(found, Order)
                self._apply(order, found)
        for order in [o for o in self._orders.values() if o.phase == "unresolved"]:
            await self._adopt(order, "not placed: Alpaca never received it")
