"""`spillover journal`: show and export what the daemon journaled."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from engine.errors import InputError
from spillover.console import fail, out

DEFAULT_PATH = Path(".spillover") / "journal.sqlite"


def journal(
    path: Annotated[
        Path, typer.Option(help="The journal file (the daemon's state folder).")
    ] = DEFAULT_PATH,
    table: Annotated[str, typer.Option(help="news, shocks, orders or fills.")] = "orders",
    limit: Annotated[int, typer.Option(help="Newest rows to show (0: all).", min=0)] = 20,
    export: Annotated[
        Path | None,
        typer.Option(help="Write the whole table to FILE.parquet or FILE.jsonl instead."),
    ] = None,
) -> None:
    """Show the newest rows of a journal table, or export the whole table."""
    from engine.journal import TABLES, Journal

    if table not in TABLES:
        fail(InputError(f"--table {table!r}: use one of {', '.join(TABLES)}"))
    if not path.exists():
        fail(InputError(f"{path}: no journal here (the daemon writes one under its state folder)"))
    with Journal(path) as book:
        rows = list(book.iter_table(table, None if export or limit == 0 else limit))
    if export is not None:
        if export.suffix == ".parquet":
            import polars as pl

            flat = [
                {
                    k: (orjson.dumps(v).decode() if isinstance(v, dict | list) else v)
                    for k, v in r.items()
                }
                for r in rows
            ]
            pl.DataFrame(flat).write_parquet(export)
        elif export.suffix in (".jsonl", ".json"):
            export.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
        else:
            fail(InputError(f"--export {export}: use .parquet or .jsonl"))
        out.print(f"{len(rows)} {table} row(s) written to {export}")
        return
    view = Table(title=f"{table} in {path} (newest first)", show_edge=False)
    shown = SHOWN.get(table)
    columns = [c for c in (rows[0].keys() if rows else []) if c != "payload"]
    columns = [c for c in columns if shown is None or c in shown]
    cells = [[_cell(c, r[c]) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    # every column whole but the ids and the headline, which share what is left of the width
    ids = [i for i, c in enumerate(columns) if c in SHRINKS]
    fixed = sum(w + 3 for i, w in enumerate(widths) if i not in ids)
    room = max(8, (out.width - fixed) // max(1, len(ids)) - 3)
    for i, c in enumerate(columns):
        if i in ids:
            view.add_column(c, no_wrap=c != "headline", overflow="ellipsis", max_width=room)
        else:
            view.add_column(c, no_wrap=True, min_width=widths[i],
                            justify="right" if c in NUMBERS else "left")  # fmt: skip
    for row in cells:
        view.add_row(*row)
    out.print(view)


# the columns worth a terminal's width; --export writes them all
SHOWN = {
    "news": ("ts_init", "id", "headline"),
    "shocks": ("ts", "news_id"),
    "orders": ("ts_init", "client_order_id", "news_id", "symbol", "qty", "leg", "status"),
    "fills": ("ts_event", "client_order_id", "symbol", "qty", "price", "commission"),
}


NUMBERS = ("qty", "price", "commission")
SHRINKS = ("client_order_id", "news_id", "id", "headline")  # cut (or wrapped) to fit the width


def _cell(column: str, value: object) -> str:
    if column in ("ts_init", "ts_event", "ts", "updated_ns") and isinstance(value, int):
        return dt.datetime.fromtimestamp(value / 1e9, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        if column == "price":
            return f"{value:,.2f}"
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.6g}"  # shares whole
    return str(value)
