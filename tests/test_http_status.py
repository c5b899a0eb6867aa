"""The daemon's HTTP face: health, metrics, state, and a kill switch only for the token holder."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from engine.http_status import DaemonMetrics, make_app


class FakeDaemon:
    """A stand-in for the daemon's state (the HTTP face is what is under test)."""

    def __init__(self) -> None:
        self.ok = True
        self.killed: list[str] = []

    def health(self) -> dict[str, Any]:
        return {"ok": self.ok, "feeds": {"mqtt": self.ok}, "lag_ms": 3.0}

    def state(self) -> dict[str, Any]:
        return {"positions": {"META": 10}, "open_orders": [{"client_order_id": "so-1", "symbol": "META",
                "side": "buy", "qty": 10, "status": "accepted", "news_id": "n1"}]}  # fmt: skip

    def kill(self, reason: str) -> None:
        self.killed.append(reason)


async def client(daemon: FakeDaemon, token: str | None) -> TestClient:
    metrics = DaemonMetrics()
    metrics.shocks.inc(3)
    metrics.orders.labels("filled").inc()
    metrics.news_to_order.observe(0.00015)
    c = TestClient(TestServer(make_app(daemon, metrics, kill_token=token), host="127.0.0.1"))
    await c.start_server()
    return c


@pytest.mark.asyncio
async def test_health_metrics_and_state() -> None:
    daemon = FakeDaemon()
    c = await client(daemon, token=None)
    try:
        assert (await c.get("/healthz")).status == 200
        daemon.ok = False
        assert (await c.get("/healthz")).status == 503
        text = await (await c.get("/metrics")).text()
        assert (
            "spillover_shocks_total 3.0" in text
            and 'spillover_orders_total{state="filled"} 1.0' in text
        )
        assert "spillover_news_to_order_seconds_bucket" in text
        state = await (await c.get("/api/state")).json()
        assert state["open_orders"][0]["client_order_id"] == "so-1"
    finally:
        await c.close()


@pytest.mark.asyncio
async def test_kill_switch_needs_the_token_and_is_off_without_one() -> None:
    daemon = FakeDaemon()
    off = await client(daemon, token=None)
    try:
        assert (await off.post("/api/kill")).status == 404
    finally:
        await off.close()
    on = await client(daemon, token="s3cret")
    try:
        refused = await on.post("/api/kill", headers={"Authorization": "Bearer wrong"})
        assert refused.status == 401 and "s3cret" not in await refused.text()
        assert daemon.killed == []
        ok = await on.post(
            "/api/kill", data="operator says stop", headers={"Authorization": "Bearer s3cret"}
        )
        assert ok.status == 200 and daemon.killed == ["operator says stop"]
    finally:
        await on.close()
