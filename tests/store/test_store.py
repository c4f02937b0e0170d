"""The SQLite store: one transaction per event, durable across a reopen, an outbox."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from otbot.effects import Answered, Forget, Miss, Vote
from otbot.store import Received, Retention, SqliteStore

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


def test_state_counts_and_handled_updates_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "otbot.sqlite3"
    store = SqliteStore(path)
    store.commit(7, {"screen": {"at": "age"}},
                 [Answered("insurance"), Vote("insurance", helpful=False)],
                 100, NOW)
    store.close()
    store = SqliteStore(path)
    assert store.load(7) == {"screen": {"at": "age"}} and store.load(8) == {}
    assert store.was_handled(100) and not store.was_handled(101)
    assert store.topic_counts() == {"insurance": (1, 0, 1)}


def test_the_outbox_keeps_replies_until_they_are_delivered(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "otbot.sqlite3")
    store.commit(7, None, [], 1, NOW, ["first", "second"])
    store.commit(9, None, [], 2, NOW, ["other chat"])
    pending = store.pending(7)
    assert [payload for _, _, payload in pending] == ["first", "second"]
    store.delivered(pending[0][0])
    assert [payload for _, _, payload in store.pending()] == ["second", "other chat"]


def test_none_leaves_the_state_and_empty_deletes_it(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "otbot.sqlite3")
    store.commit(7, {"a": 1}, [], None, NOW)
    store.commit(7, None, [], None, NOW)
    assert store.load(7) == {"a": 1}
    store.commit(7, {}, [], None, NOW)
    assert store.load(7) == {}


def test_forget_removes_the_state_and_the_chats_pending_replies(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "otbot.sqlite3")
    store.commit(7, {"a": 1}, [], None, NOW, ["old reply"])
    store.commit(7, {}, [Forget()], None, NOW, ["forgotten"])
    assert store.load(7) == {} and [p for _, _, p in store.pending()] == ["forgotten"]


def test_misses_are_dated_by_day_and_optional(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.sqlite3")
    store.commit(7, None, [Miss("best stroller for twins")], None, NOW)
    assert store.misses() == [("best stroller for twins", "2026-11-27")]
    quiet = SqliteStore(tmp_path / "b.sqlite3", Retention(log_misses=False))
    quiet.commit(7, None, [Miss("anything")], None, NOW)
    assert quiet.misses() == []


def test_purge_keeps_recent_and_drops_old(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "otbot.sqlite3", Retention(chat_days=30, misses_days=90))
    store.commit(1, {"a": 1}, [Miss("old question")], 5, NOW - dt.timedelta(days=100))
    store.commit(2, {"b": 2}, [Miss("new question")], 6, NOW)
    store.purge(NOW)
    assert store.load(1) == {} and store.load(2) == {"b": 2}
    assert [text for text, _ in store.misses()] == ["new question"]
    assert not store.was_handled(5) and store.was_handled(6)


def test_forget_also_drops_the_parents_unhandled_updates(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "otbot.sqlite3")
    message = '{"message": {"chat": {"id": 7}, "text": "my son bites"}}'
    press = '{"callback_query": {"message": {"chat": {"id": 7}}, "data": "1:m:topics"}}'
    other = '{"message": {"chat": {"id": 9}, "text": "hello"}}'
    store.receive([Received(1, 7, message), Received(2, 7, press), Received(3, 9, other),
                   Received(4, None, "{}")], NOW)
    store.commit(7, {}, [Forget()], 4, NOW)
    assert store.inbox() == [other]
