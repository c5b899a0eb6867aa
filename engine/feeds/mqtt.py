"""The MQTT feed: headlines and tick frames from a broker (Mosquitto), decoded at the edge.

`MqttFeed.run(sink)` connects with aiomqtt, subscribes `news_topic` at `qos` (as
`$share/<shared_group>/<news_topic>` when a group is set, MQTT v5 only) and `ticks_topic` at
QoS 0, and hands every message to the sink: news through `decode_news` to `sink.news`, ticks
through `decode_trades` to `sink.trades`, each stamped `ts_init = clock.now_ns()` when the feed
takes it. A payload that does not decode goes to `sink.bad_message` (and, when
`dead_letter_topic` is set, is published there as JSON with its reason); the feed goes on.

Session: the client id names a persistent session (v5: `clean_start=False` and a session expiry
of `session_expiry_s`; v3.1.1: `clean_session=False`), so QoS 1 news published while the feed
is away is kept by the broker and delivered when it comes back.

Acknowledgements (paho-mqtt 2.2 under aiomqtt 2.5). By default paho sends PUBACK for a QoS 1
message as soon as its `on_message` callback returns, and aiomqtt's callback only puts the
message on an asyncio queue: the broker would forget a headline before the feed has even looked
at it, and a crash then loses everything still queued. aiomqtt 2.x has no public switch for
manual acks, but its paho client does (`manual_ack_set`, `ack(mid, qos)`); the feed turns it on
through `client._client`, so:

- a QoS 1/2 news message is acknowledged right after `sink.news` (or `sink.bad_message`)
  returned, in the order received (as MQTT requires); a crash or a cut connection before that
  leaves it unacknowledged and the broker sends it again (a duplicate, same id);
- messages still queued when the connection drops are delivered after it (ids unchanged) but
  not acknowledged, since their packet ids belonged to the old connection: the broker resends
  those, so the daemon sees them twice and its dedup by news id makes delivery exactly-once;
- on cancellation, queued but unhandled messages are left unacknowledged for the next session;
- an exception from the sink ends `run` with that message unacknowledged.

If a later aiomqtt hides the paho client, the feed logs a warning and falls back to paho's
automatic acks; the window is then from the message's arrival to `sink.news` returning
(`acks_after_sink` tells which mode is on).

Queue: aiomqtt's incoming queue holds messages between the socket and this loop. With
`max_queued_messages=0` (the default) it is unbounded and nothing is dropped. When bounded, a
full queue sheds new *tick* messages (counted in `dropped`); news is never shed, it is admitted
past the bound.

Reconnects: on `aiomqtt.MqttError` the feed waits a jittered, capped exponential backoff
(`uniform(0, min(reconnect_max_s, 1.5**min(10, n)))`), connects a fresh client and subscribes
again, telling `sink.connection(name, True/False)` on each change and logging the reason.
Cancelling `run` disconnects and returns; nothing is left running.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import socket
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
import orjson
from aiomqtt import Message
from paho.mqtt.client import MQTT_CLEAN_START_FIRST_ONLY
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from engine.clock import Clock
from engine.errors import ConfigError, InputError
from engine.feeds.base import FeedSink
from engine.feeds.decode import decode_news, decode_trades
from engine.settings import MqttSettings

__all__ = ["MqttFeed"]

logger = logging.getLogger(__name__)


class MqttFeed:
    """News and tick frames from an MQTT broker, delivered to a `FeedSink`.

    Counters for metrics: `received` (messages taken off the queue), `news` (headlines
    delivered), `trades` (trades delivered), `bad`, `dropped` (ticks shed by a bounded queue),
    `reconnects` (connections after the first), `failed_connects` (attempts that never got
    subscribed), `leftovers` (messages delivered after their connection dropped, unacknowledged).
    """

    def __init__(self, settings: MqttSettings, clock: Clock, name: str = "mqtt") -> None:
        if settings.shared_group and settings.protocol != "5":
            raise ConfigError(
                f'mqtt.shared_group = {settings.shared_group!r} needs mqtt.protocol = "5"'
                f" (shared subscriptions are MQTT v5); got {settings.protocol!r}"
            )
        if not settings.news_topic and not settings.ticks_topic:
            raise ConfigError("mqtt: set news_topic or ticks_topic (both are empty)")
        self.name = name
        self.settings = settings
        self.clock = clock
        self.received = 0
        self.news = 0
        self.trades = 0
        self.bad = 0
        self.dropped = 0
        self.reconnects = 0
        self.leftovers = 0
        self.failed_connects = 0
        self.connected = False
        self.acks_after_sink = False
        self._warned_auto_ack = False
        if any(c in settings.shared_group for c in "/+#"):
            raise ConfigError(f"mqtt.shared_group {settings.shared_group!r}: no '/', '+' or '#'")
        self._news_wildcard = _wildcard("news_topic", settings.news_topic)
        self._ticks_wildcard = _wildcard("ticks_topic", settings.ticks_topic)
        # topic name -> "news", "ticks" or "" (neither): matching a wildcard takes microseconds,
        # a dict lookup nanoseconds, and a feed sees few distinct topics
        self._kinds: dict[str, str] = {}

    @property
    def news_subscription(self) -> str:
        """The topic filter news is subscribed with (`$share/<group>/...` when shared)."""
        topic = self.settings.news_topic
        return (
            f"$share/{self.settings.shared_group}/{topic}" if self.settings.shared_group else topic
        )

    async def run(self, sink: FeedSink) -> None:
        """Deliver messages to `sink` until cancelled, reconnecting whenever the broker is lost."""
        attempt = 0
        connections = 0
        try:
            while True:
                client = self._client()
                reason = ""
                try:
                    async with _session(client):
                        await self._subscribe(client)
                        connections += 1
                        if connections > 1:
                            self.reconnects += 1
                        attempt = 0
                        self._set_connected(sink, True)
                        logger.info(
                            "mqtt %s: connected to %s:%d as %r, news %r (QoS %d), ticks %r,"
                            " acks %s",
                            self.name,
                            self.settings.host,
                            self.settings.port,
                            self.settings.client_id,
                            self.news_subscription,
                            self.settings.qos,
                            self.settings.ticks_topic,
                            "after the sink" if self.acks_after_sink else "by paho on arrival",
                        )
                        await self._consume(client, sink)
                except aiomqtt.MqttError as exc:
                    reason = str(exc) or type(exc).__name__
                    if exc.__cause__ is not None:
                        reason = f"{reason}: {exc.__cause__}"
                finally:
                    await _settle(client)
                was_connected = self.connected
                if not was_connected:
                    self.failed_connects += 1
                self._set_connected(sink, False)
                # Messages that arrived before the cut: delivered (after the sink heard of the
                # cut), never acknowledged.
                self._deliver_leftovers(client, sink)
                delay = random.uniform(
                    0, min(self.settings.reconnect_max_s, 1.5 ** min(10, attempt))
                )
                attempt += 1
                logger.warning(
                    "mqtt %s: %s %s:%d (%s); retrying in %.2f s",
                    self.name,
                    "lost the connection to" if was_connected else "cannot connect to",
                    self.settings.host,
                    self.settings.port,
                    reason or "the broker ended the session",
                    delay,
                )
                await asyncio.sleep(delay)
        finally:
            self._set_connected(sink, False)

    # -- connection ------------------------------------------------------------------------

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        v5 = s.protocol == "5"
        properties: Properties | None = None
        if v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = s.session_expiry_s
        tls_params = None
        if s.tls:
            tls_params = aiomqtt.TLSParameters(
                ca_certs=str(s.ca_file) if s.ca_file else None,
                certfile=str(s.cert_file) if s.cert_file else None,
                keyfile=str(s.key_file) if s.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        options: list[tuple[int, int, int]] = []
        if s.tcp_nodelay:
            options.append((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1))
        client = aiomqtt.Client(
            s.host,
            s.port,
            identifier=s.client_id,
            protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
            clean_session=None if v5 else False,
            # v3.1.1 refuses any clean_start but the default; clean_session says it there
            clean_start=False if v5 else MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
            username=s.username,
            password=s.password.get_secret_value() if s.password is not None else None,
            tls_params=tls_params,
            tls_insecure=s.tls_insecure if s.tls else None,
            keepalive=s.keepalive_s,
            socket_options=options,
            queue_type=self._queue_type(),
            max_queued_incoming_messages=s.max_queued_messages,
        )
        paho: Any = getattr(client, "_client", None)
        self.acks_after_sink = callable(getattr(paho, "manual_ack_set", None))
        if self.acks_after_sink:
            paho.manual_ack_set(True)
        elif not self._warned_auto_ack:
            self._warned_auto_ack = True
            logger.warning(
                "mqtt %s: this aiomqtt hides its paho client: QoS 1 news is acknowledged on"
                " arrival, before the sink has it",
                self.name,
            )
        return client

    def _queue_type(self) -> type[asyncio.Queue[Message]]:
        feed = self

        class SheddingQueue(asyncio.Queue[Message]):
            """Bounded: sheds new ticks when full (counted), always admits news."""

            _admit = False

            def full(self) -> bool:
                return not self._admit and super().full()

            def put_nowait(self, item: Message) -> None:
                if super().full() and feed._is_news(item):
                    self._admit = True
                try:
                    super().put_nowait(item)
                except asyncio.QueueFull:
                    feed.dropped += 1
                    raise
                finally:
                    self._admit = False

        return SheddingQueue

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        wanted: list[tuple[str, int]] = []
        if self.settings.news_topic:
            wanted.append((self.news_subscription, self.settings.qos))
        if self.settings.ticks_topic:
            wanted.append((self.settings.ticks_topic, 0))
        for topic, qos in wanted:
            granted = await client.subscribe(topic, qos=qos)
            code = granted[0] if granted else None
            value = getattr(code, "value", code)
            if isinstance(value, int) and value >= 0x80:
                # Not authorised, shared subscriptions unsupported, ...: retried with backoff.
                raise aiomqtt.MqttError(f"the broker refused the subscription to {topic!r}: {code}")

    def _set_connected(self, sink: FeedSink, connected: bool) -> None:
        if self.connected != connected:
            self.connected = connected
            sink.connection(self.name, connected)

    # -- messages --------------------------------------------------------------------------

    async def _consume(self, client: aiomqtt.Client, sink: FeedSink) -> None:
        paho = client._client if self.acks_after_sink else None
        dead_topic = self.settings.dead_letter_topic
        async for message in client.messages:
            dead = self._deliver(message, sink)
            if paho is not None and message.qos > 0:
                paho.ack(message.mid, message.qos)
            if dead is not None and dead_topic:
                await self._publish_dead_letter(client, dead_topic, message, dead)

    def _deliver_leftovers(self, client: aiomqtt.Client, sink: FeedSink) -> None:
        queue: asyncio.Queue[Message] = client._queue
        while not queue.empty():
            self.leftovers += 1
            self._deliver(queue.get_nowait(), sink)

    def _is_news(self, message: Message) -> bool:
        return self._kind(message) == "news"

    def _kind(self, message: Message) -> str:
        topic = message.topic.value
        kind = self._kinds.get(topic)
        if kind is None:
            if self._news_wildcard is not None and message.topic.matches(self._news_wildcard):
                kind = "news"
            elif self._ticks_wildcard is not None and message.topic.matches(self._ticks_wildcard):
                kind = "ticks"
            else:
                kind = ""
            if len(self._kinds) >= 10_000:  # topics per symbol or per source: stay bounded
                self._kinds.clear()
            self._kinds[topic] = kind
        return kind

    def _deliver(self, message: Message, sink: FeedSink) -> str | None:
        """Hand one message to the sink; return the reason when it did not decode."""
        self.received += 1
        now = self.clock.now_ns()
        payload = message.payload
        if not isinstance(payload, bytes):  # aiomqtt always gives bytes; keep the contract
            payload = bytes(payload) if isinstance(payload, bytearray) else str(payload).encode()
        kind = self._kind(message)
        try:
            if kind == "news":
                item = decode_news(payload, now)
            elif kind == "ticks":
                batch = decode_trades(payload, now)
                if len(batch):
                    sink.trades(batch)
                    self.trades += len(batch)
                return None
            else:
                raise InputError(f"no handler for topic {message.topic.value!r}")
        except InputError as exc:
            self.bad += 1
            reason = str(exc)
            sink.bad_message(self.name, message.topic.value, payload, reason)
            return reason
        sink.news(item)
        self.news += 1
        return None

    async def _publish_dead_letter(
        self, client: aiomqtt.Client, topic: str, message: Message, reason: str
    ) -> None:
        payload = message.payload if isinstance(message.payload, bytes) else b""
        row: dict[str, Any] = {
            "ts": self.clock.now_ns(),
            "feed": self.name,
            "source": message.topic.value,
            "reason": reason,
        }
        try:
            row["payload"] = payload.decode("utf-8")
        except UnicodeDecodeError:
            row["payload_b64"] = base64.b64encode(payload).decode("ascii")
        try:
            await client.publish(topic, orjson.dumps(row), qos=0)
        except aiomqtt.MqttError as exc:  # the loop notices a lost connection by itself
            logger.warning("mqtt %s: dead letter not published to %r: %s", self.name, topic, exc)


def _wildcard(key: str, topic: str) -> aiomqtt.Wildcard | None:
    if not topic:
        return None
    try:
        return aiomqtt.Wildcard(topic)
    except ValueError:
        raise ConfigError(f"mqtt.{key} {topic!r} is not a valid MQTT topic filter") from None


# How long a cancelled `run` waits for a connection attempt already under way to finish.
_CONNECT_GRACE_S = 2.0


@contextlib.asynccontextmanager
async def _session(client: aiomqtt.Client) -> AsyncIterator[None]:
    """`async with client`, made safe to cancel while connecting and while disconnecting.

    aiomqtt connects in a worker thread that cancelling does not stop; left alone it would open
    a socket and start a housekeeping task after `run` has returned. So a cancel during the
    connect waits (up to `_CONNECT_GRACE_S`) for the attempt to end and closes what it opened.
    A failing disconnect never hides the exception (or the cancel) that ended the session.
    """
    entering = asyncio.ensure_future(client.__aenter__())
    try:
        await asyncio.shield(entering)
    except asyncio.CancelledError:
        done, _ = await asyncio.wait([entering], timeout=_CONNECT_GRACE_S)
        if entering in done and not entering.cancelled() and entering.exception() is None:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.__aexit__(None, None, None)
        elif entering not in done:
            logger.warning("mqtt: cancelled during a connection attempt that did not end")
        raise
    try:
        yield
    except BaseException:
        with contextlib.suppress(aiomqtt.MqttError):
            await client.__aexit__(None, None, None)
        raise
    await client.__aexit__(None, None, None)


async def _settle(client: aiomqtt.Client) -> None:
    """Wait for the client's housekeeping task to end, so nothing outlives the connection."""
    task: asyncio.Task[None] | None = getattr(client, "_misc_task", None)
    if task is not None and not task.done():
        task.cancel()
        await asyncio.wait([task])  # returns when it ends; never raises its CancelledError
