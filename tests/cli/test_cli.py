"""The `spillover` command as a user runs it (in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import MINI


def run(
    *args: str, stdin: bytes | None = None, config: Path = MINI
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "spillover", *args, "--config-dir", str(config)],
        input=stdin,
        capture_output=True,
        timeout=300,
        check=False,
    )


def test_score_prints_a_table_with_the_spillover_legs() -> None:
    res = run("score", "Meta plans to sell its spare AI computing power", "--date", "2026-11-25")
    text = res.stdout.decode()
    assert res.returncode == 0, res.stderr
    for sym in ("META", "MU", "CRWV", "NBIS"):
        assert sym in text
    assert "supplier of META" in text


def test_score_json_has_the_documented_shape_sorted_by_magnitude() -> None:
    res = run(
        "score", "--json", "Cisco to buy Splunk for $28 billion in cash", "--date", "2023-09-21"
    )
    obj = json.loads(res.stdout)
    assert {"subjects", "events", "shocks"} <= obj.keys()
    assert obj["subjects"] == ["CSCO", "SPLK"] and obj["events"] == ["acquisition"]
    assert all({"symbol", "score", "role", "path"} == set(s) for s in obj["shocks"])
    mags = [abs(s["score"]) for s in obj["shocks"]]
    assert mags == sorted(mags, reverse=True)


def test_score_input_reports_bad_lines_scores_the_rest_and_exits_1(tmp_path: Path) -> None:
    lines = [
        b'{"id": 7, "headline": "Cisco to buy Splunk", "created_at": "2023-09-21T11:00:00Z", '
        b'"summary": "", "symbols": ["CSCO"], "source": "benzinga", "author": "x", "url": "u"}',
        b"this is not json",
        b'{"no_headline": 1}',
        b'{"headline": "Apple bans \xff\xfe things"}',
        b"",
        b'{"id": "big", "headline": "' + b"Meta sells spare capacity " * 50_000 + b'"}',
    ]
    path = tmp_path / "news.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    res = run("score", "--input", str(path))
    assert res.returncode == 1
    err = res.stderr.decode()
    assert "line 2: not JSON" in err and "line 3: missing 'headline'" in err
    assert "line 4: invalid UTF-8" in err
    out = [json.loads(x) for x in res.stdout.splitlines()]
    assert [o["id"] for o in out] == ["7", "line-4", "big"]
    assert out[0]["shocks"][0]["symbol"] == "SPLK"
    assert out[1]["subjects"] == ["AAPL"]
    assert out[2]["truncated"] is True and "cut to" in out[2]["notes"][0]


def test_score_reads_stdin_with_dash() -> None:
    res = run(
        "score",
        "--input",
        "-",
        stdin=b'{"headline": "Splunk to be acquired by Cisco", "created_at": "2023-09-21"}\n',
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["shocks"][0]["symbol"] == "SPLK"


def test_score_handles_empty_text_and_says_nothing_moves() -> None:
    res = run("score", "")
    assert res.returncode == 0
    assert "no shock" in res.stdout.decode()


def test_user_mistakes_get_one_line_errors_not_tracebacks() -> None:
    res = run("score", "--input", "/no/such/file.jsonl")
    assert res.returncode == 2
    assert b"InputError: --input /no/such/file.jsonl: no such file" in res.stderr
    assert b"Traceback" not in res.stderr
    res = run("score", "x", "--date", "yesterday")
    assert res.returncode == 2 and b"is not an ISO 8601 time" in res.stderr


def test_eval_reports_accuracy_and_neutral_false_positives(tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        json.dumps(
            {
                "id": "a",
                "created_at": "2023-09-21T11:00:00Z",
                "headline": "Cisco to buy Splunk",
                "expect": {"SPLK": 1, "CSCO": -1},
            }
        )
        + "\n"
        + json.dumps(
            {
                "id": "b",
                "created_at": "2023-09-21T11:00:00Z",
                "headline": "Cisco to buy Splunk",
                "expect": {"SPLK": -1},
            }
        )
        + "\n"
        + json.dumps(
            {
                "id": "n",
                "created_at": "2025-01-01T00:00:00Z",
                "headline": "Apple to hold a meeting",
                "expect": {},
                "neutral": ["AAPL"],
            }
        )
        + "\n"
    )
    res = run("eval", "--cases", str(cases), "--json")
    obj = json.loads(res.stdout)
    assert {
        k: obj[k] for k in ("pairs", "correct", "neutral_pairs", "neutral_false_positives")
    } == {
        "pairs": 3,
        "correct": 2,
        "neutral_pairs": 1,
        "neutral_false_positives": 0,
    }
    assert obj["accuracy"] == round(2 / 3, 4)
    strict = json.loads(run("eval", "--cases", str(cases), "--json", "--threshold", "0.95").stdout)
    assert strict["correct"] == 0


def test_universe_check_passes_on_good_data_and_names_problems(tmp_path: Path) -> None:
    assert run("universe", "check").returncode == 0
    import shutil

    bad = tmp_path / "cfg"
    shutil.copytree(MINI, bad)
    with (bad / "universe" / "links" / "a.csv").open("a") as fh:
        fh.write("ZZZZ,META,competitor,0.5,nobody\n")
    with (bad / "universe" / "companies" / "a.csv").open("a") as fh:
        fh.write("XYZ,Xyz Corp.,,Software,Micron,,,,\n")
    res = run("universe", "check", config=bad)
    err = res.stderr.decode()
    assert res.returncode == 1
    assert "unknown symbol ZZZZ" in err
    assert "XYZ has no sector" in err or "has sector ''" in err
    assert "alias 'micron' belongs to both" in err


def test_a_settings_typo_is_named_without_a_traceback(tmp_path: Path) -> None:
    import shutil

    cfg = tmp_path / "cfg"
    shutil.copytree(MINI, cfg)
    (cfg / "default.toml").write_text("[scoring]\nthreshhold = 0.3\n")
    res = run("score", "Cisco to buy Splunk", config=cfg)
    assert res.returncode == 2
    assert b"ConfigError" in res.stderr and b"threshhold" in res.stderr
    assert b"Traceback" not in res.stderr
