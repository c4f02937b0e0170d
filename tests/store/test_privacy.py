"""What is kept, and for how long: /forget leaves nothing, misses are anonymous, emergencies
are never stored, and old data goes when its time is up."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from botharness import JSON, Parent, data_of, labels, running_bot
from fakebotapi import FakeBotApi

from otbot.config import from_env
from otbot.effects import Miss
from otbot.kb import KnowledgeBase
from otbot.store import Retention, SqliteStore
from otbot.understanding.matcher import Matcher

PARENT = 987_654_321  # chat id and user id of the parent who asks to be forgotten
OTHER = 123_987_654
URGENT = "my son is choking and can't breathe"
DB = "otbot.sqlite3"
UNKNOWN = "what's the capital of Australia"


@pytest.fixture(scope="module")
def vague(shipped_kb: KnowledgeBase) -> str:
    """A question the bot answers with a choice of topics (the wording depends on the KB)."""
    matcher = Matcher(shipped_kb)
    assert matcher.decide(UNKNOWN).kind == "fallback"
    candidates = ["school or private, insurance?", "my child", "occupational therapy", "help"]
    return next(text for text in candidates if matcher.decide(text).kind == "clarify")


def rows_mentioning(path: Path, needle: int | str) -> list[tuple[str, str, Any]]:
    """Every (table, column, value) in the database file equal to or containing needle."""
    found = []
    with sqlite3.connect(path) as db:
        tables = [name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            cursor = db.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    if value == needle or str(needle) in str(value):
                        found.append((table, column, value))
    return found


async def answer_screen(parent: Parent, answer: str = "Rarely") -> JSON:
    """Go through the whole checklist to its results."""
    [intro] = await parent.say("/screen")
    [message] = await parent.press(intro, "Start")
    [message] = await parent.press(message, "3 to 5 years")
    for _ in range(8):
        [message] = await parent.press(message, answer)
    [review] = await parent.press(message, "No")
    [results] = await parent.press(review, "results")
    return results


async def test_forget_leaves_no_row_that_refers_to_the_parent(
        fake_api: FakeBotApi, tmp_path: Path, vague: str) -> None:
    """After /forget (confirmed) the parent's id is in no table and no column."""
    parent, other = Parent(fake_api, PARENT), Parent(fake_api, OTHER)
    async with running_bot(fake_api, tmp_path):
        await parent.say("/start")
        [answer] = await parent.say("Is OT covered by insurance?")
        await parent.press(answer, "Helpful")
        await parent.say(UNKNOWN)  # a miss
        await parent.say(vague)  # a pending clarification
        await answer_screen(parent, "Not sure")
        [intro] = await parent.say("/screen")
        [age] = await parent.press(intro, "Start")  # and a checklist open
        await answer_screen(other)
        assert rows_mentioning(tmp_path / DB, PARENT)  # the scan does find the parent
        [confirm] = await parent.say("/forget")
        [done] = await parent.press(confirm, "Yes")
        assert "deleted" in done["text"] and "How old" in age["text"]
    assert rows_mentioning(tmp_path / DB, PARENT) == []
    assert rows_mentioning(tmp_path / DB, OTHER)  # only that parent was forgotten
    assert fake_api.rejected == [], fake_api.dump_calls()


async def test_forget_declined_keeps_everything(fake_api: FakeBotApi, tmp_path: Path) -> None:
    """"No, keep it" deletes nothing."""
    parent = Parent(fake_api, PARENT)
    async with running_bot(fake_api, tmp_path):
        [intro] = await parent.say("/screen")
        await parent.press(intro, "Start")
        before = chat_rows(tmp_path, PARENT)
        [confirm] = await parent.say("/forget")
        [kept] = await parent.press(confirm, "No")
    assert "Nothing was deleted" in kept["text"]
    assert before and chat_rows(tmp_path, PARENT)[0][1] == before[0][1]  # the same checklist


def chat_rows(data_dir: Path, chat: int) -> list[tuple[int, str]]:
    """The chat's stored state rows: (chat_id, state)."""
    with sqlite3.connect(data_dir / DB) as db:
        return list(db.execute("SELECT chat_id, state FROM chats WHERE chat_id = ?", (chat,)))


async def test_misses_are_kept_without_anyone_attached(
        fake_api: FakeBotApi, tmp_path: Path, vague: str) -> None:
    """The misses table has no column for a person, and its rows name no one."""
    parent = Parent(fake_api, PARENT)
    async with running_bot(fake_api, tmp_path) as app:
        await parent.say(UNKNOWN)
        [clarify] = await parent.say(vague)
        await parent.press(clarify, "None of these")
        misses = app.bot_data["runtime"].store.miss_details()
    # The question with no answer, and the "did you mean" offer turned down.
    assert [kind for _, _, kind, _, _ in misses] == ["fallback", "clarify"]
    assert "australia" in misses[0][0]
    with sqlite3.connect(tmp_path / DB) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(misses)")}
        days = [day for (day,) in db.execute("SELECT day FROM misses")]
    assert columns == {"id", "text", "day", "kind", "topic", "options"}  # nothing of who asked
    assert all(len(day) == len("2026-01-01") for day in days)  # a day, not a moment
    assert [r for r in rows_mentioning(tmp_path / DB, PARENT) if r[0] == "misses"] == []


async def test_urgent_messages_are_never_stored(fake_api: FakeBotApi, tmp_path: Path,
                                                vague: str) -> None:
    """Not as a miss, not as a pending question, not in a state: in no row at all."""
    parent = Parent(fake_api, PARENT)
    async with running_bot(fake_api, tmp_path):
        [first] = await parent.say(URGENT)
        await parent.say(vague)  # something pending, then urgent
        [second] = await parent.say("he swallowed a button battery")
        [intro] = await parent.say("/screen")
        await parent.press(intro, "Start")  # mid-checklist, then urgent
        [third] = await parent.say("she is having a seizure right now")
    for reply in (first, second, third):
        assert "emergency" in reply["text"].lower()
    for word in ("choking", "breathe", "battery", "swallowed", "seizure"):
        assert rows_mentioning(tmp_path / DB, word) == [], word


async def test_with_log_misses_off_no_miss_is_stored(fake_api: FakeBotApi, tmp_path: Path,
                                                     vague: str) -> None:
    """OTBOT_LOG_MISSES=0: unanswered questions are answered as usual and never written."""
    parent = Parent(fake_api, PARENT)
    async with running_bot(fake_api, tmp_path, log_misses=False):
        [fallback] = await parent.say(UNKNOWN)
        [clarify] = await parent.say(vague)
        await parent.press(clarify, "None of these")
    assert "don't have a good answer" in fallback["text"]
    with sqlite3.connect(tmp_path / DB) as db:
        assert db.execute("SELECT COUNT(*) FROM misses").fetchone() == (0,)
    assert rows_mentioning(tmp_path / DB, "australia") == []


def test_otbot_log_misses_0_turns_the_log_off() -> None:
    """The environment variable reaches the configuration."""
    base = {"TELEGRAM_BOT_TOKEN": "123456:TEST-token-for-otbot-tests_0123"}
    assert from_env(base).log_misses is True
    for off in ("0", "false", "no", "off"):
        assert from_env({**base, "OTBOT_LOG_MISSES": off}).log_misses is False


def test_purge_deletes_chats_and_misses_after_their_retention(tmp_path: Path) -> None:
    """Chat states go after chat_days without use, misses after misses_days; younger stay."""
    now = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    store = SqliteStore(tmp_path / DB, Retention(chat_days=30, misses_days=90))
    day = dt.timedelta(days=1)
    store.commit(1, {"k": "old"}, [Miss("an old question")], 10, now - 31 * day)
    store.commit(2, {"k": "recent"}, [Miss("a recent question")], 11, now - 29 * day)
    store.commit(3, {"k": "ancient"}, [Miss("an ancient question")], 12, now - 91 * day)
    store.commit(4, {"k": "new"}, [], 13, now)
    store.purge(now)
    kept = {chat: store.load(chat).get("k") for chat in (1, 2, 3, 4)}
    misses = [text for text, _ in store.misses()]
    handled = [store.was_handled(update) for update in (10, 11, 12, 13)]
    store.close()
    assert kept == {1: None, 2: "recent", 3: None, 4: "new"}
    assert misses == ["an old question", "a recent question"]
    assert handled == [False, False, False, True]  # ids are only needed for a day or two


def test_purge_honours_shorter_retentions(tmp_path: Path) -> None:
    """OTBOT_RETENTION_DAYS=1 and OTBOT_MISSES_DAYS=1 mean a day."""
    now = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
    store = SqliteStore(tmp_path / DB, Retention(chat_days=1, misses_days=1))
    store.commit(1, {"k": "v"}, [Miss("yesterday's question")], None, now - dt.timedelta(
        days=2))
    store.commit(2, {"k": "v"}, [Miss("today's question")], None, now)
    store.purge(now)
    assert len(store.misses()) == 1 and "today" in store.misses()[0][0]
    assert store.load(1) == {} and store.load(2) == {"k": "v"}
    store.close()


def shift_screen(path: Path, chat: int, days: int) -> None:
    """Move a chat's checklist timestamps `days` into the past (the chat itself stays fresh)."""
    with sqlite3.connect(path) as db:
        (raw,) = db.execute("SELECT state FROM chats WHERE chat_id = ?", (chat,)).fetchone()
        state = json.loads(raw)
        screen = state["screen"]
        for key in ("touched", "done"):
            if screen.get(key):
                moment = dt.datetime.fromisoformat(screen[key]) - dt.timedelta(days=days)
                screen[key] = moment.isoformat()
        db.execute("UPDATE chats SET state = ? WHERE chat_id = ?", (json.dumps(state), chat))


async def test_a_finished_screen_older_than_the_retention_is_gone_on_return(
        fake_api: FakeBotApi, tmp_path: Path) -> None:
    """Results from 31 days ago (retention 30): dropped when the parent writes again."""
    parent = Parent(fake_api, PARENT)
    async with running_bot(fake_api, tmp_path, retention_days=30):
        results = await answer_screen(parent, "Not sure")
    assert '"a":"unsure"' in chat_rows(tmp_path, PARENT)[0][1]  # the answers are kept
    shift_screen(tmp_path / DB, PARENT, days=31)
    async with running_bot(fake_api, tmp_path, retention_days=30):
        [hello] = await parent.say("hello")
        stored = rows_mentioning(tmp_path / DB, PARENT)
        [stale] = await parent.press(results, "Summary")
        [intro] = await parent.say("/screen")
    assert hello["text"].startswith("Hello")
    assert all("screen" not in str(value) for table, _, value in stored
               if table == "chats"), stored
    assert "no longer works" in stale["text"]
    assert "Start" in labels(intro) and "Continue" not in " ".join(labels(intro))
    assert fake_api.rejected == [], fake_api.dump_calls()


async def test_a_finished_screen_within_the_retention_is_kept(
        fake_api: FakeBotApi, tmp_path: Path) -> None:
    """Results from 29 days ago: the summary still works."""
    parent = Parent(fake_api, PARENT)
    async with running_bot(fake_api, tmp_path, retention_days=30):
        results = await answer_screen(parent)
    shift_screen(tmp_path / DB, PARENT, days=29)
    async with running_bot(fake_api, tmp_path, retention_days=30):
        fake_api.press_button(PARENT, results["message_id"], data_of(results, "Summary"))
        text, document = await fake_api.wait_for_replies(PARENT, 2)
    assert "document" in document and "no longer works" not in text["text"]
