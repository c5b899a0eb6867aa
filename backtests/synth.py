"""A market simulator with planted news effects: synthetic news, trades and the truth behind them.

`generate` picks a linked group of real companies from the shipped universe, simulates intraday
trades from a factor model (market, sector, idiosyncratic), writes headlines whose wording the
engine's lexicon recognises, and plants each headline's impact on its subject and on the
subject's linked companies (with a delay and an exponential build-up). About 30% of headlines are
routine noise that moves nothing. Everything is drawn from one `numpy.random.Generator(PCG64(seed))`
in a fixed order, so a seed always gives the same files.

Files written to `out_dir`:
- `news.parquet`: `id, headline, summary, created_at, symbols, source, ts_event` (Alpaca's shape).
- `trades.parquet`: `ts, symbol, price, size`, sorted by `ts`.
- `truth.parquet`: `news_id, symbol, role, event, impact, delay_s, tau_s, ts` — one row per
  planted (headline, symbol); `impact` is the full log return, reached from `ts + delay_s` with
  decay time `tau_s`; `ts` is the headline's `ts_event`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from backtests.synth_nb import log_price_path_nb
from engine.errors import InputError
from engine.paths import config_dir
from engine.universe import Company, Universe, day_of, load_universe
from engine.universe.model import name_variants

NS_PER_S = 1_000_000_000
DAY_S = 86_400
SESSION_OPEN_S = 14 * 3600 + 30 * 60
SESSION_CLOSE_S = 21 * 3600
SESSION_S = SESSION_CLOSE_S - SESSION_OPEN_S
# The night counts as this many seconds of trading time: a fifth of the daily variance.
OVERNIGHT_S = SESSION_S // 4
CLOCK_DAY_S = SESSION_S + OVERNIGHT_S
GRID_DT_S = 10.0
GROUP_SHIFT = 45  # bits of a session offset in ns: 23,400e9 < 2**45

MARKET_DAILY_VOL = 0.010
SECTOR_DAILY_VOL = 0.008
IDIO_DAILY_VOL = (0.010, 0.016)
BETA_RANGE = (0.8, 1.3)
PRICE_RANGE = (20.0, 500.0)

NOISE_SHARE = 0.3
IN_SESSION_SHARE = 0.8
IMPACT_RANGE = (0.01, 0.04)
DELAY_RANGE_S = (5.0, 120.0)
TAU_RANGE_S = (60.0, 900.0)

SEED_SYMBOLS = ("META", "NVDA", "AAPL", "MSFT", "AMZN", "MU", "CRWV", "NBIS", "TSM", "AMD")
RELATION_ORDER = ("competitor", "supplier", "customer", "partner", "peer")

Multipliers = dict[str, float]


@dataclass(frozen=True)
class Template:
    """An event's headline wordings, its sign and how its shock spills over.

    `spill` maps a relation (what the neighbour is to the subject) to a multiplier of the
    subject's impact; signs follow the event's `propagate` table in configs/lexicon/events.toml
    (`lexicon_table` names which one applies: analyst events score the named company as object).
    """

    event: str
    sign: int
    wordings: tuple[str, ...]
    spill: Multipliers
    lexicon_table: str = "propagate"
    sector: str | None = None


def _spill(
    competitor: float, supplier: float, customer: float, partner: float, peer: float
) -> Multipliers:
    values = (competitor, supplier, customer, partner, peer)
    return dict(zip(RELATION_ORDER, values, strict=True))


TEMPLATES: tuple[Template, ...] = (
    Template("guidance_raise", 1, ("{name} raises its full-year forecast", "{name} lifts annual revenue outlook"), _spill(0.1, 0.5, 0.1, 0.3, 0.4)),
    Template("guidance_cut", -1, ("{name} cuts its full-year forecast", "{name} slashes annual sales outlook"), _spill(0.3, 0.5, 0.1, 0.3, 0.6)),
    Template("earnings_beat", 1, ("{name} reports quarterly earnings above estimates", "{name} beats quarterly profit estimates"), _spill(0.1, 0.5, 0.1, 0.3, 0.4)),
    Template("earnings_miss", -1, ("{name} quarterly profit misses estimates",), _spill(0.2, 0.5, 0.1, 0.3, 0.5)),
    Template("contract_win", 1, ("{name} wins multibillion contract", "{name} lands $2 billion cloud contract"), _spill(-0.3, 0.4, 0.0, 0.2, 0.1)),
    Template("contract_loss", -1, ("{name} loses major contract", "{name} loses key customer"), _spill(-0.3, 0.3, 0.0, 0.2, 0.1)),
    Template("analyst_upgrade", 1, ("Analysts upgrade {name} to buy", "{name} upgraded to buy at Morgan Stanley"), _spill(0.0, 0.1, 0.0, 0.0, 0.1), "propagate_object"),
    Template("analyst_downgrade", -1, ("{name} downgraded to underperform", "{name} downgraded to sell at Goldman"), _spill(0.0, 0.1, 0.0, 0.0, 0.1), "propagate_object"),
    Template("dividend_cut", -1, ("{name} cuts its dividend", "{name} suspends its dividend"), _spill(0.1, 0.1, 0.0, 0.0, 0.3)),
    Template("product_recall", -1, ("{name} recalls products",), _spill(-0.2, 0.4, 0.1, 0.2, 0.1)),
    Template("share_buyback", 1, ("{name} announces $10 billion share buyback",), _spill(0.0, 0.0, 0.0, 0.0, 0.05)),
    Template("demand_strength", 1, ("{name} sees surging demand for its products",), _spill(0.2, 0.6, 0.0, 0.3, 0.5)),
    Template("regulatory_approval", 1, ("{name} wins FDA approval for new drug",), _spill(-0.3, 0.3, 0.0, 0.5, 0.1), sector="Health Care"),
    Template("regulatory_rejection", -1, ("FDA rejects {name}'s drug application",), _spill(-0.3, 0.3, 0.0, 0.5, 0.2), "propagate_object", sector="Health Care"),
)  # fmt: skip

NOISE_WORDINGS: tuple[str, ...] = (
    "{name} to present at investor conference",
    "{name} schedules earnings call",
    "{name} to hold annual shareholder meeting",
    "{name} declares quarterly dividend",
    "{name} to webcast investor day",
    "{name} names new board member",
)


@dataclass(frozen=True)
class SynthSummary:
    """What `generate` wrote: paths and counts."""

    out_dir: Path
    news_path: Path
    trades_path: Path
    truth_path: Path
    symbols: tuple[str, ...]
    days: int
    n_news: int
    n_planted: int
    n_trades: int
    n_truth: int


@dataclass
class _Market:
    """The chosen companies: trading symbols, headline names, sectors and who links to whom."""

    symbols: list[str]
    names: list[str]
    sectors: list[str]
    # neighbours[i]: (company index j, relation of j to i), one entry per j
    neighbours: list[list[tuple[int, str]]] = field(default_factory=list)


@dataclass
class _News:
    """Headlines (sorted by time) and their planted impacts."""

    ts: np.ndarray
    headlines: list[str]
    subjects: list[str]
    truth: pl.DataFrame


def pick_companies(universe: Universe, day: int, n: int) -> list[Company]:
    """Pick `n` companies listed on `day`: the listed seeds, then the best-linked neighbours."""
    listed = {c.symbol: c for c in universe.companies if c.symbol_on(day) is not None}
    chosen = [listed[s] for s in SEED_SYMBOLS if s in listed][:n]
    taken = {c.symbol for c in chosen}
    links_of: dict[str, set[str]] = {}
    for link in universe.links:
        links_of.setdefault(link.source, set()).add(link.target)
        links_of.setdefault(link.target, set()).add(link.source)
    while len(chosen) < n:
        counts: dict[str, int] = {}
        for c in chosen:
            for other in links_of.get(c.symbol, ()):
                if other in listed and other not in taken:
                    counts[other] = counts.get(other, 0) + 1
        if not counts:
            break
        best = min(counts, key=lambda s: (-counts[s], s))
        chosen.append(listed[best])
        taken.add(best)
    if len(chosen) < n:
        on = dt.date(1970, 1, 1) + dt.timedelta(days=day)
        raise InputError(
            f"--symbols {n}: the universe lists {len(chosen)} companies linked to one another on "
            f"{on}; ask for at most {len(chosen)}"
        )
    return chosen


def headline_name(company: Company, day: int) -> str:
    """Return the name a headline would use: the first alias the short legal name starts with."""
    short = company.name
    variants = [v for v in name_variants(company.name) if v != company.name]
    if variants:
        short = variants[-1]
    for alias in company.aliases:
        if alias.valid_from <= day <= alias.valid_to and short.lower().startswith(
            alias.text.lower()
        ):
            return alias.text
    return short


def relations(universe: Universe, companies: list[Company]) -> list[list[tuple[int, str]]]:
    """List, for each company, its linked companies among `companies` and what each is to it.

    A supplier link runs source → target: the source is the target's supplier and the target
    the source's customer. Where two links join the same pair, the first one read wins.
    """
    index = {c.symbol: i for i, c in enumerate(companies)}
    out: list[dict[int, str]] = [{} for _ in companies]
    for link in universe.links:
        a, b = index.get(link.source), index.get(link.target)
        if a is None or b is None or a == b:
            continue
        if link.type == "supplier":
            out[b].setdefault(a, "supplier")
            out[a].setdefault(b, "customer")
        else:
            out[a].setdefault(b, link.type)
            out[b].setdefault(a, link.type)
    return [sorted(d.items()) for d in out]


def trading_days(start: str, days: int) -> list[dt.date]:
    """Return `days` weekdays from `start` (inclusive)."""
    day = dt.date.fromisoformat(start)
    out: list[dt.date] = []
    while len(out) < days:
        if day.weekday() < 5:
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def _market(universe: Universe, day: int, n: int) -> _Market:
    companies = pick_companies(universe, day, n)
    symbols = [c.symbol_on(day) or c.symbol for c in companies]
    names = [headline_name(c, day) for c in companies]
    market = _Market(symbols, names, [c.sector for c in companies])
    market.neighbours = relations(universe, companies)
    return market


def _day_start_ns(days: list[dt.date]) -> np.ndarray:
    return np.array([day_of(d) * DAY_S * NS_PER_S for d in days], np.int64)


def _news_times(rng: np.random.Generator, days: list[dt.date], per_day: float) -> np.ndarray:
    """Draw headline times (whole seconds): mostly in the session, some before or after it."""
    counts = rng.poisson(per_day, len(days))
    starts = np.repeat(_day_start_ns(days), counts)
    n = int(counts.sum())
    inside = rng.random(n) < IN_SESSION_SHARE
    in_s = rng.uniform(SESSION_OPEN_S, SESSION_CLOSE_S, n)
    # outside: 12:00-14:30 before the open or 21:00-23:30 after the close
    out_s = rng.uniform(0, 5 * 3600, n)
    out_s = np.where(out_s < 2.5 * 3600, 12 * 3600 + out_s, SESSION_CLOSE_S - 2.5 * 3600 + out_s)
    secs = np.floor(np.where(inside, in_s, out_s)).astype(np.int64)
    return np.sort(starts + secs * NS_PER_S)


def _templates_for(sector: str) -> list[Template]:
    return [t for t in TEMPLATES if t.sector is None or t.sector == sector]


def _truth_rows(
    rng: np.random.Generator, market: _Market, news_id: str, ts: int, subject: int, tpl: Template
) -> list[dict[str, object]]:
    """Draw one planted headline's impact, delay and decay, and spill it to linked companies."""
    impact = tpl.sign * rng.uniform(*IMPACT_RANGE)
    delay = float(rng.uniform(*DELAY_RANGE_S))
    tau = float(rng.uniform(*TAU_RANGE_S))
    hits = [(subject, "subject", impact)]
    for j, rel in market.neighbours[subject]:
        m = tpl.spill.get(rel, 0.0)
        if m != 0.0:
            hits.append((j, rel, impact * m))
    return [
        {
            "news_id": news_id,
            "symbol": market.symbols[j],
            "role": role,
            "event": tpl.event,
            "impact": value,
            "delay_s": delay,
            "tau_s": tau,
            "ts": ts,
        }
        for j, role, value in hits
    ]


NEWS_SCHEMA = pl.Schema(
    [
        ("id", pl.String()),
        ("headline", pl.String()),
        ("summary", pl.String()),
        ("created_at", pl.Datetime("ns", "UTC")),
        ("symbols", pl.List(pl.String())),
        ("source", pl.String()),
        ("ts_event", pl.Int64()),
    ]
)
TRUTH_SCHEMA = pl.Schema(
    {
        "news_id": pl.String,
        "symbol": pl.String,
        "role": pl.String,
        "event": pl.String,
        "impact": pl.Float64,
        "delay_s": pl.Float64,
        "tau_s": pl.Float64,
        "ts": pl.Int64,
    }
)


def _news(
    rng: np.random.Generator, market: _Market, days: list[dt.date], per_day: float, seed: int
) -> _News:
    """Draw the headlines and the impacts planted by the non-noise ones."""
    ts = _news_times(rng, days, per_day)
    headlines: list[str] = []
    subjects: list[str] = []
    rows: list[dict[str, object]] = []
    for k, t in enumerate(ts.tolist()):
        subject = int(rng.integers(len(market.symbols)))
        name = market.names[subject]
        subjects.append(market.symbols[subject])
        if rng.random() < NOISE_SHARE:
            headlines.append(NOISE_WORDINGS[rng.integers(len(NOISE_WORDINGS))].format(name=name))
            continue
        options = _templates_for(market.sectors[subject])
        tpl = options[rng.integers(len(options))]
        headlines.append(tpl.wordings[rng.integers(len(tpl.wordings))].format(name=name))
        rows += _truth_rows(rng, market, _news_id(seed, k), t, subject, tpl)
    truth = pl.DataFrame(rows, schema=TRUTH_SCHEMA, orient="row")
    return _News(ts, headlines, subjects, truth)


def _news_id(seed: int, k: int) -> str:
    return f"synth-{seed}-{k:06d}"


def _news_frame(news: _News, seed: int) -> pl.DataFrame:
    n = len(news.headlines)
    frame = pl.DataFrame(
        {
            "id": [_news_id(seed, k) for k in range(n)],
            "headline": news.headlines,
            "summary": [""] * n,
            "created_at": news.ts,
            "symbols": [[s] for s in news.subjects],
            "source": ["synth"] * n,
            "ts_event": news.ts,
        },
        schema_overrides={**dict(NEWS_SCHEMA), "created_at": pl.Int64},
    )
    return frame.with_columns(
        pl.col("created_at").cast(pl.Datetime("ns")).dt.replace_time_zone("UTC")
    ).cast(NEWS_SCHEMA)


def _trade_times(
    rng: np.random.Generator, n_sym: int, days: list[dt.date], per_day: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw trade times grouped by symbol and sorted within each group.

    Return (symbol index, ts in ns, trading clock in s). Counts are Poisson, times uniform in
    the session: a Poisson process.
    """
    n_days = len(days)
    counts = rng.poisson(per_day, (n_sym, n_days)).ravel()
    group = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    offset_ns = (rng.random(group.shape[0]) * SESSION_S * NS_PER_S).astype(np.int64)
    group, offset_ns = _sort_in_groups(group, offset_ns, counts.size)
    sym, day = group // n_days, group % n_days
    del group
    ts = _day_start_ns(days)[day] + SESSION_OPEN_S * NS_PER_S + offset_ns
    clock = day * float(CLOCK_DAY_S) + OVERNIGHT_S + offset_ns / NS_PER_S
    return sym, ts, clock


def _sort_in_groups(
    group: np.ndarray, offset_ns: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sort by (group, offset): one integer sort of packed keys when the groups fit in them."""
    if n_groups < 1 << (63 - GROUP_SHIFT):
        key = np.sort((group << GROUP_SHIFT) | offset_ns)
        return key >> GROUP_SHIFT, key & ((1 << GROUP_SHIFT) - 1)
    order = np.lexsort((offset_ns, group))
    return group[order], offset_ns[order]


def _factors(rng: np.random.Generator, n_sectors: int, n_days: int) -> np.ndarray:
    """Return cumulative market (column 0) and sector factor levels on the trading-time grid."""
    n_grid = int(np.ceil(n_days * CLOCK_DAY_S / GRID_DT_S)) + 2
    per_step = np.sqrt(GRID_DT_S / CLOCK_DAY_S)
    vols = np.array([MARKET_DAILY_VOL] + [SECTOR_DAILY_VOL] * n_sectors) * per_step
    steps = rng.standard_normal((n_grid, 1 + n_sectors)) * vols
    steps[0] = 0.0
    return np.cumsum(steps, axis=0)


def _impact_arrays(
    truth: pl.DataFrame, symbols: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Turn the truth rows into per-symbol segments of (onset ns, size, tau) sorted by onset."""
    index = {s: i for i, s in enumerate(symbols)}
    sym = np.array([index[s] for s in truth["symbol"].to_list()], np.int64)
    onset = truth["ts"].to_numpy() + (truth["delay_s"].to_numpy() * NS_PER_S).astype(np.int64)
    order = np.lexsort((onset, sym))
    seg = np.searchsorted(sym[order], np.arange(len(symbols) + 1)).astype(np.int64)
    size = truth["impact"].to_numpy()[order].astype(np.float64)
    tau = truth["tau_s"].to_numpy()[order].astype(np.float64)
    return seg, onset[order].astype(np.int64), size, tau


def _trades(
    rng: np.random.Generator,
    market: _Market,
    days: list[dt.date],
    per_day: int,
    truth: pl.DataFrame,
) -> pl.DataFrame:
    """Simulate every trade's time, price and size, sorted by time."""
    n_sym = len(market.symbols)
    sectors = sorted(set(market.sectors))
    sym, ts, clock = _trade_times(rng, n_sym, days, per_day)
    seg = np.searchsorted(sym, np.arange(n_sym + 1)).astype(np.int64)
    log_p0 = np.log(rng.uniform(*PRICE_RANGE, n_sym))
    sigma = rng.uniform(*IDIO_DAILY_VOL, n_sym) / np.sqrt(CLOCK_DAY_S)
    beta = rng.uniform(*BETA_RANGE, n_sym)
    column = np.array([1 + sectors.index(s) for s in market.sectors], np.int64)
    factors = _factors(rng, len(sectors), len(days))
    z = rng.standard_normal(size=(ts.shape[0],))
    draw = np.asarray(rng.lognormal(np.log(100.0), 1.0, ts.shape[0]))
    np.round(draw, out=draw)
    np.maximum(draw, 1, out=draw)
    size = draw.astype(np.int64)
    del draw  # 10M-row temporaries go as soon as they are used: peak memory, not speed
    imp_seg, imp_t0, imp_size, imp_tau = _impact_arrays(truth, market.symbols)
    log_px = log_price_path_nb(
        ts, clock, z, seg, log_p0, sigma, beta, column, factors, GRID_DT_S,
        imp_seg, imp_t0, imp_size, imp_tau, TAU_RANGE_S[1],
    )  # fmt: skip
    del z, clock
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    names = pl.Series(market.symbols, dtype=pl.String).gather(sym[order])
    del sym
    price = log_px[order]
    del log_px
    np.exp(price, out=price)
    np.round(price, 2, out=price)
    return pl.DataFrame({"ts": ts, "symbol": names, "price": price, "size": size[order]})


def generate(
    out_dir: Path,
    seed: int,
    days: int,
    symbols: int,
    *,
    headlines_per_day: float = 20.0,
    trades_per_symbol_per_day: int = 2000,
    start: str = "2024-01-02",
    progress: Callable[[int, int], None] | None = None,
) -> SynthSummary:
    """Write `news.parquet`, `trades.parquet` and `truth.parquet` for a seed into `out_dir`.

    `progress(done, total)` is called after each of the four steps (universe, news, trades,
    files).
    """
    if days < 1 or symbols < 1 or not headlines_per_day >= 0:
        raise ValueError(
            "days and symbols must be positive and headlines_per_day at least 0, got "
            f"days={days} symbols={symbols} headlines_per_day={headlines_per_day}"
        )
    step = progress or (lambda done, total: None)
    rng = np.random.Generator(np.random.PCG64(seed))
    calendar = trading_days(start, days)
    market = _market(load_universe(config_dir() / "universe"), day_of(calendar[0]), symbols)
    step(1, 4)
    news = _news(rng, market, calendar, headlines_per_day, seed)
    step(2, 4)
    trades = _trades(rng, market, calendar, trades_per_symbol_per_day, news.truth)
    step(3, 4)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.parquet" for name in ("news", "trades", "truth")]
    _news_frame(news, seed).write_parquet(paths[0])
    trades.write_parquet(paths[1])
    news.truth.sort("ts", "news_id", maintain_order=True).write_parquet(paths[2])
    step(4, 4)
    return SynthSummary(
        out_dir=out_dir,
        news_path=paths[0],
        trades_path=paths[1],
        truth_path=paths[2],
        symbols=tuple(market.symbols),
        days=days,
        n_news=len(news.headlines),
        n_planted=news.truth.filter(pl.col("role") == "subject").height,
        n_trades=trades.height,
        n_truth=news.truth.height,
    )
