"""A local stand-in for Alpaca's trading REST API, for tests (no network).

Speaks enough of it for alpaca-py's `TradingClient` built with `url_override=stand_in.url`:
`GET /v2/account`, `POST/GET/DELETE /v2/orders`, `GET/DELETE /v2/orders/{id}`,
`GET /v2/orders:by_client_order_id`, `GET/DELETE /v2/positions`, `DELETE /v2/positions/{symbol}`.

What it enforces and records, as the real one does or as tests need:

- auth headers (`APCA-API-KEY-ID`, `APCA-API-SECRET-KEY`; 401 otherwise);
- unique client order ids: a second POST with a known id gets 422
  `{"code":40010001,"message":"client_order_id must be unique"}`;
- `submissions[cid]`: every POST naming that client order id, accepted or not;
- buying power: an order worth more than `buying_power` gets 403 "insufficient buying power";
- fills by `FillPolicy`: `immediate` (at the symbol's price, right after the POST answers),
  `after_polls` (once the order has been read N times) or `partial` (half on the first read,
  the rest on the second, 1 % dearer); positions follow the fills;
- faults on demand: `fail_next(n, status)` answers the next n requests (optionally only those to
  one path) with that status; `land_then_504()` creates the next order but answers 504;
  `delay_s` holds every answer back.

In-process, as a context manager (its own loop in a thread)::

    with AlpacaTradingStandIn() as server:
        TradingClient("test-key", "test-secret", url_override=server.url)

Or as a process, for tests that kill and restart a daemon around it::

    python -m tests.stand_in.alpaca_trading_server --port 8123 [--mode immediate --price 100]

It prints `listening on http://127.0.0.1:PORT` once bound. The unauthenticated control API under
`/_stand_in/` — `GET state` (orders, positions, submissions), `GET submissions`, `POST fault`
`{"count","status","path"}`, `POST land_then_504`, `POST config` `{"mode","polls","prices",
"delay_s","buying_power"}`, `POST reset` — is wrapped by `StandInControl(url)`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import signal
import threading
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from tests.stand_in.background import BackgroundServer

JSON = dict[str, Any]
FillMode = Literal["immediate", "after_polls", "partial", "never"]
OPEN = frozenset({"new", "accepted", "pending_new", "partially_filled"})


@dataclass(slots=True)
class FillPolicy:
    """How orders fill: `mode`, after how many reads (`after_polls`), at what price."""

    mode: FillMode = "immediate"
    polls: int = 2
    prices: dict[str, float] = field(default_factory=dict)
    default_price: float = 100.0

    def price(self, symbol: str) -> float:
        return self.prices.get(symbol, self.default_price)


@dataclass(slots=True)
class _Fault:
    count: int
    status: int
    path: str | None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


def _num(x: float) -> str:
    return f"{x:.9f}".rstrip("0").rstrip(".") or "0"


class AlpacaTradingStandIn(BackgroundServer):
    """The stand-in server on 127.0.0.1 (`port=0`: a free port), in a thread with its own loop."""

    thread_name = "alpaca-trading-stand-in"

    def __init__(
        self,
        api_key: str = "test-key",
        secret_key: str = "test-secret",
        *,
        port: int = 0,
        policy: FillPolicy | None = None,
        buying_power: float = 1e9,
        positions: dict[str, tuple[float, float]] | None = None,
    ) -> None:
        self.api_key = api_key
        self.secret_key = secret_key
        self.policy = policy or FillPolicy()
        self.buying_power = buying_power
        self.delay_s = 0.0
        self.orders: dict[str, JSON] = {}  # id → order JSON
        self.by_cid: dict[str, str] = {}  # client order id → id
        self.submissions: Counter[str] = Counter()
        self.positions: dict[str, tuple[float, float]] = dict(positions or {})  # sym → qty, avg
        self.requests: list[tuple[str, str, int]] = []  # method, path, status
        self._polls: Counter[str] = Counter()
        self._faults: list[_Fault] = []
        self._land_then_504 = 0
        self._lock = threading.RLock()
        super().__init__(port)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL to pass to alpaca-py as `url_override`."""
        return f"http://127.0.0.1:{self.port}"

    def make_app(self) -> web.Application:
        """The trading API's routes and the `/_stand_in/` controls."""
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get("/v2/account", self._account)
        r.add_post("/v2/orders", self._submit)
        r.add_get("/v2/orders", self._list_orders)
        r.add_delete("/v2/orders", self._cancel_all)
        r.add_get("/v2/orders:by_client_order_id", self._by_client_id)
        r.add_get("/v2/orders/{id}", self._get_order)
        r.add_delete("/v2/orders/{id}", self._cancel_order)
        r.add_get("/v2/positions", self._list_positions)
        r.add_delete("/v2/positions", self._close_all)
        r.add_delete("/v2/positions/{symbol}", self._close_one)
        r.add_get("/_stand_in/state", self._ctl_state)
        r.add_get("/_stand_in/submissions", self._ctl_submissions)
        r.add_post("/_stand_in/fault", self._ctl_fault)
        r.add_post("/_stand_in/land_then_504", self._ctl_land)
        r.add_post("/_stand_in/config", self._ctl_config)
        r.add_post("/_stand_in/reset", self._ctl_reset)
        return app

    # -- test controls -------------------------------------------------------------------------

    def fail_next(self, count: int, status: int, path: str | None = None) -> None:
        """Answer the next `count` API requests (to `path` only, if given) with `status`."""
        with self._lock:
            self._faults.append(_Fault(count, status, path))

    def land_then_504(self, count: int = 1) -> None:
        """Create the next `count` orders as usual but answer their POSTs with 504."""
        with self._lock:
            self._land_then_504 += count

    def order(self, client_order_id: str) -> JSON | None:
        """The order with this client order id, as the API would show it."""
        with self._lock:
            oid = self.by_cid.get(client_order_id)
            return dict(self.orders[oid]) if oid else None

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """Requests answered so far, optionally only those with this method / path."""
        with self._lock:
            return sum(
                1
                for m, p, _ in self.requests
                if (method is None or m == method) and (path is None or p == path)
            )

    def reset(self) -> None:
        """Forget orders, positions, submissions, faults and recorded requests."""
        with self._lock:
            self.orders.clear()
            self.by_cid.clear()
            self.submissions.clear()
            self.positions.clear()
            self.requests.clear()
            self._polls.clear()
            self._faults.clear()
            self._land_then_504 = 0

    def state(self) -> JSON:
        """Everything a test may want to check, as plain JSON."""
        with self._lock:
            return {
                "orders": list(self.orders.values()),
                "positions": {s: {"qty": q, "avg": a} for s, (q, a) in self.positions.items()},
                "submissions": dict(self.submissions),
            }

    # -- plumbing ------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if request.path.startswith("/_stand_in/"):
            response: web.StreamResponse = await handler(request)
            return response
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if (
            request.headers.get("APCA-API-KEY-ID") != self.api_key
            or request.headers.get("APCA-API-SECRET-KEY") != self.secret_key
        ):
            response = _error(401, 40110000, "request is not authorized")
        else:
            fault = self._take_fault(request.path)
            if fault is not None:
                if request.method == "POST" and request.path == "/v2/orders":
                    await self._count_submission(request)
                response = _error(fault, 50000000 + fault, f"stand-in fault {fault}")
            else:
                try:
                    response = await handler(request)
                except web.HTTPException as exc:
                    response = exc
        with self._lock:
            self.requests.append((request.method, request.path, response.status))
        return response

    def _take_fault(self, path: str) -> int | None:
        with self._lock:
            for fault in self._faults:
                if fault.path is None or fault.path == path:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault.status
        return None

    async def _count_submission(self, request: web.Request) -> JSON:
        try:
            body = await request.json()
        except ValueError:
            body = {}
        cid = str(body.get("client_order_id") or "")
        with self._lock:
            self.submissions[cid] += 1
        return dict(body)

    def _new_order(self, symbol: str, qty: float, side: str, tif: str, cid: str) -> JSON:
        now = _now()
        order: JSON = {
            "id": str(uuid.uuid4()),
            "client_order_id": cid,
            "created_at": now,
            "updated_at": now,
            "submitted_at": now,
            "filled_at": None,
            "expired_at": None,
            "canceled_at": None,
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)),
            "symbol": symbol,
            "asset_class": "us_equity",
            "notional": None,
            "qty": _num(qty),
            "filled_qty": "0",
            "filled_avg_price": None,
            "order_class": "simple",
            "order_type": "market",
            "type": "market",
            "side": side,
            "time_in_force": tif,
            "limit_price": None,
            "stop_price": None,
            "status": "accepted",
            "extended_hours": False,
            "legs": None,
        }
        self.orders[order["id"]] = order
        self.by_cid[cid] = order["id"]
        return order

    def _fill(self, order: JSON, qty: float, price: float) -> None:
        """Fill `qty` more shares of `order` at `price`; update the position."""
        done = float(order["filled_qty"])
        avg = float(order["filled_avg_price"] or 0.0)
        total = done + qty
        order["filled_qty"] = _num(total)
        order["filled_avg_price"] = _num(round((done * avg + qty * price) / total, 6))
        order["status"] = "filled" if total >= float(order["qty"]) - 1e-9 else "partially_filled"
        order["updated_at"] = _now()
        if order["status"] == "filled":
            order["filled_at"] = order["updated_at"]
        signed = qty if order["side"] == "buy" else -qty
        held, entry = self.positions.get(order["symbol"], (0.0, 0.0))
        new = held + signed
        if abs(new) < 1e-9:
            self.positions.pop(order["symbol"], None)
        elif held == 0 or (held > 0) != (new > 0):
            self.positions[order["symbol"]] = (new, price)
        elif abs(new) > abs(held):
            self.positions[order["symbol"]] = (new, (held * entry + signed * price) / new)
        else:
            self.positions[order["symbol"]] = (new, entry)

    def _advance(self, order: JSON) -> None:
        """One read of an open order: fill it if the policy says so now."""
        if order["status"] not in OPEN:
            return
        self._polls[order["id"]] += 1
        polls, policy = self._polls[order["id"]], self.policy
        price = policy.price(order["symbol"])
        remaining = float(order["qty"]) - float(order["filled_qty"])
        if policy.mode == "after_polls" and polls >= policy.polls:
            self._fill(order, remaining, price)
        elif policy.mode == "partial":
            if polls == 1:
                self._fill(order, float(order["qty"]) / 2, price)
            elif polls >= 2:
                self._fill(order, remaining, round(price * 1.01, 4))

    # -- API endpoints ---------------------------------------------------------------------------

    async def _account(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "id": "11111111-2222-3333-4444-555555555555",
                "account_number": "PA0000STANDIN",
                "status": "ACTIVE",
                "currency": "USD",
                "buying_power": _num(self.buying_power),
                "cash": _num(self.buying_power),
                "equity": _num(self.buying_power),
                "portfolio_value": _num(self.buying_power),
                "trading_blocked": False,
                "account_blocked": False,
                "shorting_enabled": True,
            }
        )

    async def _submit(self, request: web.Request) -> web.Response:
        body = await self._count_submission(request)
        cid = str(body.get("client_order_id") or uuid.uuid4())
        symbol = str(body.get("symbol") or "")
        side = body.get("side")
        try:
            qty = float(body.get("qty"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return _error(422, 40010001, "qty is required")
        if not symbol or side not in ("buy", "sell") or qty <= 0:
            return _error(422, 40010001, "invalid order request")
        with self._lock:
            if cid in self.by_cid:
                return _error(422, 40010001, "client_order_id must be unique")
            price = self.policy.price(symbol)
            if side == "buy" and qty * price > self.buying_power:
                return _error(403, 40310000, "insufficient buying power")
            order = self._new_order(symbol, qty, side, str(body.get("time_in_force")), cid)
            answer = dict(order)
            if self.policy.mode == "immediate":
                self._fill(order, qty, price)
            land_then_504 = self._land_then_504 > 0
            if land_then_504:
                self._land_then_504 -= 1
        if land_then_504:
            return _error(504, 50400000, "gateway timeout")
        return web.json_response(answer)

    async def _list_orders(self, request: web.Request) -> web.Response:
        status = request.query.get("status", "open")
        limit = int(request.query.get("limit", "50"))
        symbols = {s for s in request.query.get("symbols", "").split(",") if s}
        with self._lock:
            out = []
            for order in sorted(self.orders.values(), key=lambda o: o["created_at"], reverse=True):
                if symbols and order["symbol"] not in symbols:
                    continue
                self._advance(order)
                is_open = order["status"] in OPEN
                if status == "all" or (status == "open") == is_open:
                    out.append(dict(order))
            return web.json_response(out[:limit])

    def _found(self, oid: str | None) -> web.Response:
        with self._lock:
            order = self.orders.get(oid or "")
            if order is None:
                return _error(404, 40410000, "order not found")
            self._advance(order)
            return web.json_response(dict(order))

    async def _get_order(self, request: web.Request) -> web.Response:
        return self._found(request.match_info["id"])

    async def _by_client_id(self, request: web.Request) -> web.Response:
        with self._lock:
            oid = self.by_cid.get(request.query.get("client_order_id", ""))
        return self._found(oid)

    def _cancel(self, order: JSON) -> bool:
        if order["status"] not in OPEN:
            return False
        order["status"] = "canceled"
        order["canceled_at"] = order["updated_at"] = _now()
        return True

    async def _cancel_order(self, request: web.Request) -> web.Response:
        with self._lock:
            order = self.orders.get(request.match_info["id"])
            if order is None:
                return _error(404, 40410000, "order not found")
            if not self._cancel(order):
                return _error(422, 42210000, f"order is {order['status']}, not cancelable")
        return web.Response(status=204)

    async def _cancel_all(self, request: web.Request) -> web.Response:
        with self._lock:
            done = [o["id"] for o in self.orders.values() if self._cancel(o)]
        return web.json_response([{"id": i, "status": 200} for i in done], status=207)

    def _position_json(self, symbol: str, qty: float, avg: float) -> JSON:
        return {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)),
            "symbol": symbol,
            "exchange": "NASDAQ",
            "asset_class": "us_equity",
            "avg_entry_price": _num(avg),
            "qty": _num(qty),
            "side": "long" if qty > 0 else "short",
            "cost_basis": _num(abs(qty) * avg),
            "market_value": _num(qty * self.policy.price(symbol)),
        }

    async def _list_positions(self, request: web.Request) -> web.Response:
        with self._lock:
            return web.json_response(
                [self._position_json(s, q, a) for s, (q, a) in sorted(self.positions.items())]
            )

    def _close(self, symbol: str) -> JSON | None:
        held = self.positions.get(symbol)
        if held is None:
            return None
        qty = held[0]
        order = self._new_order(
            symbol, abs(qty), "sell" if qty > 0 else "buy", "day", str(uuid.uuid4())
        )
        answer = dict(order)
        self._fill(order, abs(qty), self.policy.price(symbol))
        return answer

    async def _close_one(self, request: web.Request) -> web.Response:
        with self._lock:
            order = self._close(request.match_info["symbol"])
        if order is None:
            return _error(404, 40410000, "position does not exist")
        return web.json_response(order)

    async def _close_all(self, request: web.Request) -> web.Response:
        with self._lock:
            if request.query.get("cancel_orders", "").lower() == "true":
                for o in self.orders.values():
                    self._cancel(o)
            out = []
            for symbol in sorted(self.positions):
                order = self._close(symbol)
                out.append({"symbol": symbol, "status": 200, "body": order})
        return web.json_response(out, status=207)

    # -- control endpoints -----------------------------------------------------------------------

    async def _ctl_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def _ctl_submissions(self, request: web.Request) -> web.Response:
        with self._lock:
            return web.json_response(dict(self.submissions))

    async def _ctl_fault(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.fail_next(int(body.get("count", 1)), int(body["status"]), body.get("path"))
        return web.json_response({"ok": True})

    async def _ctl_land(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        self.land_then_504(int(body.get("count", 1)))
        return web.json_response({"ok": True})

    async def _ctl_config(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            if "mode" in body:
                self.policy.mode = body["mode"]
            if "polls" in body:
                self.policy.polls = int(body["polls"])
            if "prices" in body:
                self.policy.prices.update({k: float(v) for k, v in body["prices"].items()})
            if "delay_s" in body:
                self.delay_s = float(body["delay_s"])
            if "buying_power" in body:
                self.buying_power = float(body["buying_power"])
        return web.json_response({"ok": True})

    async def _ctl_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})


class StandInControl:
    """The control API of a stand-in running as a separate process (blocking calls)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _call(self, path: str, body: JSON | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/_stand_in/{path}",
            data=data,
            method="POST" if data is not None else "GET",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def submissions(self) -> dict[str, int]:
        """POSTs per client order id so far."""
        return dict(self._call("submissions"))

    def state(self) -> JSON:
        """Orders, positions and submissions."""
        return dict(self._call("state"))

    def fail_next(self, count: int, status: int, path: str | None = None) -> None:
        """See `AlpacaTradingStandIn.fail_next`."""
        self._call("fault", {"count": count, "status": status, "path": path})

    def land_then_504(self, count: int = 1) -> None:
        """See `AlpacaTradingStandIn.land_then_504`."""
        self._call("land_then_504", {"count": count})

    def configure(self, **changes: Any) -> None:
        """Change `mode`, `polls`, `prices`, `delay_s` or `buying_power`."""
        self._call("config", changes)

    def reset(self) -> None:
        """Forget everything."""
        self._call("reset", {})


def main(argv: list[str] | None = None) -> None:
    """Run the stand-in as a process until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", default="test-key")
    parser.add_argument("--secret", default="test-secret")
    parser.add_argument(
        "--mode", default="immediate", choices=["immediate", "after_polls", "partial", "never"]
    )
    parser.add_argument("--polls", type=int, default=2)
    parser.add_argument("--price", type=float, default=100.0)
    args = parser.parse_args(argv)
    policy = FillPolicy(mode=args.mode, polls=args.polls, default_price=args.price)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with AlpacaTradingStandIn(args.key, args.secret, port=args.port, policy=policy) as server:
        print(f"listening on {server.url}", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
