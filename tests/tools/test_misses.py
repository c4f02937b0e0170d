"""`otbot misses` and /stats: unanswered questions, similar wordings grouped, nobody identified."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from otbot.cli import main
from otbot.dialog.conversation import Conversation
from otbot.effects import Miss
from otbot.kb import KnowledgeBase
from otbot.store import SqliteStore
from otbot.telegram_bot.stats import stats_text
from otbot.tools.misses import DATABASE
from otbot.understanding.grouping import MissGroup, group_misses
from otbot.understanding.text import normalize

# (text as a parent typed it, day of January 2026)
ASKED = [
    ("Is OT covered by Medicaid?", 3), ("does medicaid cover ot", 4),
    ("is ot covered by medicaid", 9), ("Is OT covered by medicaid!!", 12),
    ("ot medicaid coverage", 5),
    ("my son hates brushing his teeth", 6), ("hates brushing his teeth", 8),
    ("best stroller for twins", 7),
    ("ot", 10), ("ot for adults", 11),
]


def fill(data: Path, asked: list[tuple[str, int]]) -> SqliteStore:
    """A store in `data` holding each question as a miss from a chat of its own.

    Normalised as the dialog hands misses to the store.
    """
    store = SqliteStore(data / DATABASE)
    for chat, (text, day) in enumerate(asked):
        store.commit(chat, {}, [Miss(normalize(text))], None,
                     dt.datetime(2026, 1, day, 9, tzinfo=dt.UTC))
    return store


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data folder whose store holds ASKED."""
    fill(tmp_path / "data", ASKED).close()
    return tmp_path / "data"


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    """What `otbot misses --json ARGS` prints, parsed; it must exit 0."""
    assert main(["misses", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_similar_wordings_are_grouped_and_counted(data: Path) -> None:
    store = SqliteStore(data / DATABASE)
    groups = group_misses(store.misses())
    store.close()
    assert groups[:2] == [
        MissGroup(5, "is ot covered by medicaid",
                  ("does medicaid cover ot", "ot medicaid coverage"), "2026-01-03", "2026-01-12"),
        MissGroup(2, "hates brushing his teeth", ("my son hates brushing his teeth",),
                  "2026-01-06", "2026-01-08"),
    ]
    # "ot" is in "ot for adults", but a two-letter miss must not swallow every OT question.
    assert sorted(g.wording for g in groups[2:]) == ["best stroller for twins", "ot",
                                                     "ot for adults"]
    assert sum(g.count for g in groups) == len(ASKED)


def test_grouping_is_greedy_by_frequency_and_keeps_three_other_wordings() -> None:
    rows = [("help with handwriting", "2026-01-02")] * 3 + [
        ("help with the handwriting", "2026-01-01"), ("handwriting help", "2026-01-05"),
        ("help with handwriting please", "2026-01-03"), ("help with his handwriting", "2026-01-04"),
    ]
    (group,) = group_misses(rows)
    assert (group.count, group.wording, group.first, group.last) == (
        7, "help with handwriting", "2026-01-01", "2026-01-05")
    assert len(group.others) == 3 and "help with handwriting" not in group.others


def test_json_shape_with_nearest_entry_and_limit(data: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    report = run_json(capsys, "--data", str(data), "--limit", "2")
    assert report["total"] == len(ASKED)
    assert [g["count"] for g in report["groups"]] == [5, 2]
    first = report["groups"][0]
    assert set(first) == {"kind", "count", "wording", "others", "first", "last", "nearest",
                          "topics", "offered", "action"}
    assert first["kind"] == "fallback"
    assert first["action"].startswith("add an alternate to 'public-funding'")
    assert (first["wording"], first["first"], first["last"]) == (
        "is ot covered by medicaid", "2026-01-03", "2026-01-12")
    assert first["nearest"]["id"] == "public-funding"
    assert 0 < first["nearest"]["score"] <= 1


def test_text_report(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["misses", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("10 question(s) that went wrong, in 5 group(s).\n\n"
                          "== fallback: no answer found: 10 question(s) in 5 group(s); the 5 "
                          "most asked:")
    assert ("   5  is ot covered by medicaid\n"
            "      also: does medicaid cover ot | ot medicaid coverage\n"
            "      seen 2026-01-03 to 2026-01-12; nearest entry: public-funding (") in out
    assert "      action: " in out


def test_data_folder_from_the_environment(data: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTBOT_DATA_DIR", str(data))
    assert run_json(capsys)["total"] == len(ASKED)


def test_an_empty_store_is_said_kindly(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    fill(tmp_path, []).close()
    assert main(["misses", "--data", str(tmp_path)]) == 0
    output = capsys.readouterr()
    assert "no unanswered questions recorded" in output.err.lower()
    assert run_json(capsys, "--data", str(tmp_path)) == {"total": 0, "groups": []}


def test_a_missing_database_is_said_and_not_created(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["misses", "--data", str(tmp_path / "nowhere")]) == 0
    assert f"no database at {tmp_path / 'nowhere' / DATABASE}" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()


def test_the_misses_table_cannot_identify_anyone(data: Path) -> None:
    with sqlite3.connect(data / DATABASE) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(misses)")}
        stored = sorted(row[0] for row in db.execute("SELECT text FROM misses"))
    # Only the normalised question, the day and a row number: no chat, user, name or time.
    assert columns == {"id", "text", "day", "kind", "topic", "options"}  # nothing of who asked
    assert "is ot covered by medicaid" in stored and "Is OT covered by Medicaid?" not in stored


def test_stats_lists_the_same_groups(data: Path, shipped_kb: KnowledgeBase) -> None:
    store = SqliteStore(data / DATABASE)
    text = stats_text(Conversation(shipped_kb), store)
    store.close()
    assert "• is ot covered by medicaid (5)\n• hates brushing his teeth (2)\n" in text
    assert text.count("•") == 5


def test_a_file_that_is_not_a_database_is_said(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / DATABASE).write_text("not sqlite", encoding="utf-8")
    assert main(["misses", "--data", str(tmp_path)]) == 1
    assert f"cannot read {tmp_path / DATABASE}: file is not a database" in capsys.readouterr().err
