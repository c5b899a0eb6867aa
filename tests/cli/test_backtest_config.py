"""`spillover backtest --config`: the [backtest] and [venue] tables are checked, so a typo or a
value of the wrong kind is named, never ignored or a traceback."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from engine.errors import InputError
from spillover.backtest_config import BacktestTable, VenueTable, config_tables


def tables(text: str) -> tuple[BacktestTable, VenueTable]:
    return config_tables(tomllib.loads(text), Path("bt.toml"))


def test_a_full_config_is_read_with_its_values() -> None:
    bt, venue = tables(
        '[backtest]\nnews = "n.jsonl"\nmarket = "m"\nout = "o"\nfrom = "2024-01-02"\n'
        'cash = 50000\nreceipt_latency_s = 0.5\n'
        '[venue]\nlatency_ms = 10\nunshortable = ["GME"]\n'
        '[strategy]\nname = "shock_hedge"\n'
    )  # fmt: skip
    assert (bt.news, bt.market, bt.out, bt.from_, bt.to) == (
        Path("n.jsonl"), Path("m"), Path("o"), "2024-01-02", None,
    )  # fmt: skip
    assert (bt.cash, bt.receipt_latency_s) == (50_000.0, 0.5)
    assert (venue.latency_ms, venue.slippage_bps, venue.unshortable) == (10.0, 2.0, ["GME"])


def test_no_config_gives_the_defaults() -> None:
    bt, venue = tables("")
    assert bt.cash == 1_000_000.0 and venue.latency_ms == 50.0


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('[venue]\nlatency_ms = "fast"\n', "[venue] latency_ms: Input should be a valid number"),
        ("[venue]\nlatncy_ms = 5\n", "[venue] latncy_ms: unknown key; the keys are latency_ms"),
        ("[backtest]\ncash = -5\n", "[backtest] cash: Input should be greater than 0"),
        (
            "[backtest]\nfrm = 1\n",
            "[backtest] frm: unknown key; the keys are news, market, out, from",
        ),
        ("[venu]\nlatency_ms = 5\n", "unknown table(s) [venu]; use [backtest], [venue]"),
        ('venue = "fast"\n', "[venue] must be a table"),
    ],
)
def test_a_mistake_is_named_with_its_table_and_key(text: str, said: str) -> None:
    with pytest.raises(InputError) as caught:
        tables(text)
    assert str(caught.value).startswith("--config bt.toml: ") and said in str(caught.value)
