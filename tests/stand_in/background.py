"""The lifecycle every stand-in server shares: an aiohttp app on 127.0.0.1, served from its own
event loop in a daemon thread, so synchronous tests and clients (alpaca-py) can talk to it.

Subclasses build the app in `make_app`; `start` returns once the port is bound (`port=0`: a free
one, then in `self.port`), `stop` (or leaving the `with` block) closes it and joins the thread.
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self

from aiohttp import web


class BackgroundServer(ABC):
    """Serve `make_app()` from a thread of its own."""

    thread_name = "stand-in"

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @abstractmethod
    def make_app(self) -> web.Application:
        """The application to serve (each stand-in builds its own)."""

    def before_stop(self) -> None:  # noqa: B027  (a hook: doing nothing is the default)
        """Called while the loop still runs, before the app is cleaned up."""

    def start(self) -> Self:
        """Start serving; returns once the port is bound."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        self._run(self._serve())
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        loop = self._loop
        if loop is None:
            return
        self.before_stop()
        if self._runner is not None:
            self._run(self._runner.cleanup())
            self._runner = None
        self._loop = None
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run a coroutine on the server's loop from another thread; wait for its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self.make_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]
