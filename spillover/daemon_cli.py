"""`spillover run`: the paper-trading daemon, composed from settings.

With no config it replays a generated sample (news and trades) at accelerated speed through the
live engine and the simulated broker, journals under `.spillover/`, and shows a live terminal
view. `configs/mqtt.toml` and `configs/alpaca-paper.toml` switch to real feeds and brokers.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from engine.errors import ConfigError, InputError, SpilloverError
from engine.settings import Settings, settings_from
from spillover.console import err, fail, out

log = logging.getLogger("spillover.run")


def load_daemon_settings(config: Path | None, overrides: dict[str, Any]) -> Settings:
    """Settings from `config` (default configs/default.toml), the environment and flags."""
    if config is not None and not config.is_file():
        raise InputError(f"--config {config}: no such file")
    return settings_from(config, **overrides)


def _sample(settings: Settings) -> tuple[Path, Path]:
    """The replay's news and trades: given files, or a generated sample (made once, kept)."""
    replay = settings.replay
    if replay.news and replay.trades:
        return replay.news, replay.trades
    from backtests.synth import generate

    folder = settings.daemon.state_dir / (
        f"sample-seed{replay.seed}-{replay.days}d-{replay.symbols}s"
    )
    if not (folder / "trades.parquet").exists():
        err.print(f"generating a sample market in {folder} ...", highlight=False)
        generate(folder, replay.seed, replay.days, replay.symbols)
    return replay.news or folder / "news.parquet", replay.trades or folder / "trades.parquet"


def build_node(settings: Settings, config_dir: Path | None = None) -> Any:
    """Compose the daemon from settings: scorer, strategies, feeds, broker, journal."""
    from engine.clock import Clock, LiveClock
    from engine.feeds.dead_letters import DeadLetterFile
    from engine.journal import Journal
    from engine.live.node import LiveNode
    from engine.scoring import Scorer
    from engine.strategy import make_strategy

    daemon = settings.daemon
    if "replay" in daemon.feeds and len(daemon.feeds) > 1:
        raise ConfigError("daemon.feeds: the replay runs on its own clock; use it alone")
    scorer = Scorer.load(config_dir, settings.scoring)
    scorer.score("warm-up", novelty=False)  # loads the compiled kernels before the first headline
    strategies = [
        (make_strategy(entry.name, entry.settings), entry.cash) for entry in settings.strategies
    ]
    clock: Clock = LiveClock()
    feeds: list[Any] = []
    state = daemon.state_dir
    journal_path = state / "journal.sqlite"
    if "replay" in daemon.feeds:
        feed = _replay_feed(settings)
        clock = feed.clock
        journal_path = state / "replay" / "journal.sqlite"
        for stale in journal_path.parent.glob("journal.sqlite*"):
            stale.unlink()  # a replay starts from its beginning, so does its journal
        feeds.append(feed)
    if "mqtt" in daemon.feeds:
        from engine.feeds.mqtt import MqttFeed

        feeds.append(MqttFeed(settings.mqtt, clock))
    if "alpaca" in daemon.feeds:
        symbols = settings.alpaca.symbols or [c.symbol for c in scorer.universe.companies]
        from engine.feeds.alpaca import AlpacaFeed

        feeds.append(AlpacaFeed(settings.alpaca, clock, symbols))
    if settings.broker.kind == "alpaca":
        from engine.brokers.alpaca import AlpacaBroker

        broker: Any = AlpacaBroker(settings.alpaca, clock)
    else:
        from engine.live.sim_broker import SimBroker

        broker = SimBroker(settings.broker, clock)
    journal = Journal(journal_path)
    dead = DeadLetterFile(state / "dead-letters.jsonl")
    return LiveNode(
        settings, scorer, strategies, feeds, broker, journal, clock=clock, dead_letters=dead
    )


def _replay_feed(settings: Settings) -> Any:
    from backtests.data import bars_as_trades, load_market, load_news
    from engine.clock import ReplayClock
    from engine.live.replay import ReplayFeed, ReplayNews

    news_path, trades_path = _sample(settings)
    news = load_news(news_path)
    market = load_market(trades_path)
    trades = market.frame if market.kind == "trades" else bars_as_trades(market.frame)
    if "size" not in trades.columns:
        import polars as pl

        trades = trades.with_columns(pl.lit(0.0).alias("size"))
    items = [
        ReplayNews(
            id=str(row["id"]), headline=row["headline"], ts_event=row["ts_event"],
            summary=row["summary"] or "", symbols=tuple(row["symbols"] or ()),
            source=row["source"] or "",
        )
        for row in news.iter_rows(named=True)
    ]  # fmt: skip
    clock = ReplayClock()
    feed = ReplayFeed(
        items, trades["ts"].to_numpy(), trades["symbol"].to_list(), trades["price"].to_numpy(),
        trades["size"].cast(float).to_numpy(), clock, speed=settings.replay.speed,
        batch_ms=settings.replay.batch_ms,
    )  # fmt: skip
    clock.advance_to(feed.first_ts())
    return feed


async def run_daemon(node: Any, *, duration_s: float | None, view: str) -> int:
    """Run until SIGINT/SIGTERM, the duration, or every feed ending; return the exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _on_signal, stop, sig)
    if duration_s is not None:
        loop.call_later(duration_s, stop.set)
    viewer: asyncio.Task[None] | None = None
    try:
        await node.start()
        if node.http_url:
            err.print(f"status: {node.http_url}/api/state  metrics: {node.http_url}/metrics")
        if view == "live":
            from spillover.live_view import show

            viewer = asyncio.create_task(show(node, stop))
        await node.run(stop)
    finally:
        if viewer is not None:
            viewer.cancel()
            await asyncio.gather(viewer, return_exceptions=True)
        await node.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    _summary(node)
    return 0


def _on_signal(stop: asyncio.Event, sig: signal.Signals) -> None:
    if stop.is_set():
        log.warning("second %s: exiting now", sig.name)
        sys.exit(130)
    log.warning("%s: stopping intake, finishing in-flight work", sig.name)
    stop.set()


def _summary(node: Any) -> None:
    c = node.counters
    state = node.state()
    out.print(
        f"{c.news} headlines ({c.duplicate_news} repeats, {c.stale_news} stale), "
        f"{c.shocks_traded} traded; {c.trades:,} trades; {c.orders_sent} orders sent, "
        f"{c.orders_blocked} blocked, {c.fills} fills; {c.bad_messages} bad messages; "
        f"PnL {state['pnl']:+,.2f}; journal {node.journal.path}",
        highlight=False,
        soft_wrap=True,
    )


def run(
    config: Annotated[
        Path | None,
        typer.Option(
            help="Settings TOML (e.g. configs/mqtt.toml, configs/alpaca-paper.toml); default: "
            "configs/default.toml, which replays a generated sample through the simulator."
        ),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds (default: run until stopped)."),
    ] = None,
    speed: Annotated[
        float | None, typer.Option(help="Replay speed: replayed seconds per second (default 60).")
    ] = None,
    state_dir: Annotated[
        Path | None, typer.Option(help="Journal, dead letters and samples (default .spillover).")
    ] = None,
    view: Annotated[
        str | None,
        typer.Option(help="live (terminal dashboard), log (log lines) or off (default: live)."),
    ] = None,
    http_port: Annotated[
        int | None, typer.Option(help="Status port (0: any free port; default 8765).")
    ] = None,
    config_dir: Annotated[
        Path | None,
        typer.Option(
            "--config-dir", help="Universe and lexicon folder (default configs/).", file_okay=False
        ),
    ] = None,
) -> None:
    """Run the paper-trading daemon: news and ticks in, hedged baskets out.

    Every headline is journaled on receipt, scored, and traded by the strategies as a basket of
    paper orders; the journal (SQLite) lets a restart carry on without acting twice. Status at
    http://127.0.0.1:8765 (/healthz, /metrics, /api/state; POST /api/kill with
    SPILLOVER_HTTP__KILL_TOKEN set). Every setting can also come from the environment as
    SPILLOVER_<SECTION>__<KEY>, e.g. SPILLOVER_MQTT__PORT=1884. Stop with Ctrl-C (SIGINT) or
    SIGTERM: intake stops, in-flight work finishes, the journal is flushed, exit 0.
    """
    overrides: dict[str, Any] = {}
    if speed is not None:
        overrides["replay"] = {"speed": speed}
    daemon: dict[str, Any] = {}
    if state_dir is not None:
        daemon["state_dir"] = state_dir
    if view is not None:
        if view not in ("live", "log", "off"):
            fail(InputError(f"--view {view!r}: use live, log or off"))
        daemon["view"] = view
    if daemon:
        overrides["daemon"] = daemon
    if http_port is not None:
        overrides["http"] = {"port": http_port}
    try:
        settings = load_daemon_settings(config, overrides)
        chosen = settings.daemon.view
        if chosen == "live" and not out.is_terminal:
            chosen = "log"
        _setup_logging(chosen)
        node = build_node(settings, config_dir)
        code = asyncio.run(run_daemon(node, duration_s=duration, view=chosen))
    except OSError as exc:
        if getattr(exc, "errno", None) == 98:
            fail(
                InputError(
                    f"{exc.strerror}: the status port is taken; pass --http-port 0 or set SPILLOVER_HTTP__PORT"
                )
            )
        fail(exc)
    except SpilloverError as exc:
        fail(exc)
    raise typer.Exit(code)


def _setup_logging(view: str) -> None:
    if view == "log":
        from spillover.log_format import JsonLines

        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLines())
        level = logging.INFO
    else:
        from rich.logging import RichHandler

        handler = RichHandler(console=err, show_path=False)
        level = logging.WARNING if view == "live" else logging.ERROR
    logging.basicConfig(level=level, handlers=[handler], force=True)
