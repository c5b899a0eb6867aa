"""`spillover strategies ...`: list the installed strategies, show one, scaffold a plugin.

The lead mounts it with `app.add_typer(strategies_app, name="strategies")` in `spillover/cli.py`.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from engine.errors import InputError, SpilloverError
from spillover.console import fail, out

strategies_app = typer.Typer(
    help="Strategies: list the installed ones, show one's settings, scaffold a plugin.",
    no_args_is_help=True,
)


def _fields(cls: Any) -> list[dict[str, Any]]:
    """Settings of a strategy's config class: name, type, default, description."""
    rows = []
    for name, info in cls.config_class.model_fields.items():
        if name == "strategy_id":
            continue
        kind = info.annotation
        rows.append(
            {"name": name, "default": info.default, "description": info.description or "",
             "type": kind.__name__ if isinstance(kind, type) else str(kind).replace("typing.", "")}
        )  # fmt: skip
    return rows


def _summary(cls: Any) -> str:
    doc = inspect.getdoc(cls) or ""
    return doc.splitlines()[0] if doc else ""


@strategies_app.command("list")
def list_(
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per strategy, one a line.")
    ] = False,
) -> None:
    """Show the strategies registered under `spillover.strategies`, their settings and defaults.

    A plugin that fails to load is listed with its error; the others still load.
    """
    from engine.strategy import discover_strategies

    infos = discover_strategies()
    if json_out:
        for info in infos.values():
            row: dict[str, Any] = {"name": info.name, "target": info.target,
                                   "distribution": info.distribution, "error": info.error}  # fmt: skip
            if info.cls is not None:
                row["summary"] = _summary(info.cls)
                row["settings"] = {f["name"]: f["default"] for f in _fields(info.cls)}
            sys.stdout.write(json.dumps(row, default=str) + "\n")
        return
    table = Table(title="installed strategies (entry-point group spillover.strategies)")
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("package / class", overflow="fold")
    table.add_column("settings: type = default", overflow="fold")
    for info in infos.values():
        where = f"{escape(info.distribution or '?')}\n[dim]{escape(info.target)}[/]"
        name = escape(info.name)
        if info.cls is None:
            table.add_row(f"[red]{name}[/]", where, f"[red]failed to load[/]: {escape(info.error)}")
            continue
        settings = "\n".join(
            escape(f"{f['name']}: {f['type']} = {f['default']!r}") for f in _fields(info.cls)
        )
        table.add_row(name, f"{where}\n{escape(_summary(info.cls))}", settings or "[dim]none[/]")
    out.print(table)
    _print_extensions()
    broken = sum(info.cls is None for info in infos.values())
    out.print(
        f"{len(infos) - broken} strategies loaded"
        + (f", [red]{broken} failed[/] (see above)" if broken else "")
        + "; `spillover strategies show NAME` for one's settings schema"
    )


def _print_extensions() -> None:
    """One line per installed scoring extension (data pack or scorer stage), if any."""
    from engine.extensions import DATA_GROUP, SCORER_GROUP, discover_extensions

    for group, what in ((DATA_GROUP, "data pack"), (SCORER_GROUP, "scorer stage")):
        for ext in discover_extensions(group):
            state = f"[red]skipped[/]: {escape(ext.error)}" if ext.error else "[green]loaded[/]"
            order = f" (order {ext.value.order})" if group == SCORER_GROUP and not ext.error else ""
            out.print(
                f"{what} [bold]{escape(ext.name)}[/] = {escape(ext.target)}{order}: {state}",
                highlight=False,
            )


@strategies_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Registered name or module:Class.")],
) -> None:
    """Print a strategy's docstring and the JSON schema of its settings."""
    from engine.strategy import load_strategy_class

    try:
        cls = load_strategy_class(name)
    except SpilloverError as exc:
        fail(exc)
    module = sys.modules.get(cls.__module__)
    out.print(f"[bold]{escape(name)}[/] = {cls.__module__}:{cls.__qualname__}", highlight=False)
    out.print(escape(inspect.getdoc(cls) or "(no docstring)"), highlight=False, soft_wrap=True)
    module_doc = inspect.getdoc(module) if module is not None else None
    if module_doc:
        out.print()
        out.print(escape(module_doc), highlight=False, soft_wrap=True)
    out.print()
    out.print("[bold]settings[/] (JSON schema of " + cls.config_class.__name__ + "):")
    sys.stdout.flush()
    out.print_json(json.dumps(cls.config_class.model_json_schema()))


NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@strategies_app.command("new")
def new(
    name: Annotated[str, typer.Argument(help="Strategy name: lower_snake_case, e.g. my_momentum.")],
    dir_: Annotated[
        Path, typer.Option("--dir", help="Where to create the package folder.", file_okay=False)
    ] = Path("."),
) -> None:
    """Create a plugin package: pyproject.toml with the entry point, a strategy, a backtest test.

    Then: pip install -e DIR/NAME && pytest DIR/NAME && spillover strategies list
    """
    from spillover.scaffold import write_plugin

    if not NAME_RE.match(name):
        fail(InputError(f"name {name!r}: use lower_snake_case letters, digits and _"))
    try:
        root = write_plugin(name, dir_)
    except SpilloverError as exc:
        fail(exc)
    out.print(f"created {root}", highlight=False)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        out.print(f"  {path.relative_to(root)}", highlight=False)
    out.print(
        f"next: pip install -e {root} && pytest {root} && spillover strategies show {name}",
        highlight=False,
    )
