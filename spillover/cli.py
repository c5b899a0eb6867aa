"""The `spillover` command line: score headlines, evaluate the scorer, check the universe."""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from engine.errors import InputError, SpilloverError
from spillover.backtest_cli import backtest, data_app, sweep
from spillover.console import err, fail, out
from spillover.daemon_cli import run as run_daemon_command
from spillover.journal_cli import journal
from spillover.strategies_cli import strategies_app

app = typer.Typer(
    help="Spillover: score a headline's shock for the company it names and its spillover to "
    "related tickers, and trade it as a hedged basket.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
universe_app = typer.Typer(help="Inspect and validate the universe of companies, links and themes.")
app.add_typer(universe_app, name="universe")
app.add_typer(data_app, name="data")
app.command("backtest")(backtest)
app.command("sweep")(sweep)
app.command("journal")(journal)
app.command("run")(run_daemon_command)
app.add_typer(strategies_app, name="strategies")

log = logging.getLogger("spillover")

ConfigDir = Annotated[
    Path | None,
    typer.Option(
        "--config-dir",
        help="Folder holding default.toml, universe/ and lexicon/ (default: the project's configs/, "
        "or $SPILLOVER_CONFIG_DIR).",
        file_okay=False,
    ),
]


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, show_time=False)],
    )


def _scorer(config_dir: Path | None, threshold: float | None = None) -> Any:
    from engine.paths import config_dir as default_dir
    from engine.scoring import Scorer
    from engine.settings import settings_from

    root = config_dir or default_dir()
    path = root / "default.toml" if (root / "default.toml").exists() else None
    scoring = settings_from(path).scoring
    if threshold is not None:
        scoring = scoring.model_copy(update={"threshold": threshold})
    return Scorer.load(root, scoring)


def _color(score: float) -> str:
    return "green" if score > 0 else "red"


def _print_shock(shock: Any, threshold: float, every_leg: bool = False) -> None:
    subjects = ", ".join(shock.subjects) or "none found"
    events = (
        ", ".join(
            f"{e.label} ({e.confidence:.2f})" if e.confidence > 0 else f"{e.label} (negated)"
            for e in shock.events
        )
        or "none"
    )
    out.print(f"[bold]{shock.headline}[/]", highlight=False)
    out.print(f"  subjects: {subjects}   events: {events}", highlight=False)
    scale = []
    if shock.confidence < 1:
        scale.append(f"hedged ×{shock.confidence:.2f}")
    if shock.novelty < 1:
        scale.append(f"repeat ×{shock.novelty:.2f}")
    for note in shock.notes:
        scale.append(note)
    if scale:
        out.print("  " + "; ".join(scale), highlight=False)
    if not shock.legs:
        out.print("  [dim]no shock: nothing here moves a price[/]")
        return
    table = Table(show_edge=False, pad_edge=False, box=None)
    table.add_column("", width=1)
    table.add_column("symbol")
    table.add_column("score", justify="right")
    table.add_column("role")
    table.add_column("why")
    shown = [leg for leg in shock.legs if every_leg or abs(leg.score) >= threshold]
    shown = shown or shock.legs[:3]
    for leg in shown:
        mark = "●" if abs(leg.score) >= threshold else ""
        table.add_row(
            mark,
            leg.symbol,
            f"[{_color(leg.score)}]{leg.score:+.2f}[/]",
            leg.role,
            leg.why,
        )
    out.print(table)
    hidden = len(shock.legs) - len(shown)
    more = (
        f"; {hidden} smaller leg(s) not shown (--all-legs or --json shows them)" if hidden else ""
    )
    out.print(f"  [dim]● = |score| ≥ {threshold} (trades){more}[/]")


def _read_lines(source: str) -> Iterator[tuple[int, bytes]]:
    stream = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
    try:
        yield from enumerate(stream, 1)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


@app.command()
def score(
    text: Annotated[str | None, typer.Argument(help="Headline to score.")] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
    input_path: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            help="JSON-lines file of news objects (Alpaca's news shape works as is; needs 'headline'), "
            "or '-' for stdin. Writes one JSON line per input.",
        ),
    ] = None,
    date: Annotated[
        str | None,
        typer.Option(
            help="When the headline was published (ISO date/time): picks the tickers in force then."
        ),
    ] = None,
    source: Annotated[str, typer.Option(help="News source, for its credibility weight.")] = "",
    all_legs: Annotated[
        bool, typer.Option("--all-legs", help="Show every leg, not only those that trade.")
    ] = False,
    config_dir: ConfigDir = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Score a headline: its subjects, events, and a shock for every symbol it moves.

    Examples:

      spillover score "Cisco to buy Splunk for $28 billion in cash" --date 2023-09-21

      spillover score --json "Nike cuts its full-year sales forecast"

      spillover score --input news.jsonl > shocks.jsonl
    """
    _setup_logging(verbose)
    if (text is None) == (input_path is None):
        fail(InputError("give a headline, or --input FILE (or '-' for stdin), but not both"))
    try:
        scorer = _scorer(config_dir)
    except SpilloverError as exc:
        fail(exc)
    from engine.news import news_from_mapping

    if text is not None:
        try:
            item = news_from_mapping(
                {"id": "", "headline": text, "created_at": date, "source": source}
            )
        except InputError as exc:
            fail(exc)
        shock = scorer.score(item)
        if json_out:
            sys.stdout.write(orjson.dumps(shock.to_dict()).decode() + "\n")
        else:
            _print_shock(shock, scorer.threshold, all_legs)
        return
    assert input_path is not None
    if input_path != "-" and not Path(input_path).is_file():
        fail(InputError(f"--input {input_path}: no such file"))
    failed = _score_stream(scorer, input_path)
    if failed:
        err.print(f"{failed} line(s) could not be scored (see above); the rest were.")
        raise typer.Exit(1)


def _score_stream(scorer: Any, source: str) -> int:
    """Score JSON lines from `source`, writing one JSON line each; return how many failed."""
    from engine.news import news_from_mapping

    failed = 0
    batch: list[Any] = []
    write = sys.stdout.buffer.write
    interactive = source == "-"

    def flush() -> None:
        if not batch:
            return
        result = scorer.score_batch(batch)
        for i in range(len(batch)):
            write(orjson.dumps(result.shock(i).to_dict()) + b"\n")
        sys.stdout.buffer.flush()
        batch.clear()

    for n, raw in _read_lines(source):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
            err.print(f"line {n}: invalid UTF-8 replaced with U+FFFD", highlight=False)
        try:
            obj = orjson.loads(text)
            item = news_from_mapping(obj, fallback_id=f"line-{n}")
        except orjson.JSONDecodeError as exc:
            failed += 1
            err.print(f"line {n}: not JSON ({exc})", highlight=False)
            continue
        except InputError as exc:
            failed += 1
            err.print(f"line {n}: {exc}", highlight=False)
            continue
        batch.append(item)
        if interactive or len(batch) >= 4096:
            flush()
    flush()
    return failed


@app.command("eval")
def eval_(
    cases: Annotated[
        Path,
        typer.Option(
            "--cases", help="Case file: JSON lines like ../shared/examples/headlines.jsonl."
        ),
    ],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the totals as one JSON object.")
    ] = False,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="|score| needed for a hit (default: the trading threshold in default.toml)."
        ),
    ] = None,
    config_dir: ConfigDir = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Measure directional accuracy on labelled headlines, and false positives on routine ones.

    A pair (case, expected symbol) is correct when the symbol's score has the expected sign and
    |score| ≥ threshold; a `neutral` symbol is a false positive when |score| ≥ threshold.
    """
    _setup_logging(verbose)
    from engine.scoring.evaluate import evaluate, read_cases

    try:
        scorer = _scorer(config_dir, threshold)
        report = evaluate(scorer, read_cases(cases), threshold)
    except SpilloverError as exc:
        fail(exc)
    if json_out:
        summary = report.summary()
        summary["cases"] = [
            {
                "id": r.case.id,
                "subjects": r.subjects,
                "events": r.events,
                "pairs": [
                    {
                        "symbol": p.symbol,
                        "expected": p.expected,
                        "score": round(p.score, 4),
                        "ok": p.ok,
                    }
                    for p in r.pairs
                ],
                "neutral": [
                    {"symbol": p.symbol, "score": round(p.score, 4), "ok": p.ok} for p in r.neutrals
                ],
            }
            for r in report.cases
        ]
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
        return
    table = Table(title=f"{cases} (threshold {report.threshold})", show_lines=False)
    table.add_column("case")
    table.add_column("events")
    table.add_column("expected → scored")
    for r in report.cases:
        cells = []
        for p in r.pairs:
            mark = "[green]✓[/]" if p.ok else "[red]✗[/]"
            unknown = " (unknown symbol)" if not p.known else ""
            cells.append(
                f"{mark} {p.symbol} {'+' if p.expected > 0 else '-'} → {p.score:+.2f}{unknown}"
            )
        for p in r.neutrals:
            mark = "[green]✓[/]" if p.ok else "[red]✗[/]"
            cells.append(f"{mark} {p.symbol} neutral → {p.score:+.2f}")
        table.add_row(r.case.id, ", ".join(r.events) or "-", "\n".join(cells))
    out.print(table)
    s = report.summary()
    out.print(
        f"directional accuracy {s['correct']}/{s['pairs']} = {s['accuracy']:.1%}; "
        f"neutral false positives {s['neutral_false_positives']}/{s['neutral_pairs']}"
    )


@universe_app.command("check")
def universe_check(
    config_dir: ConfigDir = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print counts and problems as JSON.")
    ] = False,
) -> None:
    """Validate companies, links, themes and the lexicon; print counts; exit 1 on problems.

    Reports unknown symbols in links and themes, aliases two companies share, companies without
    sector or industry, duplicate links, and lexicon patterns that do not parse.
    """
    _setup_logging(False)
    from engine.lexicon import load_lexicon
    from engine.paths import config_dir as default_dir
    from engine.scoring.compile import compile_model
    from engine.universe import day_of, load_universe
    from engine.universe.check import check_universe

    root = config_dir or default_dir()
    try:
        universe = load_universe(root / "universe")
        lexicon = load_lexicon(root / "lexicon")
        report = check_universe(universe, day_of(dt.date.today()))
        compiled = compile_model(universe, lexicon)
    except SpilloverError as exc:
        fail(exc)
    counts = dict(report.counts)
    counts["event types"] = len(lexicon.events)
    counts["event patterns"] = sum(
        len(e.patterns) + len(e.patterns_passive) for e in lexicon.events
    )
    counts["symbols (all periods)"] = len(compiled.symbols)
    problems = sorted(set(report.problems) | set(compiled.problems))
    if json_out:
        sys.stdout.write(orjson.dumps({"counts": counts, "problems": problems}).decode() + "\n")
    else:
        table = Table(title=f"universe {root}", show_edge=False)
        table.add_column("what")
        table.add_column("count", justify="right")
        for k, v in counts.items():
            table.add_row(k, str(v))
        out.print(table)
        for p in problems:
            err.print(f"[yellow]problem[/]: {p}", highlight=False)
        out.print(f"{len(problems)} problem(s)")
    if problems:
        raise typer.Exit(1)


def _reflow(text: str) -> str:
    """Join a docstring's wrapped lines into paragraphs (typer keeps single line breaks)."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def _reflow_help(typer_app: typer.Typer) -> None:
    for command in typer_app.registered_commands:
        if command.help is None and command.callback is not None and command.callback.__doc__:
            command.help = _reflow(command.callback.__doc__)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _reflow_help(group.typer_instance)


def main() -> None:
    """Entry point of the `spillover` console script."""
    _reflow_help(app)
    try:
        app()
    except SpilloverError as exc:
        err.print(f"[bold red]{type(exc).__name__}[/]: {escape(str(exc))}", highlight=False)
        sys.exit(2)
