"""Terminal output shared by the `spillover` commands."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

out = Console()
err = Console(stderr=True, soft_wrap=True)  # error lines stay whole for grep and logs


def fail(exc: BaseException, code: int = 2) -> None:
    """Print `ErrorType: message` (no traceback) and exit with `code`."""
    err.print(f"[bold red]{type(exc).__name__}[/]: {escape(str(exc))}", highlight=False)
    raise typer.Exit(code)
