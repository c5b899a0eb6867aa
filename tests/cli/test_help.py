"""Every command's --help shows its text whole: rich reads "[word]" as a style tag and drops
it unless escaped, which once turned "TOML with [backtest], [strategy] and [venue] tables"
into "TOML with ,  and  tables"."""

from __future__ import annotations

import re
from typing import Any

import typer
from typer.testing import CliRunner

from spillover.cli import app

BRACKETED = re.compile(r"(?<!\\)\[[A-Za-z_.]+\]")


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    if hasattr(group, "commands"):  # a group (typer's own copy of click's)
        for name, sub in group.commands.items():
            found += _commands(sub, (*path, name))
    return found


def _texts(command: Any) -> list[str]:
    texts = [command.help or ""]
    texts += [getattr(p, "help", None) or "" for p in command.params]
    return texts


def test_every_help_shows_its_bracketed_words() -> None:
    root = typer.main.get_command(app)
    runner = CliRunner()
    checked = 0
    for path in _commands(root):
        command = root
        for name in path:
            command = command.commands[name]
        raw = " ".join(_texts(command))
        shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"}, terminal_width=200)
        assert shown.exit_code == 0, (path, shown.output)
        for word in BRACKETED.findall(raw):
            assert word in shown.output, f"spillover {' '.join(path)} --help lost {word!r}"
            checked += 1
        for escaped in re.findall(r"\\(\[[A-Za-z_.]+\])", raw):
            assert escaped in shown.output, f"spillover {' '.join(path)} --help lost {escaped!r}"
            checked += 1
    assert checked >= 4  # backtest's --strategy and --config at least
