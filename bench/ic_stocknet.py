"""IC of Spillover's scores on real 2014-2016 news, beside VADER's, by horizon.

Run: `python -m bench.ic_stocknet`. Scores each post in ../shared/data/stocknet/news.jsonl as
the backtest does (receipt 2 s after publication) and measures the rank correlation between the
score and the move of the scored symbol from the last price at receipt to the last price
1, 2 and 5 days later (daily bars as open/close trades, adjusted prices). VADER's compound score
is measured the same way on the post's own ticker.
"""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl

from backtests.data import bars_as_trades, load_market, load_news
from backtests.metrics import BAR_HORIZONS_S, add_moves, spearman

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "stocknet"


def main() -> None:
    from engine.news import NewsItem
    from engine.scoring import Scorer

    news = load_news(SHARED / "news.jsonl")
    prices = (
        bars_as_trades(load_market(SHARED / "prices").frame)
        .select("symbol", "ts", "price")
        .sort("ts")
    )
    scorer = Scorer.load()
    latency = 2 * 10**9
    items = [
        NewsItem(id=r["id"], headline=r["headline"], symbols=r["symbols"], source=r["source"],
                 ts_event=r["ts_event"], ts_init=r["ts_event"] + latency)
        for r in news.iter_rows(named=True)
    ]  # fmt: skip
    t0 = time.perf_counter()
    shocks = scorer.score_batch(items).shocks()
    rows = [
        {
            "symbol": leg.symbol,
            "ts_init": s.ts_init,
            "score": leg.score,
            "is_subject": leg.role in ("subject", "object"),
        }
        for s in shocks
        for leg in s.legs
    ]
    legs = add_moves(pl.DataFrame(rows), prices, BAR_HORIZONS_S)
    print(f"Spillover: {len(items)} posts scored in {time.perf_counter() - t0:.2f}s; "
          f"{legs.height} legs, {legs['is_subject'].sum()} on named companies")  # fmt: skip
    for group, flag in (("named", True), ("spillover", False)):
        part = legs.filter(pl.col("is_subject") == flag)
        ics = {h: spearman(part["score"], part[f"ret_{h}"]) for h in BAR_HORIZONS_S}
        print(f"  IC {group:9s} " + "  ".join(f"{h} {v:+.3f}" if v is not None else f"{h} -" for h, v in ics.items())
              + f"   (n={part.height})")  # fmt: skip
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        print("VADER: not installed (pip install -e '.[bench]')")
        return
    vader = SentimentIntensityAnalyzer()
    vrows = [
        {"symbol": (r["symbols"] or [""])[0].replace("-", "."), "ts_init": r["ts_event"] + latency,
         "score": vader.polarity_scores(r["headline"])["compound"]}
        for r in news.iter_rows(named=True)
    ]  # fmt: skip
    vlegs = add_moves(pl.DataFrame(vrows), prices, BAR_HORIZONS_S)
    ics = {h: spearman(vlegs["score"], vlegs[f"ret_{h}"]) for h in BAR_HORIZONS_S}
    print("VADER compound on the post's ticker: "
          + "  ".join(f"{h} {v:+.3f}" if v is not None else f"{h} -" for h, v in ics.items())
          + f"   (n={vlegs.height})")  # fmt: skip


if __name__ == "__main__":
    main()
