"""Calls to Alpaca's trading API off the event loop, with our own retries.

alpaca-py's `TradingClient` is synchronous (requests) and, left alone, retries 429/504 with a
blocking `time.sleep(3)` and sets no request timeout. Here every call runs in a small thread
pool (one client per worker thread: a `requests.Session` is not meant to be shared), the
client's own retries are switched off through its private knobs (`_retry`, `_retry_codes`,
checked to exist so a new alpaca-py cannot silently double-retry), each request gets a timeout,
and 429/5xx/network errors are retried here with jittered exponential backoff awaited on the
loop — so a retry never holds a thread and shutdown can cut it short.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from requests.adapters import HTTPAdapter

from engine.alpaca import AlpacaError, AlpacaKeys

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
REQUEST_TIMEOUT_S = 10.0
MAX_BACKOFF_S = 30.0


class CallError(AlpacaError):
    """One call failed for good: Alpaca's answer (`status`, `code`, `message`) or a network error
    (`status` None). `retryable` says whether trying again could help."""

    def __init__(
        self, what: str, status: int | None, message: str, code: int | None = None
    ) -> None:
        where = f"HTTP {status}" if status is not None else "network error"
        super().__init__(f"{what}: {where}: {message}")
        self.what = what
        self.status = status
        self.code = code
        self.message = message

    @property
    def retryable(self) -> bool:
        """429, 5xx and network errors."""
        return self.status is None or self.status in RETRY_STATUS

    @property
    def duplicate(self) -> bool:
        """Alpaca already holds an order with this client order id."""
        return self.status == 422 and "must be unique" in self.message


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request a timeout (alpaca-py passes none)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=self.timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def _api_error(what: str, exc: APIError) -> CallError:
    text = str(exc)
    code: int | None = None
    message = text[:300]
    try:
        body = json.loads(text)
        if isinstance(body, dict):
            message = str(body.get("message", message))
            code = body.get("code") if isinstance(body.get("code"), int) else None
    except ValueError:
        pass
    return CallError(what, exc.status_code, message, code)


class AlpacaCalls:
    """Runs `TradingClient` calls in worker threads and retries the transient failures."""

    def __init__(
        self,
        keys: AlpacaKeys,
        *,
        paper: bool,
        url: str | None,
        max_retries: int,
        backoff_s: float,
        workers: int = 4,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self._keys = keys
        self._paper = paper
        self._url = url
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._timeout = request_timeout_s
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="alpaca-rest")
        self._local = threading.local()
        self._closed = False
        self.retries = 0  # metrics: retried attempts so far

    def __repr__(self) -> str:
        return f"AlpacaCalls(url={self._url!r}, paper={self._paper})"

    def _client(self) -> TradingClient:
        client: TradingClient | None = getattr(self._local, "client", None)
        if client is None:
            client = TradingClient(
                self._keys.key_id.get_secret_value(),
                self._keys.secret.get_secret_value(),
                paper=self._paper,
                url_override=self._url,
            )
            for knob in ("_retry", "_retry_codes", "_session"):
                if not hasattr(client, knob):
                    raise AlpacaError(
                        f"alpaca-py changed: TradingClient has no {knob}; "
                        "engine.brokers.alpaca_calls needs updating"
                    )
            client._retry = 0  # we retry, without blocking a thread
            client._retry_codes = []
            adapter = _TimeoutAdapter(self._timeout)
            client._session.mount("http://", adapter)
            client._session.mount("https://", adapter)
            self._local.client = client
        return client

    def _once(self, what: str, fn: Callable[[TradingClient], T]) -> T:
        """One attempt, in a worker thread; every failure becomes a `CallError`."""
        try:
            return fn(self._client())
        except APIError as exc:
            raise _api_error(what, exc) from None
        except requests.RequestException as exc:
            raise CallError(what, None, f"{type(exc).__name__}: {exc}") from None

    def delay(self, attempt: int) -> float:
        """Wait before retry `attempt` (0-based): doubling, capped, equal jitter."""
        capped = min(MAX_BACKOFF_S, self.backoff_s * 2**attempt)
        return float(capped * random.uniform(0.5, 1.0))

    async def call(self, what: str, fn: Callable[[TradingClient], T]) -> T:
        """Run `fn(client)` in a worker thread, retrying 429/5xx/network errors."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            if self._closed:
                raise CallError(what, None, "the broker is closed")
            try:
                return await loop.run_in_executor(self._executor, self._once, what, fn)
            except RuntimeError:  # the pool shut down between the check and the call
                raise CallError(what, None, "the broker is closed") from None
            except CallError as exc:
                if not exc.retryable or attempt >= self.max_retries or self._closed:
                    raise
                wait = self.delay(attempt)
                attempt += 1
                self.retries += 1
                log.warning(
                    "%s failed (%s); retry %d/%d in %.2f s",
                    what,
                    f"HTTP {exc.status}" if exc.status else exc.message,
                    attempt,
                    self.max_retries,
                    wait,
                )
                await asyncio.sleep(wait)

    def close(self) -> None:
        """Refuse new calls; threads finish the request they are in (bounded by the timeout)."""
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
