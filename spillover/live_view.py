"""The live terminal view of `spillover run`: recent headlines and shocks, open baskets, PnL, lag."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from spillover.console import err


def _time(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def render(node: Any) -> Group:
    """One frame of the view from the node's state."""
    state = node.state()
    c = state["counters"]
    lag = ", ".join(f"{k} {v:.2f}s" for k, v in node.last_lag_s.items()) or "-"
    feeds = ", ".join(f"{k} {'up' if v else 'down'}" for k, v in state["feeds"].items())
    pnl = state["pnl"]
    head = Text.assemble(
        (f"{_time(state['now_ns'])} UTC  ", "bold"),
        f"feeds: {feeds}  lag: {lag}  broker: {state['broker']}  ",
        ("PnL ", "bold"), (f"{pnl:+,.2f}", "green" if pnl >= 0 else "red"),
        f"  headlines {c['news']:,}  trades {c['trades']:,}  orders {c['orders_sent']:,}"
        f"  fills {c['fills']:,}  bad {c['bad_messages']:,}",
    )  # fmt: skip
    if state["halted"]:
        head.append(f"  HALTED: {state['halted']}", "bold red")
    news = Table(expand=True, box=None, pad_edge=False)
    news.add_column("received", no_wrap=True, width=19)
    news.add_column("headline", ratio=3)
    news.add_column("shock", ratio=2)
    for shock in state["recent_shocks"][:10]:
        legs = " ".join(
            f"[{'green' if leg['score'] > 0 else 'red'}]{leg['symbol']} {leg['score']:+.2f}[/]"
            for leg in shock["legs"][:5]
        )
        news.add_row(_time(shock["ts_init"]), shock["headline"], legs or "[dim]-[/]")
    book = Table(expand=True, box=None, pad_edge=False)
    book.add_column("strategy")
    book.add_column("positions", ratio=3)
    book.add_column("cash", justify="right")
    for sid, b in state["strategies"].items():
        pos = " ".join(f"{s} {q:+,.0f}" for s, q in sorted(b["positions"].items())) or "flat"
        book.add_row(sid, pos, f"{b['cash']:,.0f}")
    orders = f"{len(state['open_orders'])} open orders"
    return Group(
        head,
        Panel(news, title="recent headlines", title_align="left"),
        Panel(book, title=f"open baskets · {orders}", title_align="left"),
    )


async def show(node: Any, stop: asyncio.Event) -> None:
    """Redraw the view four times a second until cancelled."""
    with Live(render(node), console=err, refresh_per_second=4, transient=False) as live:
        while not stop.is_set():
            await asyncio.sleep(0.25)
            live.update(render(node))
