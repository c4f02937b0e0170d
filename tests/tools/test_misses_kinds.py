"""`otbot misses` sees every failure: declines, "did you mean" offers and the choice taken,
👎 votes with the topic answered, follow-ups not placed; by kind, --since, --kind, --json."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from otbot.cli import main
from otbot.effects import NONE_OF_THESE, Decided, Miss, MissKind
from otbot.store import Retention, SqliteStore
from otbot.tools.misses import DATABASE, since_day

DAY = dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC)
OFFER = ("insurance", "school-ot", "cost")


def day(n: int) -> dt.datetime:
    return DAY + dt.timedelta(days=n)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    store = SqliteStore(tmp_path / DATABASE)
    misses = [
        (Miss("is ot covered", MissKind.CLARIFY, "insurance", OFFER), 0),
        (Miss("is ot covered at all", MissKind.CLARIFY, "insurance", OFFER), 1),
        (Miss("is ot covered", MissKind.CLARIFY, None, OFFER), 2),
        (Miss("who pays for therapy", MissKind.CLARIFY, NONE_OF_THESE, OFFER), 3),
        (Miss("how much is a session", MissKind.UNHELPFUL, "cost"), 4),
        (Miss("how much does a session cost", MissKind.UNHELPFUL, "cost"), 5),
        (Miss("can you diagnose autism", MissKind.DECLINED, "diagnosis"), 6),
        (Miss("and for his sister", MissKind.FOLLOWUP), 7),
        (Miss("best stroller for twins"), 8),
    ]
    for chat, (miss, offset) in enumerate(misses):
        store.commit(chat, {}, [miss, Decided("clarify")], None, day(offset))
    store.close()
    return tmp_path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    assert main(["misses", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_every_kind_is_reported_with_an_action(data: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    report = run_json(capsys, "--data", str(data))
    assert report["total"] == 9
    groups = {(g["kind"], g["wording"]): g for g in report["groups"]}
    assert [g["kind"] for g in report["groups"]] == [
        "fallback", "declined", "clarify", "clarify", "unhelpful", "followup"]

    offered = groups[("clarify", "is ot covered")]
    assert offered["count"] == 3 and offered["others"] == ["is ot covered at all"]
    assert offered["topics"] == {"insurance": 2, "": 1}  # "" = the offer was ignored
    assert offered["offered"] == list(OFFER)
    assert offered["action"].startswith("add an alternate to 'insurance': parents chose it")

    refused = groups[("clarify", "who pays for therapy")]
    assert refused["topics"] == {NONE_OF_THESE: 1}
    assert refused["action"].startswith("none of the offered topics was taken")

    voted = groups[("unhelpful", "how much does a session cost")]
    assert voted["count"] == 2 and voted["topics"] == {"cost": 2}
    assert voted["action"].startswith("review the answer of 'cost'")

    assert groups[("declined", "can you diagnose autism")]["action"].startswith(
        "declined on purpose")
    assert groups[("followup", "and for his sister")]["action"].startswith(
        "a follow-up the bot could not place")
    assert groups[("fallback", "best stroller for twins")]["action"] == (
        "a new topic: no entry covers this question")


def test_the_text_report_has_a_section_per_kind(data: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["misses", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("9 question(s) that went wrong, in 6 group(s).")
    for header in ("== fallback: no answer found: 1 question(s) in 1 group(s)",
                   "== declined: declined on purpose (decline.yaml): 1 question(s)",
                   "== clarify: \"did you mean\" offered: 4 question(s) in 2 group(s)",
                   "== unhelpful: answer voted 👎: 2 question(s) in 1 group(s)",
                   "== followup: follow-up the bot could not place: 1 question(s)"):
        assert header in out
    assert "      offered: insurance, school-ot, cost; taken: insurance 2, ignored 1" in out
    assert "      answered: cost 2" in out


def test_since_and_kind_narrow_the_report(data: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    report = run_json(capsys, "--data", str(data), "--since", "2026-03-15")
    assert report["total"] == 4  # days 5 to 8
    assert {g["kind"] for g in report["groups"]} == {"unhelpful", "declined", "followup",
                                                     "fallback"}
    report = run_json(capsys, "--data", str(data), "--kind", "clarify", "--kind", "unhelpful")
    assert {g["kind"] for g in report["groups"]} == {"clarify", "unhelpful"}


def test_since_in_days(capsys: pytest.CaptureFixture[str]) -> None:
    assert since_day("30d", dt.date(2026, 3, 31)) == "2026-03-01"
    assert since_day("2026-01-31") == "2026-01-31"
    with pytest.raises(ValueError):
        since_day("last week")


def test_a_bad_since_is_a_usage_error(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["misses", "--data", str(data), "--since", "yesterday"]) == 2
    assert "--since takes a day like 2026-01-31" in capsys.readouterr().err


def test_the_store_reads_back_each_miss_and_counts_decisions(data: Path) -> None:
    store = SqliteStore(data / DATABASE)
    details = store.miss_details()
    assert details[0] == ("is ot covered", "2026-03-10", "clarify", "insurance", OFFER)
    assert details[2] == ("is ot covered", "2026-03-12", "clarify", None, OFFER)
    assert [d[0] for d in store.miss_details("2026-03-18")] == ["best stroller for twins"]
    assert store.decision_counts("2026-03-17") == [("2026-03-17", "clarify", 1),
                                                    ("2026-03-18", "clarify", 1)]
    store.close()


def test_decision_counts_go_with_the_misses_retention(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / DATABASE, Retention(misses_days=5))
    store.commit(1, {}, [Decided("answer"), Decided("answer"), Decided("fallback")], None, day(0))
    store.commit(2, {}, [Decided("answer")], None, day(10))
    assert store.decision_counts() == [("2026-03-10", "answer", 2), ("2026-03-10", "fallback", 1),
                                       ("2026-03-20", "answer", 1)]
    store.purge(day(12))
    assert store.decision_counts() == [("2026-03-20", "answer", 1)]
    store.close()


def test_a_version_2_database_gains_the_decision_counts(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / DATABASE
    SqliteStore(path).close()
    with sqlite3.connect(path) as db:  # as version 2 left it
        db.execute("DROP TABLE decision_counts")
        db.execute("PRAGMA user_version = 2")
    store = SqliteStore(path)
    store.commit(1, {}, [Decided("urgent")], None, day(0))
    assert store.decision_counts() == [("2026-03-10", "urgent", 1)]
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 3
        columns = [row[1] for row in db.execute("PRAGMA table_info(decision_counts)")]
    assert columns == ["day", "kind", "count"]


def test_a_word_the_knowledge_base_never_uses_suggests_a_synonym() -> None:
    from otbot.tools.misses import KindGroup, suggest
    from otbot.understanding.grouping import MissGroup
    from otbot.understanding.matcher import Candidate

    def action(coverage: float, known: set[str]) -> str:
        group = MissGroup(3, "my youngster hates haircuts", (), "2026-03-01", "2026-03-02",
                          Candidate("haircuts", 0.9, coverage))
        return suggest(KindGroup("fallback", group), group, frozenset(known))

    assert action(0.4, {"hates", "haircuts"}).startswith(
        "a synonym: if 'youngster' means a word the knowledge base uses, add it to "
        "synonyms.yaml; else an alternate to 'haircuts'")
    assert action(0.8, {"hates", "haircuts"}).startswith("add an alternate to 'haircuts'")
    assert action(0.4, {"youngster", "hates", "haircuts"}) == (
        "a new topic: no entry covers this question")
