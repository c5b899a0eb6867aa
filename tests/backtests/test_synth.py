"""The market simulator: kernel vs reference, determinism, file shapes and the planted effect."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from backtests.synth import (
    NEWS_SCHEMA,
    NOISE_WORDINGS,
    SESSION_CLOSE_S,
    SESSION_OPEN_S,
    TEMPLATES,
    SynthSummary,
    _sort_in_groups,
    generate,
    headline_name,
    pick_companies,
    relations,
)
from backtests.synth_nb import log_price_path_nb
from engine.errors import InputError
from engine.news import NewsItem
from engine.scoring import Scorer
from engine.universe import Company, day_of, load_universe
from tests.conftest import ROOT

SMALL = {"days": 5, "symbols": 12, "trades_per_symbol_per_day": 300}
NS = 1_000_000_000


def reference_log_prices(
    ts: np.ndarray,
    clock: np.ndarray,
    z: np.ndarray,
    seg: np.ndarray,
    log_p0: np.ndarray,
    sigma: np.ndarray,
    beta: np.ndarray,
    sector: np.ndarray,
    factors: np.ndarray,
    grid_dt: float,
    imp_seg: np.ndarray,
    imp_t0: np.ndarray,
    imp_size: np.ndarray,
    imp_tau: np.ndarray,
) -> np.ndarray:
    """Compute the simulator's log prices the obvious way: every impact summed at every trade."""
    grid = np.arange(factors.shape[0]) * grid_dt
    out = np.empty(ts.shape[0])
    for s in range(len(seg) - 1):
        rows = np.arange(seg[s], seg[s + 1])
        gaps = np.diff(np.concatenate([[0.0], clock[rows]]))
        walk = np.cumsum(sigma[s] * np.sqrt(gaps) * z[rows])
        market = np.interp(clock[rows], grid, factors[:, 0])
        own = np.interp(clock[rows], grid, factors[:, sector[s]])
        for n, i in enumerate(rows):
            news = 0.0
            for k in range(imp_seg[s], imp_seg[s + 1]):
                if ts[i] > imp_t0[k]:
                    age = (ts[i] - imp_t0[k]) / NS
                    news += imp_size[k] * (1.0 - math.exp(-age / imp_tau[k]))
            out[i] = log_p0[s] + beta[s] * market[n] + own[n] + walk[n] + news
    return out


def test_price_kernel_agrees_with_the_reference() -> None:
    rng = np.random.default_rng(3)
    counts = [40, 1, 25]
    seg = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    clock = np.concatenate([np.sort(rng.uniform(0, 200_000, c)) for c in counts])
    ts = (clock * NS).astype(np.int64)
    n_imp = [6, 0, 3]
    imp_seg = np.concatenate([[0], np.cumsum(n_imp)]).astype(np.int64)
    imp_t0 = np.concatenate([np.sort(rng.uniform(0, 200_000, c)) for c in n_imp])
    imp_t0 = (imp_t0 * NS).astype(np.int64)
    args = (
        ts, clock, rng.standard_normal(ts.size), seg, rng.normal(4, 1, 3),
        rng.uniform(1e-5, 1e-4, 3), rng.uniform(0.8, 1.3, 3), np.array([1, 2, 1], np.int64),
        np.cumsum(rng.normal(0, 1e-3, (20_002, 3)), axis=0), 10.0,
        imp_seg, imp_t0, rng.normal(0, 0.03, imp_t0.size), rng.uniform(60, 900, imp_t0.size),
    )  # fmt: skip
    got = log_price_path_nb(*args, 900.0)
    want = reference_log_prices(*args)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    return generate(tmp_path_factory.mktemp("synth"), 11, **SMALL)  # type: ignore[arg-type]


def _frames(summary: SynthSummary) -> list[pl.DataFrame]:
    paths = (summary.news_path, summary.trades_path, summary.truth_path)
    return [pl.read_parquet(p) for p in paths]


def test_same_seed_writes_the_same_files_and_another_seed_does_not(
    synth: SynthSummary, tmp_path: Path
) -> None:
    again = generate(tmp_path / "again", 11, **SMALL)  # type: ignore[arg-type]
    other = generate(tmp_path / "other", 12, **SMALL)  # type: ignore[arg-type]
    for a, b in zip(_frames(synth), _frames(again), strict=True):
        assert_frame_equal(a, b)
    first, second = _frames(synth)[1], _frames(other)[1]
    assert first.height != second.height or not first.equals(second)
    assert _frames(synth)[0]["headline"].to_list() != _frames(other)[0]["headline"].to_list()


def test_files_have_the_promised_columns_and_are_sorted(synth: SynthSummary) -> None:
    news, trades, truth = _frames(synth)
    assert news.schema == pl.Schema(NEWS_SCHEMA)
    assert trades.schema == pl.Schema(
        {"ts": pl.Int64, "symbol": pl.String, "price": pl.Float64, "size": pl.Int64}
    )
    assert {"news_id", "symbol", "role", "impact", "delay_s", "tau_s", "ts"} <= set(truth.columns)
    assert news["ts_event"].is_sorted() and trades["ts"].is_sorted()
    assert news["id"].is_unique().all()
    assert (news["created_at"].dt.epoch("ns") == news["ts_event"]).all()
    assert (trades["price"] > 0).all() and (trades["size"] > 0).all()
    assert set(trades["symbol"].unique()) == set(synth.symbols)
    assert set(truth["symbol"].unique()) <= set(synth.symbols)
    assert truth.select(pl.struct("news_id", "symbol").is_unique().all()).item()
    assert synth.n_trades == trades.height and synth.n_news == news.height


def test_trades_fall_inside_the_session_at_the_asked_rate(synth: SynthSummary) -> None:
    trades = _frames(synth)[1]
    second = (trades["ts"] // NS) % 86_400
    assert second.min() >= SESSION_OPEN_S and second.max() < SESSION_CLOSE_S
    per_symbol_day = trades.height / (SMALL["days"] * SMALL["symbols"])
    assert 280 < per_symbol_day < 320


def test_daily_volatility_is_realistic(synth: SynthSummary) -> None:
    trades = _frames(synth)[1]
    closes = (
        trades.with_columns(day=pl.col("ts") // (86_400 * NS))
        .group_by("symbol", "day", maintain_order=True)
        .agg(pl.col("price").last())
        .sort("symbol", "day")
        .with_columns(r=pl.col("price").log().diff().over("symbol"))
        .drop_nulls("r")
    )
    vol = closes["r"].std()
    assert vol is not None and 0.008 < float(vol) < 0.06  # news adds to the ~2% of the factors


def test_planted_impact_shows_in_the_30_minute_return(synth: SynthSummary) -> None:
    _, trades, truth = _frames(synth)
    subjects = truth.filter(pl.col("role") == "subject")
    signs = []
    for row in subjects.iter_rows(named=True):
        second = (row["ts"] // NS) % 86_400
        if not SESSION_OPEN_S + 60 < second < SESSION_CLOSE_S - 1_800:
            continue
        ts = trades.filter(pl.col("symbol") == row["symbol"])["ts"].to_numpy()
        px = trades.filter(pl.col("symbol") == row["symbol"])["price"].to_numpy()
        before = np.searchsorted(ts, row["ts"], side="left") - 1
        after = np.searchsorted(ts, row["ts"] + 1_800 * NS, side="right") - 1
        realised = math.log(px[after] / px[before])
        signs.append(np.sign(realised) == np.sign(row["impact"]))
    assert len(signs) >= 20
    assert np.mean(signs) > 0.8


def _shock(scorer: Scorer, headline: str, ts: int) -> dict[str, float]:
    item = NewsItem(id="t", headline=headline, ts_event=ts, ts_init=ts)
    return {leg.symbol: leg.score for leg in scorer.score(item, novelty=False).legs}


def test_noise_headlines_score_zero(synth: SynthSummary, scorer: Scorer) -> None:
    news, _, truth = _frames(synth)
    noise = news.filter(~pl.col("id").is_in(truth["news_id"].unique().implode()))
    assert noise.height > 0
    for headline, ts in zip(noise["headline"], noise["ts_event"], strict=True):
        assert _shock(scorer, headline, ts) == {}, headline


def test_planted_headlines_give_their_subject_the_planted_sign(
    synth: SynthSummary, scorer: Scorer
) -> None:
    news, _, truth = _frames(synth)
    subjects = truth.filter(pl.col("role") == "subject").join(
        news.select(pl.col("id").alias("news_id"), "headline"), on="news_id"
    )
    for row in subjects.iter_rows(named=True):
        score = _shock(scorer, row["headline"], row["ts"]).get(row["symbol"], 0.0)
        assert np.sign(score) == np.sign(row["impact"]) != 0, row["headline"]


def _wordings_score_as_intended(scorer: Scorer, company: Company, day: int, ts: int) -> None:
    name = headline_name(company, day)
    symbol = company.symbol_on(day)
    for wording in NOISE_WORDINGS:
        assert _shock(scorer, wording.format(name=name), ts) == {}, wording.format(name=name)
    for tpl in TEMPLATES:
        if tpl.sector not in (None, company.sector):
            continue
        for wording in tpl.wordings:
            score = _shock(scorer, wording.format(name=name), ts).get(symbol or "", 0.0)
            assert np.sign(score) == tpl.sign, wording.format(name=name)


def test_every_wording_scores_as_intended_for_every_company(scorer: Scorer) -> None:
    universe = load_universe(ROOT / "configs" / "universe")
    day = day_of("2024-01-02")
    ts = day * 86_400 * NS + 15 * 3600 * NS
    companies = pick_companies(universe, day, 30)
    companies += [c for c in (universe.find("PFE"), universe.find("LLY")) if c is not None]
    for company in companies:
        _wordings_score_as_intended(scorer, company, day, ts)


def test_spillover_signs_follow_the_lexicon() -> None:
    with (ROOT / "configs" / "lexicon" / "events.toml").open("rb") as f:
        events = {e["id"]: e for e in tomllib.load(f)["event"]}
    for tpl in TEMPLATES:
        table = events[tpl.event].get(tpl.lexicon_table) or events[tpl.event]["propagate"]
        for relation, multiplier in tpl.spill.items():
            assert np.sign(multiplier) == np.sign(table[relation]), (tpl.event, relation)


def test_chosen_companies_are_listed_and_linked() -> None:
    universe = load_universe(ROOT / "configs" / "universe")
    day = day_of("2024-01-02")
    companies = pick_companies(universe, day, 20)
    assert len({c.symbol for c in companies}) == 20
    assert all(c.symbol_on(day) for c in companies)
    assert all(neighbours for neighbours in relations(universe, companies))


def test_asking_for_more_companies_than_the_universe_links_says_how_many_it_has() -> None:
    universe = load_universe(ROOT / "configs" / "universe")
    with pytest.raises(InputError, match=r"--symbols 100000: .* on 2024-01-02; ask for at most"):
        pick_companies(universe, day_of("2024-01-02"), 100_000)


def test_packed_and_plain_group_sorts_agree() -> None:
    rng = np.random.default_rng(5)
    group = rng.integers(0, 50, 1_000)
    offset = rng.integers(0, 23_400 * NS, 1_000)
    packed = _sort_in_groups(group, offset, 50)
    plain = _sort_in_groups(group, offset, 1 << 40)
    for a, b in zip(packed, plain, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_run_without_headlines_writes_empty_news_and_truth(tmp_path: Path) -> None:
    summary = generate(tmp_path, 1, 2, 3, headlines_per_day=0, trades_per_symbol_per_day=50)
    news, trades, truth = _frames(summary)
    assert news.height == truth.height == 0 and trades.height > 0
    assert news.schema == pl.Schema(NEWS_SCHEMA)
