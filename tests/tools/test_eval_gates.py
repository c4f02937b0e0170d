"""`otbot eval` as a gate: bars on the command line or in a file, exit 1 below them."""

from __future__ import annotations

from pathlib import Path

import pytest
from paths import ROOT

from otbot.cli import main

DEV = str(ROOT / "eval" / "dev.yaml")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code: object = main(["eval", "--no-sweep", *argv])
    except SystemExit as exited:
        code = exited.code
    out, err = capsys.readouterr()
    assert isinstance(code, int)
    return code, out, err


def test_without_bars_eval_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, DEV)[0] == 0


def test_bars_that_are_met_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, DEV, "--min-top1", "0.5", "--min-reach", "0.5",
                       "--max-wrong", "0.5", "--min-oos", "0.5")
    assert code == 0
    assert "otbot eval: all 4 bar(s) met" in err


@pytest.mark.parametrize(("option", "value", "said"), [
    ("--min-top1", "1", "answered_right is"),
    ("--max-wrong", "0", None),
    ("--min-oos", "1", None),
    ("--min-reach", "1", None),
])
def test_a_bar_that_is_missed_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      option: str, value: str, said: str | None) -> None:
    # A file the bot is sure to get partly wrong: one message of each kind, wrongly labelled.
    bad = tmp_path / "bad.yaml"
    bad.write_text("items:\n"
                   "  - {q: how can OT help with handwriting, expect: about-bot}\n"
                   "  - {q: what is occupational therapy, expect: none}\n"
                   "  - {q: zzzz qqqq, expect: about-bot}\n", encoding="utf-8")
    code, _, err = run(capsys, str(bad), option, value)
    assert code == 1, err
    assert f"below the bar {option}" in err or f"above the bar {option}" in err
    if said:
        assert said in err


def test_a_thresholds_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bars = tmp_path / "bars.yaml"
    bars.write_text("min_top1: 1.0\nmax_wrong: 0.5\n", encoding="utf-8")
    # A set the bot does not answer perfectly (eval/dev.yaml it now does).
    fresh = str(ROOT / "eval" / "dev-fresh.yaml")
    code, _, err = run(capsys, fresh, "--thresholds", str(bars))
    assert code == 1
    assert "answered_right is 0." in err and "--min-top1 1.000" in err
    # The command line wins over the file.
    assert run(capsys, fresh, "--thresholds", str(bars), "--min-top1", "0.5")[0] == 0


@pytest.mark.parametrize(("text", "message"), [
    ("min_top: 0.9\n", "1: unknown bar 'min_top' (did you mean 'min_top1'?); known: "
                       "min_top1, min_reach, max_wrong, min_oos"),
    ("min_top1: high\n", "1: 'min_top1' must be a number from 0 to 1, like 0.90"),
    ("- 0.9\n", "1: a thresholds file maps bars to numbers, like min_top1: 0.90"),
])
def test_a_bad_thresholds_file_is_a_usage_error(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path, text: str, message: str) -> None:
    bars = tmp_path / "bars.yaml"
    bars.write_text(text, encoding="utf-8")
    code, _, err = run(capsys, DEV, "--thresholds", str(bars))
    assert code == 2
    assert f"{bars}:{message}" in err


def test_a_bar_out_of_range_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, DEV, "--min-top1", "90")
    assert code == 2
    assert "must be a number from 0 to 1" in err


def test_an_unknown_expected_id_is_an_error(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    items = tmp_path / "items.yaml"
    items.write_text("items:\n  - q: are you a bot\n    expect: about-bott\n"
                     "  - q: hello\n    expect: smalltalk\n", encoding="utf-8")
    code, out, err = run(capsys, str(items))
    assert code == 1
    assert out == ""
    assert (f"{items}:2: expect: unknown topic 'about-bott' (did you mean 'about-bot'?); use an "
            "entry id or none, urgent, smalltalk") in err
