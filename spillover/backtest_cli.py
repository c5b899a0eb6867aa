"""`spillover backtest` and `spillover data ...`: replay history, make synthetic history."""

from __future__ import annotations

import datetime as dt
import math
import sys
import tomllib
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from engine.errors import InputError, SpilloverError
from spillover.console import err, fail, out

data_app = typer.Typer(help="Make or fetch data to backtest on.", no_args_is_help=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, transient=False,
    )  # fmt: skip


def _date(text: str | None, what: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{what} {text!r}: write a date as YYYY-MM-DD") from None


def _writable_dir(path: Path, what: str = "--out") -> None:
    """Make the output folder now, so a long run never fails at its end for want of one."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".spillover-write-test"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise InputError(f"{what} {path}: cannot write there ({exc.strerror or exc})") from None


def _span(lo_ns: int, hi_ns: int) -> str:
    first, last = (
        dt.datetime.fromtimestamp(t / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M")
        for t in (lo_ns, hi_ns)
    )
    return f"{first} to {last} UTC"


def _check_overlap(news_ts: Any, market_ts: Any) -> None:
    """Stop when no headline falls within the market data's dates (a wrong file pairing);
    say how many fall outside when some do."""
    from backtests.errors import DataError

    lo, hi = int(market_ts.min()), int(market_ts.max())
    inside = int(((news_ts >= lo - 86_400 * 10**9) & (news_ts <= hi)).sum())
    headlines = _span(int(news_ts.min()), int(news_ts.max()))
    where = f"the market data covers {_span(lo, hi)}, the headlines {headlines}"
    if inside == 0:
        raise DataError(f"no headline falls within the market data's dates: {where}")
    if inside < len(news_ts):
        outside = f"{len(news_ts) - inside:,} of {len(news_ts):,}"
        err.print(f"{outside} headlines fall outside the market data's dates ({where}): "
                  "nothing trades on them")  # fmt: skip


def backtest(
    news: Annotated[
        Path | None,
        typer.Option(help="News file: JSON lines, CSV or Parquet (Alpaca's news shape)."),
    ] = None,
    market: Annotated[
        Path | None,
        typer.Option(
            help="Trades (ts, symbol, price, size) or daily bars (date, symbol, open, high, low, "
            "close, volume): one file, or a folder of SYMBOL.csv|parquet files."
        ),
    ] = None,
    strategy: Annotated[
        list[str] | None,
        typer.Option(
            help="Registered strategy name, module:Class, or an id under \\[strategies] in --config "
            "(default shock_hedge). Repeat to compare strategies over the same replay."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="TOML with \\[backtest], \\[strategy] and \\[venue] tables; flags override it."
        ),
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First day to replay (YYYY-MM-DD).")
    ] = None,
    to: Annotated[str | None, typer.Option(help="Last day to replay (YYYY-MM-DD).")] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Folder for trades/equity/events Parquet, summary.json, report.html."
        ),
    ] = None,
    config_dir: Annotated[
        Path | None,
        typer.Option(
            "--config-dir",
            help="Engine configs (default: the project's configs/).",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Replay news and trades through the engine and a strategy on a simulated clock.

    Headlines reach the strategy only after their receipt latency; orders fill at the next trade
    after the decision plus venue latency, with slippage and commission. Writes trades.parquet,
    equity.parquet, events.parquet (per headline: legs, realised moves by horizon, PnL),
    summary.json (return, Sharpe, drawdown, trades, hit rate, turnover, IC by horizon for
    subjects and spillover legs) and report.html.

    Several --strategy options run side by side over the same replay, each with its own cash;
    summary.json has a `strategies` table and report.html compares them.

    Example: spillover data synth --out synth && spillover backtest --news synth/news.parquet
    --market synth/trades.parquet --out bt --strategy shock_hedge --strategy news_momentum
    """

    from backtests.data import (
        bars_as_trades,
        between,
        load_market,
        load_news,
        load_tape,
        market_kind,
        unknown_symbols,
    )  # fmt: skip
    from backtests.metrics import (
        BAR_HORIZONS_S,
        HORIZONS_S,
        event_table,
        summary,
        summary_by_strategy,
    )
    from backtests.report import write_outputs
    from backtests.runner import run_backtest
    from engine.scoring import Scorer
    from spillover.backtest_config import config_tables

    try:
        cfg: dict[str, Any] = tomllib.loads(config.read_text()) if config else {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        fail(InputError(f"--config {config}: {exc}"))
    try:
        bt, venue_cfg = config_tables(cfg, config)
    except InputError as exc:
        fail(exc)
    news, market, out_dir = news or bt.news, market or bt.market, out_dir or bt.out
    if news is None or market is None or out_dir is None:
        fail(
            InputError("give --news, --market and --out (or set them in --config under [backtest])")
        )
    assert news is not None and market is not None and out_dir is not None
    try:
        start, end = _date(from_ or bt.from_, "--from"), _date(to or bt.to, "--to")
        if start and end and start > end:
            raise InputError(f"--from {start} is after --to {end}")
        _writable_dir(out_dir)
        news_df = between(load_news(news), "ts_event", start, end, "headlines")
        kind = market_kind(market)
        if kind == "trades":  # lean arrays all the way: no frame of millions of symbol strings
            trades: Any = tape_between(load_tape(market), start, end)
        else:
            trades = between(bars_as_trades(load_market(market).frame), "ts", start, end, "bars")
        market_ts = trades.ts if kind == "trades" else trades["ts"].to_numpy()
        _check_overlap(news_df["ts_event"].to_numpy(), market_ts)
        chosen = _strategies(strategy or [], cfg)
        scorer = Scorer.load(config_dir)
        venue = venue_cfg.settings()
    except SpilloverError as exc:
        fail(exc)
    unknown = (
        unknown_symbols(trades["symbol"], scorer.universe)
        if kind == "bars"
        else tape_unknown_symbols(trades, scorer.universe)
    )
    if unknown:
        listed = ", ".join(f"{s} ({n})" for s, n in list(unknown.items())[:10])
        err.print(f"{len(unknown)} symbol(s) in the market data are not in the universe: {listed}")
    cash = bt.cash
    with _progress() as bar:
        task = bar.add_task("replaying headlines", total=news_df.height)
        result = run_backtest(
            news_df, trades, chosen, scorer, venue=venue, cash=cash,
            receipt_latency_s=bt.receipt_latency_s,
            equity_every_s=60.0 if kind == "trades" else 86_400.0,
            sample_every_s=60.0 if kind == "trades" else 86_400.0,
            progress=lambda done, total: bar.update(task, completed=done),
        )  # fmt: skip
    if result.skipped_trades:
        err.print(
            f"{result.skipped_trades:,} {'trade' if kind == 'trades' else 'bar price'}(s) left "
            "out of the replay: no price, or one not above 0 (summary.json: skipped_trades)"
        )
    horizons = HORIZONS_S if kind == "trades" else BAR_HORIZONS_S
    events = event_table(result, trades, horizons)
    figures = summary(result, events, cash, horizons)
    figures["strategies"] = summary_by_strategy(result, events, cash, horizons)
    write_outputs(result, events, figures, out_dir)
    if len(chosen) > 1:
        _print_comparison(figures, out_dir)
        return
    table = Table(title=f"backtest → {out_dir}", show_edge=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in (
        "total_return",
        "sharpe",
        "max_drawdown",
        "n_trades",
        "hit_rate",
        "turnover",
        "pnl",
        "headlines",
        "headlines_traded",
    ):
        value = figures[key]
        table.add_row(key, _figure(value))
    ic = figures["ic"]
    assert isinstance(ic, dict)
    for group, by_h in ic.items():
        table.add_row(
            f"IC {group}",
            "  ".join(f"{h} {v:+.2f}" if v is not None else f"{h} -" for h, v in by_h.items()),
        )
    out.print(table)
    out.print(f"report: {out_dir / 'report.html'}", highlight=False, soft_wrap=True)


COMPARED = ("total_return", "sharpe", "max_drawdown", "n_trades", "hit_rate", "turnover", "pnl",
            "headlines_traded")  # fmt: skip


def tape_between(tape: Any, start: dt.date | None, end: dt.date | None) -> Any:
    """The tape's trades in [start, end] (whole days); error if none are left."""
    from backtests.data import TradeTape
    from backtests.errors import DataError

    if start is None and end is None:
        return tape
    lo = int(dt.datetime.combine(start, dt.time(), dt.UTC).timestamp() * 1e9) if start else None
    hi = int(dt.datetime.combine(end, dt.time.max, dt.UTC).timestamp() * 1e9) if end else None
    keep = np.ones(len(tape), bool)
    if lo is not None:
        keep &= tape.ts >= lo
    if hi is not None:
        keep &= tape.ts <= hi
    if not keep.any():
        raise DataError(f"no trades between {start or 'the start'} and {end or 'the end'}")
    return TradeTape(ts=tape.ts[keep], slot=tape.slot[keep], price=tape.price[keep],
                     symbols=tape.symbols)  # fmt: skip


def tape_unknown_symbols(tape: Any, universe: Any) -> dict[str, int]:
    """Trades per symbol the universe does not know (each reported, none fatal)."""
    counts = np.bincount(tape.slot, minlength=len(tape.symbols))
    out = {s: int(n) for s, n in zip(tape.symbols, counts, strict=True)
           if n and universe.find(s) is None}  # fmt: skip
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _strategies(names: list[str], cfg: dict[str, Any]) -> list[Any]:
    """Build the strategies to run from --strategy names and the config's tables.

    `[strategies.ID]` tables (`name = "..."` plus settings) define strategies by id; without
    --strategy they all run. A lone `[strategy]` table (`name` plus settings) configures the
    strategy of that name (or the only one).
    """
    from engine.strategy import StrategyLoadError, make_strategy

    by_id = {k: dict(v) for k, v in cfg.get("strategies", {}).items()}
    single = dict(cfg.get("strategy", {}))
    single_name = single.pop("name", None)
    names = names or list(by_id) or [single_name or "shock_hedge"]
    chosen = []
    for name in names:
        if name in by_id:
            settings = by_id[name]
            spec = settings.pop("name", name)
            settings.setdefault("strategy_id", name)
        else:
            spec = name
            settings = single if len(names) == 1 or single_name == name else {}
        try:
            chosen.append(make_strategy(spec, settings))
        except StrategyLoadError as exc:
            if name not in by_id:
                raise
            raise StrategyLoadError(f"--config table strategies.{name}: {exc}") from None
    ids = [s.config.strategy_id for s in chosen]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise InputError(
            f"strategy id {', '.join(twice)} used twice: give each its own [strategies.ID] table"
        )
    return chosen


def _figure(value: object) -> str:
    """A summary figure as the tables show it ("-": none, e.g. no hit rate without trades)."""
    return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _print_comparison(figures: dict[str, Any], out_dir: Path) -> None:
    per = figures["strategies"]
    table = Table(title=f"backtest → {out_dir} (strategies side by side)", show_edge=False)
    table.add_column("measure")
    for sid in per:
        table.add_column(sid, justify="right")
    for key in COMPARED:
        cells = []
        for sid in per:
            value = per[sid].get(key)
            cells.append(_figure(value))
        table.add_row(key, *cells)
    out.print(table)
    out.print(
        f"{figures['headlines']} headlines; report: {out_dir / 'report.html'}",
        highlight=False,
        soft_wrap=True,
    )


@data_app.command("synth")
def synth(
    out_dir: Annotated[
        Path,
        typer.Option("--out", help="Folder to write news.parquet, trades.parquet, truth.parquet."),
    ],
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 1,
    days: Annotated[int, typer.Option(help="Trading days to simulate.", min=1)] = 20,
    symbols: Annotated[
        int, typer.Option(help="How many linked companies to simulate.", min=2)
    ] = 20,
    headlines_per_day: Annotated[
        float, typer.Option(help="Average headlines a day (about 30% are noise).", min=0.0)
    ] = 20.0,
    trades_per_day: Annotated[int, typer.Option(help="Trades per symbol per day.", min=10)] = 2000,
    start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD).")] = "2024-01-02",
) -> None:
    """Simulate a market with planted news shocks and spillovers (ground truth in truth.parquet)."""
    from backtests.synth import generate

    try:
        _date(start, "--start")
        with _progress() as bar:
            task = bar.add_task("simulating days", total=days)
            result = generate(
                out_dir, seed, days, symbols, headlines_per_day=headlines_per_day,
                trades_per_symbol_per_day=trades_per_day, start=start,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )  # fmt: skip
    except SpilloverError as exc:
        fail(exc)
    out.print(
        f"wrote {result.n_news} headlines ({result.n_planted} with planted impact), "
        f"{result.n_trades:,} trades over {len(result.symbols)} symbols and {result.days} days, "
        f"{result.n_truth} truth rows to {out_dir}"
    )
    sys.stdout.flush()


def _floats(
    text: str, what: str, *, above: float | None = None, least: float | None = None
) -> list[float]:
    """Comma-separated numbers (at least one), each above `above` or at least `least`."""
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"{what} {text!r}: write numbers separated by commas") from None
    if not values:
        raise InputError(f"{what} {text!r}: give at least one number")
    bound = (
        f"above {above:g}" if above is not None
        else f"at least {least:g}" if least is not None
        else "finite"
    )  # fmt: skip
    for v in values:
        if (
            not math.isfinite(v)
            or (above is not None and v <= above)
            or (least is not None and v < least)
        ):
            raise InputError(f"{what}: {v:g} is out of range: each must be {bound}")
    return values


SWEEP_HEDGES = ("none", "mean")


def _sweep_grid(
    thresholds: str, holds: str, hedges: str
) -> tuple[list[float], list[float], list[str]]:
    """The grid from the options, checked before any data is read."""
    modes = [h.strip() for h in hedges.split(",") if h.strip()]
    wrong = [h for h in modes if h not in SWEEP_HEDGES]
    if wrong or not modes:
        raise InputError(f"--hedges {hedges!r}: use {' or '.join(SWEEP_HEDGES)} (comma-separated)")
    return (_floats(thresholds, "--thresholds", least=0.0),
            _floats(holds, "--holds", above=0.0), modes)  # fmt: skip


def sweep(
    news: Annotated[Path, typer.Option(help="News file (as for backtest).")],
    market: Annotated[Path, typer.Option(help="Trades or bars (as for backtest).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for sweep.parquet.")],
    thresholds: Annotated[
        str, typer.Option(help="Comma-separated |score| thresholds.")
    ] = "0.1,0.15,0.2,0.3,0.4",
    holds: Annotated[
        str, typer.Option(help="Comma-separated holding times in seconds.")
    ] = "60,300,900,1800,3600",
    hedges: Annotated[
        str, typer.Option(help="Comma-separated hedge modes: none, mean.")
    ] = "none,mean",
    workers: Annotated[int | None, typer.Option(help="Processes (default: all cores).")] = None,
    config_dir: Annotated[
        Path | None, typer.Option("--config-dir", help="Engine configs.", file_okay=False)
    ] = None,
) -> None:
    """Evaluate a grid of basket settings with the numba fast path, spread over processes.

    Headlines are scored once; each (threshold, holding time, hedge) is then an array pass. The
    fast path matches the event-driven `shock_hedge` run with the same settings (no stop or
    take-profit, sizes proportional to score) to 1e-6 (tests/backtests/test_sweep.py).
    """
    import time

    from backtests.data import bars_as_trades, load_market, load_news
    from backtests.sweep import prepare, run_grid
    from engine.scoring import Scorer

    try:
        grid = _sweep_grid(thresholds, holds, hedges)
        _writable_dir(out_dir)
        data = load_market(market)
        frame = data.frame if data.kind == "trades" else bars_as_trades(data.frame)
        inputs = prepare(load_news(news), frame, Scorer.load(config_dir))
        t0 = time.perf_counter()
        result = run_grid(inputs, *grid, workers=workers)
        elapsed = time.perf_counter() - t0
    except (SpilloverError, ValueError) as exc:
        fail(exc)
    out_dir.mkdir(parents=True, exist_ok=True)
    result.write_parquet(out_dir / "sweep.parquet")
    table = Table(
        title=f"{result.height} settings in {elapsed:.2f}s → {out_dir / 'sweep.parquet'}",
        show_edge=False,
    )
    for col in ("threshold", "hold_s", "hedge", "pnl"):
        table.add_column(col, justify="right")
    for row in result.head(10).iter_rows(named=True):
        table.add_row(
            f"{row['threshold']:.2f}", f"{row['hold_s']:.0f}", row["hedge"], f"{row['pnl']:,.0f}"
        )
    out.print(table)


@data_app.command("alpaca")
def alpaca(
    symbols: Annotated[str, typer.Option(help="Comma-separated tickers, e.g. META,CRWV,NBIS,MU.")],
    start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option(help="Last day (YYYY-MM-DD).")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for news.jsonl and bars/ or trades/.")
    ],
    kind: Annotated[str, typer.Option(help="bars (daily) or trades.")] = "bars",
    url: Annotated[
        str | None, typer.Option(help="Another Alpaca-compatible data URL (tests, proxies).")
    ] = None,
) -> None:
    """Download historical news and daily bars or trades from Alpaca (keys from the environment).

    Needs APCA_API_KEY_ID and APCA_API_SECRET_KEY. Paged by the client; resumable: a rerun
    with the same request skips what is already on disk (see manifest.json).
    """
    from backtests.alpaca_download import download, keys_from_env

    try:
        first, last = _date(start, "--start"), _date(end, "--end")
        assert first is not None and last is not None
        if kind not in ("bars", "trades"):
            raise InputError(f"--kind {kind!r}: use bars or trades")
        key, secret = keys_from_env()
        wanted = [s for s in symbols.split(",") if s.strip()]
        with _progress() as bar:
            task = bar.add_task("downloading", total=len(wanted) + 1)
            result = download(
                wanted, first, last, out_dir, kind=kind, api_key=key, secret_key=secret,  # type: ignore[arg-type]
                url_override=url,
                progress=lambda part, done, total: bar.update(task, completed=done, total=total, description=part),
            )  # fmt: skip
    except SpilloverError as exc:
        fail(exc)
    rows = sum(result.rows.values())
    out.print(
        f"{len(result.downloaded)} part(s) downloaded, {len(result.skipped)} already done; "
        f"{rows:,} rows in {out_dir}"
    )
