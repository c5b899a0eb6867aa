"""The daemon's HTTP face (aiohttp, 127.0.0.1 by default): health, metrics, state, kill switch.

- `GET /healthz`: 200 when feeds are connected and lag is small, else 503; JSON either way.
- `GET /metrics`: Prometheus text (messages in, decode errors, dead letters, shocks, orders by
  state, news-to-order latency).
- `GET /api/state`: JSON positions, open orders, recent shocks, counters.
- `POST /api/kill`: needs `Authorization: Bearer <token>`; with no token configured the
  endpoint is disabled (404). Tokens and keys never appear in responses or logs.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

log = logging.getLogger(__name__)


class StatusSource(Protocol):
    """What the daemon exposes to the HTTP face."""

    def health(self) -> dict[str, Any]:
        """`{"ok": bool, ...}`: feed connections and lag."""
        ...

    def state(self) -> dict[str, Any]:
        """Positions, open orders, recent shocks, counters."""
        ...

    def kill(self, reason: str) -> None:
        """Cancel open orders and halt trading."""
        ...


class DaemonMetrics:
    """Prometheus metrics of one daemon, on their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages_in = Counter(
            "spillover_messages_in", "Messages received", ["feed"], registry=r
        )
        self.decode_errors = Counter(
            "spillover_decode_errors", "Messages that failed to decode", ["feed"], registry=r
        )
        self.dead_letters = Counter(
            "spillover_dead_letters", "Messages kept as dead letters", ["feed"], registry=r
        )
        self.shocks = Counter("spillover_shocks", "Headlines scored", registry=r)
        self.orders = Counter("spillover_orders", "Orders by state", ["state"], registry=r)
        self.news_to_order = Histogram(
            "spillover_news_to_order_seconds", "Headline receipt to broker submit call",
            buckets=(50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 50e-3, 0.1, 1.0), registry=r,
        )  # fmt: skip


def make_app(
    source: StatusSource, metrics: DaemonMetrics, *, kill_token: str | None
) -> web.Application:
    """Build the aiohttp application (the caller runs it, bound to 127.0.0.1 by default)."""

    async def healthz(_: web.Request) -> web.Response:
        health = source.health()
        return web.json_response(health, status=200 if health.get("ok") else 503)

    async def metrics_view(_: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def state(_: web.Request) -> web.Response:
        return web.json_response(source.state())

    async def kill(request: web.Request) -> web.Response:
        if not kill_token:
            raise web.HTTPNotFound(text="kill switch disabled: no token configured")
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {kill_token}".encode()):
            log.warning("refused a kill request from %s: bad or missing token", request.remote)
            return web.json_response({"error": "a valid bearer token is required"}, status=401)
        reason = (await request.text())[:200] or "kill switch over HTTP"
        source.kill(reason)
        log.warning("kill switch pulled over HTTP: %s", reason)
        return web.json_response({"halted": True, "reason": reason})

    app = web.Application()
    app.add_routes(
        [
            web.get("/healthz", healthz),
            web.get("/metrics", metrics_view),
            web.get("/api/state", state),
            web.post("/api/kill", kill),
        ]
    )
    return app
