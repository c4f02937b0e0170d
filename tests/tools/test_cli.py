"""The `otbot` command line as a maintainer uses it: ask, eval, kb check, choosing a folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from paths import ROOT

from otbot.cli import main
from otbot.kb import KnowledgeBase, read_knowledge
from otbot.kb.markup import visible_text

COVID = ROOT / "eval" / "external" / "covid-qa" / "knowledge"
BROKEN_FAQ = """\
- id: tie-shoes
  question: How can I help my child learn to tie shoelaces?
  alternates: [tying shoes]
  answer: Practise with <b>thick laces.
- id: Bedtime
  question: How do I get my child to settle at bedtime?
  alternates: [bedtime routine]
  answer: A calm, regular routine helps.
"""
BROKEN_LINES = [
    "knowledge/faq/a.yaml:4: 'answer': <b> is never closed",
    "knowledge/faq/a.yaml:5: 'id' must be 1-40 characters of a-z, 0-9 and '-', starting with a"
    " letter or digit, like 'bedtime'",
]
EVAL_FILE = """\
items:
- {q: "does insurance cover OT", expect: insurance}
- {q: "how often are OT sessions", expect: [session-frequency, typical-session]}
- {q: "my son is not breathing", expect: urgent}
- {q: "thanks so much!", expect: smalltalk}
- {q: "how do I do my taxes", expect: none}
- {q: "how do I do my taxes", expect: fine-motor}
"""
Run = tuple[int, str, str]


@pytest.fixture(autouse=True)
def no_knowledge_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start without OTBOT_KNOWLEDGE_DIR, whatever the shell has."""
    monkeypatch.delenv("OTBOT_KNOWLEDGE_DIR", raising=False)


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A knowledge folder with two errors in its only FAQ file."""
    folder = tmp_path / "knowledge"
    (folder / "faq").mkdir(parents=True)
    (folder / "faq" / "a.yaml").write_text(BROKEN_FAQ, encoding="utf-8")
    return folder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    """Run `otbot ARGV` in-process: exit code, stdout, stderr."""
    try:
        code = main(list(argv))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def run_process(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m otbot ARGV` as a separate process."""
    environment = {k: v for k, v in os.environ.items() if k != "OTBOT_KNOWLEDGE_DIR"}
    return subprocess.run([sys.executable, "-m", "otbot", *argv], capture_output=True, text=True,
                          env={**environment, **env}, timeout=60, check=False)


# --- help ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "says"), [
    pytest.param([], ["occupational therapy", "chat", "run", "ask", "eval", "kb"], id="otbot"),
    pytest.param(["ask"], ["decision", "--json", "--knowledge"], id="ask"),
    pytest.param(["eval"], ["metrics", "threshold sweep", "--json", "--no-sweep", "--knowledge"],
                 id="eval"),
    pytest.param(["kb"], ["check", "import"], id="kb"),
    pytest.param(["kb", "check"], ["FILE:LINE", "--knowledge", "OTBOT_KNOWLEDGE_DIR"],
                 id="kb-check"),
    pytest.param(["chat"], ["terminal", "--knowledge"], id="chat"),
    pytest.param(["run"], ["Telegram", "TELEGRAM_BOT_TOKEN", "--webhook"], id="run"),
])
def test_help_explains_each_command(capsys: pytest.CaptureFixture[str], argv: list[str],
                                    says: list[str]) -> None:
    """`--help` exits 0 and says what the command does and takes."""
    code, out, _ = run(capsys, *argv, "--help")
    assert code == 0
    assert out.startswith(f"usage: otbot {' '.join(argv)}".rstrip())
    flat = " ".join(out.split())
    for phrase in says:
        assert phrase in flat, phrase


def test_help_as_a_process() -> None:
    """`python -m otbot --help` works from a shell."""
    result = run_process("--help")
    assert result.returncode == 0
    assert "usage: otbot" in result.stdout


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """`otbot` alone says what is missing and exits 2."""
    code, _, err = run(capsys)
    assert code == 2
    assert "COMMAND" in err


# --- ask -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "kind", "count"), [
    ("does insurance cover OT", "answer", 3),
    ("my son is not breathing", "urgent", 0),
    ("thanks so much!", "smalltalk", 0),
])
def test_ask_json(capsys: pytest.CaptureFixture[str], text: str, kind: str, count: int) -> None:
    """`ask --json` prints the decision, which kinds fired, and a one-line reason."""
    code, out, _ = run(capsys, "ask", "--json", text)
    assert code == 0
    decision = json.loads(out)
    assert set(decision) == {"kind", "topic", "candidates", "score", "detail", "urgent", "soon",
                             "language", "reason"}
    assert decision["reason"] and "\n" not in decision["reason"]
    assert (decision["urgent"][:1] == ["breathing"]) == (kind == "urgent")
    assert decision["kind"] == kind
    assert len(decision["candidates"]) == count
    assert all(isinstance(topic, str) for topic in decision["candidates"])
    assert isinstance(decision["score"], float | int)
    if kind == "answer":
        assert decision["topic"] == decision["candidates"][0] == "insurance"
    else:
        assert decision["topic"] is None


def test_ask_shows_the_answer(capsys: pytest.CaptureFixture[str],
                              shipped_kb: KnowledgeBase) -> None:
    """Plain `ask` shows the decision and the answer as the parent reads it."""
    code, out, _ = run(capsys, "ask", "does insurance cover OT")
    assert code == 0
    assert out.startswith("answer: insurance")
    assert visible_text(shipped_kb.entries["insurance"].answer) in out
    assert "<b>" not in out
    assert "candidates: insurance" in out


def test_ask_shows_the_emergency_reply(capsys: pytest.CaptureFixture[str],
                                       shipped_kb: KnowledgeBase) -> None:
    """Plain `ask` on an emergency shows the emergency reply."""
    code, out, _ = run(capsys, "ask", "my son is not breathing")
    assert code == 0
    assert out.startswith("urgent (breathing")
    assert visible_text(shipped_kb.urgent.kinds[0].reply).split("\n")[0] not in out  # crisis
    assert visible_text(shipped_kb.urgent.kind("breathing").reply) in out


# --- eval ------------------------------------------------------------------------------------


@pytest.fixture
def eval_file(tmp_path: Path) -> Path:
    """A small labelled file with one deliberate miss (line 7)."""
    path = tmp_path / "small.yaml"
    path.write_text(EVAL_FILE, encoding="utf-8")
    return path


def test_eval_json(capsys: pytest.CaptureFixture[str], eval_file: Path) -> None:
    """`eval --json` prints every item with its decision, expect always a list, and a summary."""
    code, out, _ = run(capsys, "eval", str(eval_file), "--json")
    assert code == 0
    report = json.loads(out)
    assert set(report) == {"items", "summary"}
    assert [set(item) for item in report["items"]] == [
        {"q", "expect", "kind", "topic", "candidates"}] * 6
    assert [item["expect"] for item in report["items"]] == [
        ["insurance"], ["session-frequency", "typical-session"], ["urgent"], ["smalltalk"],
        ["none"], ["fine-motor"]]
    assert [item["kind"] for item in report["items"]][2:5] == ["urgent", "smalltalk", "fallback"]
    assert report["items"][0]["topic"] == "insurance"
    assert len(report["items"][0]["candidates"]) == 3
    assert report["items"][2]["candidates"] == []
    summary = report["summary"]
    assert {"answered_right", "answered_or_offered", "answered_wrong", "out_of_scope_rejected",
            "urgent_recognised", "false_urgent", "smalltalk_recognised"} <= set(summary)
    assert summary["in_scope"] == 3
    assert summary["urgent_recognised"] == 1.0


def test_eval_text_has_metrics_misses_and_sweep(capsys: pytest.CaptureFixture[str],
                                                eval_file: Path) -> None:
    """Plain `eval` prints the metrics table, each miss with its line, and the sweep."""
    code, out, _ = run(capsys, "eval", str(eval_file))
    assert code == 0
    assert out.startswith("6 messages, 3 in scope")
    for label in ("in-scope answered with the right topic", "out-of-scope messages rejected",
                  "urgent messages recognised", "small talk recognised"):
        assert label in out
    assert "misses (1):" in out
    assert "line 7: 'how do I do my taxes'" in out
    assert "expected fine-motor; decided fallback" in out
    assert "threshold sweep" in out
    assert "answer_coverage" in out and "clarify_domain" in out


def test_eval_no_sweep(capsys: pytest.CaptureFixture[str], eval_file: Path) -> None:
    """`--no-sweep` leaves the sweep out and keeps the rest."""
    code, out, _ = run(capsys, "eval", str(eval_file), "--no-sweep")
    assert code == 0
    assert "misses (1):" in out
    assert "threshold sweep" not in out


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("items:\n- {q: hi}\n", "2: 'expect' must be an id or a list of ids",
                 id="no-expect"),
    pytest.param("items:\n- {q: hi, expect: smalltalk}\n- {expect: none}\n",
                 "3: each item needs a text 'q'", id="no-q"),
    pytest.param("questions: []\n", "1: an eval file needs a list under 'items'",
                 id="no-items"),
    pytest.param("items: [\n", "1: a list in [ ] or a mapping in { } is not closed", id="syntax"),
])
def test_malformed_eval_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str,
                             message: str) -> None:
    """A malformed file is named with its line, and the exit code is not 0."""
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "eval", str(path))
    assert code != 0
    assert out == ""
    assert f"{path}:{message}" in err


def test_missing_eval_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A file that does not exist is named, not a traceback."""
    code, _, err = run(capsys, "eval", str(tmp_path / "nope.yaml"))
    assert code != 0
    assert "nope.yaml:1: cannot read the file" in err


# --- kb check --------------------------------------------------------------------------------


def test_kb_check_shipped_folder(capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped folder has no errors."""
    code, out, err = run(capsys, "kb", "check")
    assert code == 0, out
    assert all(": warning: " in line for line in out.splitlines())
    assert "0 error(s)" in err


def test_kb_check_broken_folder(capsys: pytest.CaptureFixture[str], broken: Path) -> None:
    """A broken folder exits 1 and prints each problem as FILE:LINE: message."""
    code, out, err = run(capsys, "kb", "check", "--knowledge", str(broken))
    assert code == 1
    assert out.splitlines() == BROKEN_LINES
    assert out.splitlines() == [str(p) for p in read_knowledge(broken)[1]]
    assert "2 error(s), 0 warning(s)" in err


# --- choosing the folder ---------------------------------------------------------------------


def test_knowledge_option_selects_the_folder(capsys: pytest.CaptureFixture[str]) -> None:
    """`--knowledge DIR` answers from that folder (it has only faq files)."""
    code, out, _ = run(capsys, "ask", "--json", "--knowledge", str(COVID),
                       "How does the virus spread?")
    assert code == 0
    assert json.loads(out)["topic"] == "covid-006"


def test_environment_selects_the_folder(capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """OTBOT_KNOWLEDGE_DIR does the same as --knowledge."""
    monkeypatch.setenv("OTBOT_KNOWLEDGE_DIR", str(COVID))
    code, out, _ = run(capsys, "ask", "--json", "How does the virus spread?")
    assert code == 0
    assert json.loads(out)["topic"] == "covid-006"


def test_option_wins_over_environment(capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch, broken: Path) -> None:
    """An explicit --knowledge overrides OTBOT_KNOWLEDGE_DIR."""
    monkeypatch.setenv("OTBOT_KNOWLEDGE_DIR", str(broken))
    code, out, err = run(capsys, "kb", "check", "--knowledge", str(COVID))
    assert code == 0
    assert all(": warning: " in line for line in out.splitlines())
    assert str(COVID) in err and "0 error(s)" in err


def test_environment_selects_the_folder_for_kb_check(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     broken: Path) -> None:
    """`kb check` follows OTBOT_KNOWLEDGE_DIR too."""
    monkeypatch.setenv("OTBOT_KNOWLEDGE_DIR", str(broken))
    code, out, _ = run(capsys, "kb", "check")
    assert code == 1
    assert out.splitlines() == BROKEN_LINES


@pytest.mark.parametrize("argv", [["ask", "what is OT"], ["eval", str(ROOT / "eval" / "dev.yaml")]])
def test_broken_folder_stops_with_its_problems(capsys: pytest.CaptureFixture[str], broken: Path,
                                               argv: list[str]) -> None:
    """`ask` and `eval` on a broken folder exit 1, naming every problem."""
    code, out, err = run(capsys, *argv, "--knowledge", str(broken))
    assert code == 1
    assert out == ""
    assert "nothing was loaded" in err
    for line in BROKEN_LINES:
        assert line in err


def test_broken_folder_as_a_process_has_no_traceback(broken: Path) -> None:
    """From a shell: exit 1, the problem named, no traceback."""
    result = run_process("ask", "what is OT", OTBOT_KNOWLEDGE_DIR=str(broken))
    assert result.returncode == 1
    assert result.stdout == ""
    assert BROKEN_LINES[0] in result.stderr
    assert "Traceback" not in result.stderr


def test_eval_recognises_a_safety_set_and_gates_on_its_bars(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text('items:\n- {q: "my son is not breathing", kind: breathing}\n'
                    '- {q: "what breathing exercises help him calm down?", kind: calm}\n')
    code, out, _ = run(capsys, "eval", str(good))
    assert code == 0 and "recall         1.000" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text('items:\n- {q: "what is OT?", kind: breathing}\n')
    code, _, err = run(capsys, "eval", str(bad))
    assert code == 1 and "recall 0.0 misses its bar" in err
