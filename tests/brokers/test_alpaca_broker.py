"""AlpacaBroker: the real alpaca-py TradingClient against the local trading stand-in."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import MarketOrderRequest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from engine.alpaca import AlpacaKeysError
from engine.brokers.alpaca import AlpacaBroker, _Order
from engine.clock import LiveClock
from engine.orders import Fill, OrderIntent
from engine.settings import AlpacaSettings
from tests.stand_in.alpaca_trading_server import AlpacaTradingStandIn, FillPolicy
from tests.support.waiting import until

SECRET = "s3cr3t-NEVER-LOG-ME"
KEY = "PKTESTKEY"


class Recorder:
    """An `OrderEvents` that keeps everything it is told, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def order_status(
        self, client_order_id: str, status: str, broker_id: str | None = None, reason: str = ""
    ) -> None:
        self.events.append(("status", client_order_id, status, broker_id, reason))

    def fill(self, fill: Fill) -> None:
        self.events.append(("fill", fill.client_order_id, fill))

    def of(self, cid: str) -> list[tuple[Any, ...]]:
        return [e for e in self.events if e[1] == cid]

    def states(self, cid: str) -> list[str]:
        return [e[2] for e in self.of(cid) if e[0] == "status"]

    def fills(self, cid: str) -> list[Fill]:
        return [e[2] for e in self.of(cid) if e[0] == "fill"]

    def last(self, cid: str) -> str | None:
        states = self.states(cid)
        return states[-1] if states else None


def intent(symbol: str, qty: float, news_id: str = "n1", leg: str = "direct") -> OrderIntent:
    return OrderIntent(
        strategy_id="s1", news_id=news_id, symbol=symbol, qty=qty, leg=leg, ts_init=1
    )


def settings_for(server: AlpacaTradingStandIn, **changes: Any) -> AlpacaSettings:
    values: dict[str, Any] = {
        "api_key": SecretStr(KEY),
        "secret_key": SecretStr(SECRET),
        "trading_url": server.url,
        "poll_interval_s": 0.05,
        "max_retries": 3,
        "retry_backoff_s": 0.01,
    }
    values.update(changes)
    return AlpacaSettings(**values)


@pytest.fixture
def server() -> Iterator[AlpacaTradingStandIn]:
    policy = FillPolicy(prices={"AAPL": 190.0, "MSFT": 410.0, "NVDA": 120.5})
    with AlpacaTradingStandIn(KEY, SECRET, policy=policy) as stand_in:
        yield stand_in


@pytest_asyncio.fixture
async def broker(server: AlpacaTradingStandIn) -> AsyncIterator[tuple[AlpacaBroker, Recorder]]:
    events = Recorder()
    async with AlpacaBroker(settings_for(server), LiveClock()) as b:
        await b.start(events)
        yield b, events


@pytest.mark.asyncio
async def test_a_basket_of_orders_is_filled_and_reported_in_order(
    server: AlpacaTradingStandIn, broker: tuple[AlpacaBroker, Recorder]
) -> None:
    b, events = broker
    basket = [intent("AAPL", 10), intent("MSFT", -5), intent("NVDA", 3)]
    assert all(b.submit(i) for i in basket)
    await until(lambda: all(events.last(i.client_order_id) == "filled" for i in basket))
    for i in basket:
        cid = i.client_order_id
        assert [e[0] for e in events.of(cid)] == ["status", "status", "fill", "status"]
        assert events.states(cid) == ["submitted", "accepted", "filled"]
        accepted = events.of(cid)[1]
        assert accepted[3] == server.order(cid)["id"]  # type: ignore[index]
        (fill,) = events.fills(cid)
        assert fill.qty == i.qty
        assert fill.price == server.policy.price(i.symbol)
        assert server.submissions[cid] == 1
    assert server.positions["MSFT"][0] == -5
    await until(lambda: b.open_count == 0)


@pytest.mark.asyncio
async def test_partial_fills_arrive_as_increments_that_sum_to_the_order(
    server: AlpacaTradingStandIn, broker: tuple[AlpacaBroker, Recorder]
) -> None:
    b, events = broker
    server.policy.mode = "partial"
    i = intent("AAPL", -9)
    b.submit(i)
    await until(lambda: events.last(i.client_order_id) == "filled")
    fills = events.fills(i.client_order_id)
    assert len(fills) == 2
    assert sum(f.qty for f in fills) == pytest.approx(-9)
    assert all(f.qty < 0 for f in fills)
    order = server.order(i.client_order_id)
    assert order is not None
    average = sum(f.qty * f.price for f in fills) / sum(f.qty for f in fills)
    assert average == pytest.approx(float(order["filled_avg_price"]))
    assert fills[1].price == pytest.approx(190.0 * 1.01)
    assert events.states(i.client_order_id) == [
        "submitted",
        "accepted",
        "partially_filled",
        "filled",
    ]


@pytest.mark.asyncio
async def test_a_504_that_placed_the_order_is_resolved_without_a_second_order(
    server: AlpacaTradingStandIn, broker: tuple[AlpacaBroker, Recorder]
) -> None:
    b, events = broker
    server.land_then_504()
    i = intent("NVDA", 4)
    b.submit(i)
    await until(lambda: events.last(i.client_order_id) == "filled")
    cid = i.client_order_id
    assert server.submissions[cid] == 2  # the 504'd POST and its retry (answered 422)
    assert sum(o["client_order_id"] == cid for o in server.state()["orders"]) == 1
    assert sum(f.qty for f in events.fills(cid)) == 4
    assert events.states(cid) == ["submitted", "filled"]  # found already filled
    assert events.of(cid)[-1][3] == server.order(cid)["id"]  # type: ignore[index]


@pytest.mark.asyncio
async def test_429_then_success_is_retried(
    server: AlpacaTradingStandIn, broker: tuple[AlpacaBroker, Recorder]
) -> None:
    b, events = broker
    server.fail_next(2, 429, path="/v2/orders")
    i = intent("AAPL", 1)
    b.submit(i)
    await until(lambda: events.last(i.client_order_id) == "filled")
    assert server.submissions[i.client_order_id] == 3
    assert b.retries >= 2


@pytest.mark.asyncio
async def test_503_on_polls_is_retried_and_the_order_still_fills(
    server: AlpacaTradingStandIn, broker: tuple[AlpacaBroker, Recorder]
) -> None:
    b, events = broker
    server.policy.mode = "after_polls"
    server.fail_next(3, 503, path="/v2/orders")  # the POST, then the polls' GETs
    i = intent("MSFT", 2)
    b.submit(i)
    await until(lambda: events.last(i.client_order_id) == "filled")
    assert events.states(i.client_order_id) == ["submitted", "accepted", "filled"]


@pytest.mark.asyncio
async def test_a_403_is_rejected_with_alpacas_reason(
    server: AlpacaTradingStandIn, broker: tuple[AlpacaBroker, Recorder]
) -> None:
    b, events = broker
    server.buying_power = 1_000.0
    i = intent("MSFT", 100)
    b.submit(i)
    await until(lambda: events.last(i.client_order_id) == "rejected")
    assert events.of(i.client_order_id)[-1][4] == "insufficient buying power"
    assert server.submissions[i.client_order_id] == 1
    assert b.open_count == 0


def _row(i: OrderIntent, status: str, broker_id: str | None = None) -> dict[str, Any]:
    return {
        "client_order_id": i.client_order_id,
        "strategy_id": i.strategy_id,
        "news_id": i.news_id,
        "symbol": i.symbol,
        "qty": i.qty,
        "leg": i.leg,
        "ts_init": i.ts_init,
        "status": status,
        "broker_id": broker_id,
        "updated_ns": 0,
    }


@pytest.mark.asyncio
async def test_resume_sends_a_journaled_new_order_alpaca_never_saw_exactly_once(
    server: AlpacaTradingStandIn, broker: tuple[AlpacaBroker, Recorder]
) -> None:
    b, events = broker
    i = intent("AAPL", 7)
    await b.resume([_row(i, "new")])
    await until(lambda: events.last(i.client_order_id) == "filled")
    assert server.submissions[i.client_order_id] == 1
    assert events.states(i.client_order_id) == ["submitted", "accepted", "filled"]
    await b.resume([_row(i, "new")])  # a second resume of the same row sends nothing
    assert server.submissions[i.client_order_id] == 1


@pytest.mark.asyncio
async def test_resume_of_an_order_alpaca_has_follows_it_and_sends_nothing(
    server: AlpacaTradingStandIn,
) -> None:
    server.policy.mode = "after_polls"
    server.policy.polls = 3
    placed = intent("NVDA", -2)
    client = TradingClient(KEY, SECRET, url_override=server.url)
    client.submit_order(
        MarketOrderRequest(
            symbol="NVDA",
            qty=2,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.DAY,
            client_order_id=placed.client_order_id,
        )
    )
    filled_before = intent("AAPL", 1)  # placed and filled while we were away
    server.policy.mode = "immediate"
    client.submit_order(
        MarketOrderRequest(
            symbol="AAPL",
            qty=1,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            client_order_id=filled_before.client_order_id,
        )
    )
    server.policy.mode = "after_polls"
    events = Recorder()
    async with AlpacaBroker(settings_for(server), LiveClock()) as b:
        snapshot = await b.start(events)
        assert [o["client_order_id"] for o in snapshot.open_orders] == [placed.client_order_id]
        await b.resume([_row(placed, "new"), _row(filled_before, "submitted")])
        await until(
            lambda: (
                events.last(placed.client_order_id) == "filled"
                and events.last(filled_before.client_order_id) == "filled"
            )
        )
    assert server.submissions[placed.client_order_id] == 1
    assert server.submissions[filled_before.client_order_id] == 1
    assert [f.qty for f in events.fills(placed.client_order_id)] == [-2]
    assert events.states(filled_before.client_order_id) == ["filled"]


@pytest.mark.asyncio
async def test_resume_of_an_acknowledged_order_alpaca_does_not_know_rejects_it(
    server: AlpacaTradingStandIn, broker: tuple[AlpacaBroker, Recorder]
) -> None:
    b, events = broker
    i = intent("AAPL", 3)
    await b.resume([_row(i, "accepted", broker_id="6f1c1f38-2d57-4c2a-9a3e-9c1c0c2f0c11")])
    assert events.states(i.client_order_id) == ["rejected"]
    assert "no order" in events.of(i.client_order_id)[-1][4]
    assert server.submissions[i.client_order_id] == 0


@pytest.mark.asyncio
async def test_resume_reports_only_fills_beyond_those_journaled() -> None:
    policy = FillPolicy(mode="partial", prices={"AAPL": 100.0})
    with AlpacaTradingStandIn(KEY, SECRET, policy=policy) as server:
        i = intent("AAPL", 10)
        client = TradingClient(KEY, SECRET, url_override=server.url)
        client.submit_order(
            MarketOrderRequest(
                symbol="AAPL",
                qty=10,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.DAY,
                client_order_id=i.client_order_id,
            )
        )
        client.get_order_by_client_id(i.client_order_id)  # first read: 5 filled at 100
        row = _row(i, "partially_filled") | {"filled_qty": 5.0, "filled_avg_price": 100.0}
        events = Recorder()
        async with AlpacaBroker(settings_for(server), LiveClock()) as b:
            await b.start(events)
            await b.resume([row])
            await until(lambda: events.last(i.client_order_id) == "filled")
        (fill,) = events.fills(i.client_order_id)
        assert fill.qty == 5
        assert fill.price == pytest.approx(101.0)


@pytest.mark.asyncio
async def test_start_reports_positions_and_open_orders() -> None:
    positions = {"AAPL": (10.0, 150.0), "TSLA": (-4.0, 200.0)}
    with AlpacaTradingStandIn(KEY, SECRET, positions=positions) as server:
        async with AlpacaBroker(settings_for(server), LiveClock()) as b:
            snapshot = await b.start(Recorder())
    assert snapshot.positions == {"AAPL": 10.0, "TSLA": -4.0}
    assert snapshot.open_orders == []


@pytest.mark.asyncio
async def test_cancel_all_cancels_open_orders_and_reports_them(
    server: AlpacaTradingStandIn, broker: tuple[AlpacaBroker, Recorder]
) -> None:
    b, events = broker
    server.policy.mode = "never"
    basket = [intent("AAPL", 1), intent("MSFT", 1)]
    for i in basket:
        b.submit(i)
    await until(lambda: all(events.last(i.client_order_id) == "accepted" for i in basket))
    assert await b.cancel_all() == 2
    await until(lambda: all(events.last(i.client_order_id) == "canceled" for i in basket))
    assert b.open_count == 0


@pytest.mark.asyncio
async def test_flatten_closes_every_position() -> None:
    with AlpacaTradingStandIn(KEY, SECRET, positions={"AAPL": (3.0, 1.0)}) as server:
        async with AlpacaBroker(settings_for(server), LiveClock()) as b:
            await b.start(Recorder())
            await b.flatten()
        assert server.positions == {}


def test_missing_keys_name_the_variables_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.delenv("APCA_API_SECRET_KEY", raising=False)
    with pytest.raises(AlpacaKeysError, match=r"APCA_API_KEY_ID.*APCA_API_SECRET_KEY"):
        AlpacaBroker(AlpacaSettings(), LiveClock())
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    with pytest.raises(AlpacaKeysError) as info:
        AlpacaBroker(AlpacaSettings(), LiveClock())
    assert "APCA_API_SECRET_KEY" in str(info.value)
    assert "APCA_API_KEY_ID" not in str(info.value)


@pytest.mark.asyncio
async def test_keys_from_the_environment_work(
    server: AlpacaTradingStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    async with AlpacaBroker(AlpacaSettings(trading_url=server.url), LiveClock()) as b:
        await b.start(Recorder())


@pytest.mark.asyncio
async def test_refused_keys_give_a_clear_error_and_the_secret_is_never_shown(
    server: AlpacaTradingStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    events = Recorder()
    async with AlpacaBroker(settings_for(server), LiveClock()) as b:
        await b.start(events)
        server.buying_power = 10.0
        server.fail_next(1, 500, path="/v2/orders")
        i = intent("AAPL", 5)
        b.submit(i)
        await until(lambda: events.last(i.client_order_id) == "rejected")
        shown = [repr(b), str(events.events)]
    wrong = settings_for(server, secret_key=SecretStr("wrong-" + SECRET))
    async with AlpacaBroker(wrong, LiveClock()) as b:
        with pytest.raises(AlpacaKeysError, match="refused the API keys") as info:
            await b.start(Recorder())
        shown += [repr(b), str(info.value), repr(info.value)]
    assert caplog.records  # something was logged, at DEBUG too
    for text in [caplog.text, *shown]:
        assert SECRET not in text


@pytest.mark.asyncio
async def test_submit_does_not_block_the_loop(
    server: AlpacaTradingStandIn, broker: tuple[AlpacaBroker, Recorder]
) -> None:
    b, events = broker
    server.delay_s = 0.4
    beats: list[float] = []

    async def heartbeat() -> None:
        while True:
            beats.append(time.monotonic())
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(heartbeat())
    basket = [intent(s, 1, news_id="slow") for s in ("AAPL", "MSFT", "NVDA")]
    for i in basket:
        assert b.submit(i)
    await until(lambda: all(events.last(i.client_order_id) == "filled" for i in basket))
    ticker.cancel()
    gaps = [later - earlier for earlier, later in itertools.pairwise(beats)]
    assert beats[-1] - beats[0] >= 0.4  # the test did wait on the slow answers
    assert max(gaps) < 0.25  # the loop never waited on one


@pytest.mark.asyncio
async def test_aclose_stops_promptly_and_refuses_later_orders(
    server: AlpacaTradingStandIn,
) -> None:
    events = Recorder()
    b = AlpacaBroker(settings_for(server), LiveClock(), shutdown_grace_s=0.5)
    await b.start(events)
    server.delay_s = 2.0
    b.submit(intent("AAPL", 1))
    started = time.monotonic()
    await b.aclose()
    assert time.monotonic() - started < 2.0
    assert not b.submit(intent("MSFT", 1))
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("alpaca")]


@pytest.mark.asyncio
async def test_an_order_that_never_got_through_is_rejected_after_the_retries(
    server: AlpacaTradingStandIn, broker: tuple[AlpacaBroker, Recorder]
) -> None:
    b, events = broker
    server.fail_next(4, 503, path="/v2/orders")  # max_retries=3: every attempt fails
    i = intent("AAPL", 2)
    b.submit(i)
    await until(lambda: events.last(i.client_order_id) == "rejected")
    assert events.of(i.client_order_id)[-1][4].startswith("not placed")
    assert server.submissions[i.client_order_id] == 4
    assert server.order(i.client_order_id) is None


@pytest.mark.asyncio
async def test_an_order_whose_fate_is_unknown_is_looked_up_again_by_the_poller(
    server: AlpacaTradingStandIn, broker: tuple[AlpacaBroker, Recorder]
) -> None:
    b, events = broker
    # three POSTs fail, the fourth (the last retry) places the order but answers 504, and the
    # look-up after it fails too: only the poller can find out
    server.land_then_504(1)
    server.fail_next(3, 502, path="/v2/orders")
    server.fail_next(4, 502, path="/v2/orders:by_client_order_id")
    i = intent("MSFT", 6)
    b.submit(i)
    await until(lambda: events.last(i.client_order_id) == "filled")
    assert sum(o["client_order_id"] == i.client_order_id for o in server.state()["orders"]) == 1
    assert [f.qty for f in events.fills(i.client_order_id)] == [6]


def test_the_stand_in_runs_as_a_process_with_a_control_api() -> None:
    import subprocess
    import sys

    from tests.stand_in.alpaca_trading_server import StandInControl

    process = subprocess.Popen(
        [sys.executable, "-m", "tests.stand_in.alpaca_trading_server", "--mode", "partial"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        control = StandInControl(url)
        client = TradingClient("test-key", "test-secret", url_override=url)
        request = MarketOrderRequest(
            symbol="AAPL", qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
            client_order_id="cid-1",
        )  # fmt: skip
        client.submit_order(request)
        control.fail_next(1, 429)
        client._retry = 0
        with pytest.raises(APIError, match="429"):
            client.get_order_by_client_id("cid-1")
        control.land_then_504()
        control.configure(prices={"AAPL": 10.0})
        assert control.submissions() == {"cid-1": 1}
        assert control.state()["orders"][0]["status"] == "accepted"
        control.reset()
        assert control.state() == {"orders": [], "positions": {}, "submissions": {}}
    finally:
        process.terminate()
        process.wait(timeout=10)


@given(
    steps=st.lists(
        st.tuples(st.integers(1, 1000), st.floats(1.0, 1000.0, allow_nan=False)),
        min_size=1,
        max_size=6,
    ),
    sell=st.booleans(),
)
def test_fill_increments_sum_to_alpacas_quantity_and_average(
    steps: list[tuple[int, float]], sell: bool
) -> None:
    """Whatever cumulative (filled_qty, filled_avg_price) Alpaca shows, the increments add up."""
    b = AlpacaBroker(
        AlpacaSettings(api_key=SecretStr(KEY), secret_key=SecretStr(SECRET)), LiveClock()
    )
    events = Recorder()
    b._events = events
    total = sum(q for q, _ in steps)
    i = intent("AAPL", -total if sell else total)
    order = _Order(i.client_order_id, "s1", "AAPL", -1 if sell else 1, total)
    b._orders[order.cid] = order
    filled, notional = 0, 0.0
    for qty, price in steps:
        filled += qty
        notional += qty * price
        status = "filled" if filled == total else "partially_filled"
        b._apply(order, Order(**_order_json(order.cid, total, filled, notional / filled, status)))
    fills = events.fills(order.cid)
    assert sum(f.qty for f in fills) == pytest.approx(-total if sell else total)
    average = sum(f.qty * f.price for f in fills) / sum(f.qty for f in fills)
    assert average == pytest.approx(notional / filled, rel=1e-9)
    assert events.last(order.cid) == "filled"
    b._calls.close()


def _order_json(cid: str, qty: float, filled: float, avg: float, status: str) -> dict[str, Any]:
    now = "2026-01-02T15:00:00Z"
    return {
        "id": "6f1c1f38-2d57-4c2a-9a3e-9c1c0c2f0c11",
        "client_order_id": cid,
        "created_at": now,
        "updated_at": now,
        "submitted_at": now,
        "symbol": "AAPL",
        "qty": str(qty),
        "filled_qty": str(filled),
        "filled_avg_price": repr(avg),
        "side": "buy",
        "type": "market",
        "time_in_force": "day",
        "status": status,
        "extended_hours": False,
    }
