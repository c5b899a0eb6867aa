"""Write a backtest's outputs: Parquet tables, summary.json and a self-contained report.html."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import polars as pl

from backtests.metrics import news_pnl
from backtests.runner import BacktestResult


def write_outputs(
    result: BacktestResult, events: pl.DataFrame, summary: dict[str, object], out: Path
) -> None:
    """Write trades.parquet, equity.parquet, events.parquet, summary.json and report.html."""
    out.mkdir(parents=True, exist_ok=True)
    news_of = {i.client_order_id: i for i in result.intents}
    trades = pl.DataFrame(
        [
            {
                "ts": f.ts_event,
                "strategy_id": f.strategy_id,
                "news_id": news_of[f.client_order_id].news_id if f.client_order_id in news_of else "",
                "leg": news_of[f.client_order_id].leg if f.client_order_id in news_of else "",
                "client_order_id": f.client_order_id,
                "symbol": f.symbol,
                "qty": f.qty,
                "price": f.price,
                "commission": f.commission,
            }
            for f in result.fills
        ],
        schema={"ts": pl.Int64, "strategy_id": pl.String, "news_id": pl.String, "leg": pl.String,
                "client_order_id": pl.String, "symbol": pl.String, "qty": pl.Float64,
                "price": pl.Float64, "commission": pl.Float64},
    )  # fmt: skip
    trades.write_parquet(out / "trades.parquet")
    result.equity.write_parquet(out / "equity.parquet")
    pnl = news_pnl(result)
    events.with_columns(
        pl.col("news_id")
        .replace_strict(pnl, default=0.0, return_dtype=pl.Float64)
        .alias("news_pnl")
    ).write_parquet(out / "events.parquet")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "report.html").write_text(render_html(result, events, summary, pnl))


def _polyline(xs: np.ndarray, ys: np.ndarray, w: int, h: int, color: str) -> str:
    if len(xs) < 2 or np.ptp(xs) == 0:
        return ""
    yr = np.ptp(ys) or 1.0
    px = (xs - xs.min()) / np.ptp(xs) * (w - 20) + 10
    py = h - 10 - (ys - ys.min()) / yr * (h - 20)
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(px, py, strict=True))
    return f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}"/>'


def _svg(body: str, w: int, h: int, title: str) -> str:
    return (
        f"<figure><figcaption>{html.escape(title)}</figcaption>"
        f'<svg width="{w}" height="{h}" style="border:1px solid #ccc">{body}</svg></figure>'
    )


COLORS = ("#063", "#36c", "#c60", "#939", "#c33", "#099", "#663", "#333")


def _compare(result: BacktestResult, summary: dict[str, object]) -> str:
    """Side-by-side table of the strategies' figures and their equity curves on one chart."""
    per = summary.get("strategies")
    if not isinstance(per, dict) or not per:
        return ""
    keys = list(next(iter(per.values())).keys())
    head = "".join(
        f"<th style='color:{COLORS[i % len(COLORS)]}'>{html.escape(sid)}</th>"
        for i, sid in enumerate(per)
    )

    def cell(value: object) -> str:
        text = f"{value:,.4f}" if isinstance(value, float) else "-" if value is None else str(value)
        return f"<td style='text-align:right'>{html.escape(text)}</td>"

    rows = "".join(
        f"<tr><td>{html.escape(k)}</td>{''.join(cell(per[sid].get(k)) for sid in per)}</tr>"
        for k in keys
    )
    lines = ""
    eq = result.equity.sort("ts")
    t_all = eq["ts"].to_numpy().astype(float)
    v_all = eq["equity"].to_numpy()
    if len(t_all) > 1 and np.ptp(t_all) > 0:
        lo, hi = float(v_all.min()), float(v_all.max())
        for i, sid in enumerate(per):
            part = eq.filter(pl.col("strategy_id") == sid)
            t = part["ts"].to_numpy().astype(float)
            v = part["equity"].to_numpy()
            if len(t) < 2:
                continue
            px = (t - t_all.min()) / np.ptp(t_all) * 780 + 10
            py = 210 - (v - lo) / ((hi - lo) or 1.0) * 200
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(px, py, strict=True))
            color = COLORS[i % len(COLORS)]
            lines += (
                f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}"/>'
            )
    return (
        f"<h2>Strategies side by side</h2><table><tr><th>measure</th>{head}</tr>{rows}</table>"
        + _svg(lines, 800, 220, "Equity of each strategy (colours as in the table)")
    )


def render_html(
    result: BacktestResult, events: pl.DataFrame, summary: dict[str, object], pnl: dict[str, float]
) -> str:
    """A single HTML file with inline SVG charts: equity, drawdown, PnL by event type, score vs move."""
    eq = result.equity.group_by("ts", maintain_order=True).agg(pl.col("equity").sum()).sort("ts")
    t = eq["ts"].to_numpy().astype(float)
    v = eq["equity"].to_numpy()
    dd = 1 - v / np.maximum.accumulate(v) if len(v) else v
    by_event: dict[str, float] = {}
    first = events.unique("news_id", keep="first", maintain_order=True)
    for row in first.iter_rows(named=True):
        key = row["events"].split(",")[0] if row["events"] else "(none)"
        by_event[key] = by_event.get(key, 0.0) + pnl.get(row["news_id"], 0.0)
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td style='text-align:right'>{val:,.0f}</td></tr>"
        for k, val in sorted(by_event.items(), key=lambda kv: kv[1])
    )
    scatter = ""
    if "ret_5m" in events.columns:
        pts = events.select("score", "ret_5m", "is_subject").drop_nulls()
        if pts.height:
            s = pts["score"].to_numpy()
            r = pts["ret_5m"].to_numpy()
            rmax = float(np.abs(r).max()) or 1.0
            for si, ri, subj in zip(s, r, pts["is_subject"].to_list(), strict=True):
                x = 200 + si * 190
                y = 150 - ri / rmax * 140
                scatter += f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{"#c33" if subj else "#36c"}"/>'
            scatter += '<line x1="0" y1="150" x2="400" y2="150" stroke="#aaa"/><line x1="200" y1="0" x2="200" y2="300" stroke="#aaa"/>'
    summary_rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(json.dumps(val))}</td></tr>"
        for k, val in summary.items()
        if k != "strategies"
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Spillover backtest</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td{{border:1px solid #ddd;padding:3px 8px}}</style>
</head><body><h1>Spillover backtest</h1>
<table>{summary_rows}</table>
{_compare(result, summary)}
{_svg(_polyline(t, v, 800, 220, "#063"), 800, 220, "Equity")}
{_svg(_polyline(t, -dd, 800, 120, "#a00"), 800, 120, "Drawdown")}
<h2>PnL by event type</h2><table>{rows}</table>
{_svg(scatter, 400, 300, "Predicted score (x) vs realised 5-minute move (y); red: named companies, blue: spillover")}
</body></html>
"""
