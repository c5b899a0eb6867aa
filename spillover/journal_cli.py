"""`spillover journal`: show and export what the daemon journaled."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

out = Console()
err = Console(stderr=True, soft_wrap=True)  # error lines stay whole for grep and logs

DEFAULT_PATH = Path("state") / "journal.sqlite"


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
        err.print(f"[bold red]InputError[/]: --table {table!r}: use one of {', '.join(TABLES)}")
        raise typer.Exit(2)
    if not path.exists():
        err.print(
            f"[bold red]InputError[/]: {path}: no journal here (the daemon writes one under its state folder)"
        )
        raise typer.Exit(2)
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
            err.print(f"[bold red]InputError[/]: --export {export}: use .parquet or .jsonl")
            raise typer.Exit(2)
        out.print(f"{len(rows)} {table} row(s) written to {export}")
        return
    view = Table(title=f"{table} in {path} (newest first)", show_edge=False)
    columns = [c for c in (rows[0].keys() if rows else []) if c != "payload"]
    for c in columns:
        view.add_column(c)
    for r in rows:
        view.add_row(*(str(r[c]) for c in columns))
    out.print(view)
