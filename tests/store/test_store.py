"""The stores: one transaction per event, durable across a reopen, an outbox; both backends."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from otbot.effects import Answered, Decided, Forget, Miss, MissKind, Vote
from otbot.store import Outcome, Received, Retention, Session, SqliteStore, Store
from otbot.store.sqlite import MIGRATIONS

Opener = Callable[..., Store]
NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


def test_state_counts_and_handled_updates_survive_a_reopen(open_store: Opener) -> None:
    store = open_store()
    store.commit(7, {"screen": {"at": "age"}},
                 [Answered("insurance"), Vote("insurance", helpful=False)],
                 100, NOW)
    store.close()
    store = open_store()
    assert store.load(7) == {"screen": {"at": "age"}} and store.load(8) == {}
    assert store.was_handled(100) and not store.was_handled(101)
    assert store.topic_counts() == {"insurance": (1, 0, 1)}


def test_the_outbox_keeps_replies_until_they_are_delivered(open_store: Opener) -> None:
    store = open_store()
    store.commit(7, None, [], 1, NOW, ["first", "second"])
    store.commit(9, None, [], 2, NOW, ["other chat"])
    pending = store.pending(7)
    assert [payload for _, _, payload in pending] == ["first", "second"]
    store.delivered(pending[0][0])
    assert [payload for _, _, payload in store.pending()] == ["second", "other chat"]


def test_none_leaves_the_state_and_empty_deletes_it(open_store: Opener) -> None:
    store = open_store()
    store.commit(7, {"a": 1}, [], None, NOW)
    store.commit(7, None, [], None, NOW)
    assert store.load(7) == {"a": 1}
    store.commit(7, {}, [], None, NOW)
    assert store.load(7) == {}


def test_forget_removes_the_state_and_the_chats_pending_replies(open_store: Opener) -> None:
    store = open_store()
    store.commit(7, {"a": 1}, [], None, NOW, ["old reply"])
    store.commit(7, {}, [Forget()], None, NOW, ["forgotten"])
    assert store.load(7) == {} and [p for _, _, p in store.pending()] == ["forgotten"]


def test_misses_are_dated_by_day_and_optional(open_store: Opener) -> None:
    store = open_store("a")
    store.commit(7, None, [Miss("best stroller for twins")], None, NOW)
    assert store.misses() == [("best stroller for twins", "2026-11-27")]
    quiet = open_store("b", Retention(log_misses=False))
    quiet.commit(7, None, [Miss("anything")], None, NOW)
    assert quiet.misses() == []


def test_misses_keep_how_the_question_went_wrong(open_store: Opener) -> None:
    store = open_store()
    store.commit(7, None, [Miss("sensory or behaviour", MissKind.CLARIFY, "sensory",
                                ("sensory", "behaviour")),
                           Miss("", MissKind.UNHELPFUL, "insurance"),
                           Miss("best stroller")], None, NOW)
    assert store.miss_details() == [
        ("sensory or behaviour", "2026-11-27", "clarify", "sensory", ("sensory", "behaviour")),
        ("", "2026-11-27", "unhelpful", "insurance", ()),
        ("best stroller", "2026-11-27", "fallback", None, ())]
    assert store.misses() == [("best stroller", "2026-11-27")]  # what /stats lists
    assert store.miss_details(since="2026-11-28") == []


def test_decisions_are_counted_per_day_and_kind(open_store: Opener) -> None:
    store = open_store()
    for kind in ("answer", "answer", "urgent"):
        store.commit(7, None, [Decided(kind)], None, NOW)
    assert store.decision_counts() == [("2026-11-27", "answer", 2),
                                       ("2026-11-27", "urgent", 1)]


def test_purge_keeps_recent_and_drops_old(open_store: Opener) -> None:
    store = open_store(retention=Retention(chat_days=30, misses_days=90))
    store.commit(1, {"a": 1}, [Miss("old question")], 5, NOW - dt.timedelta(days=100))
    store.commit(2, {"b": 2}, [Miss("new question")], 6, NOW)
    store.purge(NOW)
    assert store.load(1) == {} and store.load(2) == {"b": 2}
    assert [text for text, _ in store.misses()] == ["new question"]
    assert not store.was_handled(5) and store.was_handled(6)


def test_forget_also_drops_the_parents_unhandled_updates(open_store: Opener) -> None:
    store = open_store()
    message = '{"message": {"chat": {"id": 7}, "text": "my son bites"}}'
    press = '{"callback_query": {"message": {"chat": {"id": 7}}, "data": "1:m:topics"}}'
    other = '{"message": {"chat": {"id": 9}, "text": "hello"}}'
    store.receive([Received(1, 7, message), Received(2, 7, press), Received(3, 9, other),
                   Received(4, None, "{}")], NOW)
    store.commit(7, {}, [Forget()], 4, NOW)
    assert store.inbox() == [other]


def test_an_event_is_handled_once_and_written_all_or_nothing(open_store: Opener) -> None:
    store = open_store()

    def step(session: Session) -> Outcome:
        count = session.load().get("n", 0)
        return Outcome({"n": count + 1}, [Answered("insurance")], ["reply"])

    first = store.handle(7, 100, NOW, step)
    assert first is not None and len(first.outbox_ids) == 1
    assert store.handle(7, 100, NOW, step) is None  # a re-delivery: nothing happens
    assert store.load(7) == {"n": 1} and len(store.pending(7)) == 1

    def broken(session: Session) -> Outcome:
        raise RuntimeError("the dialog failed")

    with pytest.raises(RuntimeError):
        store.handle(7, 101, NOW, broken)
    assert not store.was_handled(101) and store.load(7) == {"n": 1}
    assert store.topic_counts() == {"insurance": (1, 0, 0)}


def test_the_flood_limit_is_spent_inside_the_event(open_store: Opener) -> None:
    store = open_store()
    verdicts = []
    for update in range(5):
        outcome = store.handle(7, update, NOW, lambda s: Outcome(
            None, outbox=[s.spend("text:7", 2, 0.0, 1000.0)]))
        assert outcome is not None
        verdicts.append(outcome.outbox[0])
    assert verdicts == ["ok", "ok", "notify", "drop", "drop"]


def test_one_replica_at_a_time_sends_a_chats_replies(open_store: Opener) -> None:
    store = open_store()
    store.commit(7, None, [], 1, NOW, ["reply"])
    assert store.unclaimed() == [7]
    assert store.claim(7, "a", lease=30)
    assert store.claim(7, "a", lease=30)  # renewing one's own lease
    assert not store.claim(7, "b", lease=30)
    assert store.unclaimed() == []
    assert not store.release(7, "a")  # a reply still waits: keep sending
    store.delivered(store.pending(7)[0][0])
    assert store.release(7, "a") and store.claim(7, "b", lease=30)
    store.commit(7, None, [], 2, NOW, ["another"])
    assert store.release(7, "b", force=True) and store.unclaimed() == [7]


def test_a_dead_senders_lease_runs_out(open_store: Opener) -> None:
    store = open_store()
    store.commit(7, None, [], 1, NOW, ["reply"])
    assert store.claim(7, "dead", lease=0.2)
    assert not store.claim(7, "alive", lease=30)
    time.sleep(0.3)
    assert store.unclaimed() == [7] and store.claim(7, "alive", lease=30)


def test_the_send_clock_spaces_messages_and_honours_flood_waits(open_store: Opener) -> None:
    store = open_store()
    delays = [store.reserve("global", 0.1, 0.0) for _ in range(5)]
    assert delays == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4], abs=0.03)
    burst = [store.reserve("chat:7", 1.0, 2.0) for _ in range(4)]
    assert [round(d) for d in burst] == [0, 0, 0, 1]
    store.hold("wait", 3.0)
    assert 2.9 < store.reserve("wait", 0.1, 0.0) <= 3.0


def test_the_send_clock_is_shared_by_every_connection(open_store: Opener) -> None:
    """Eight threads at once (eight replicas, on PostgreSQL): every slot is taken once."""
    store = open_store()
    starts: list[float] = []

    def take() -> None:
        for _ in range(5):
            before = time.time()
            starts.append(before + store.reserve("global", 0.05, 0.0))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 40 slots 0.05 s apart: a slot taken twice (a race) would make the span shorter.
    assert len(starts) == 40
    assert max(starts) - min(starts) == pytest.approx(39 * 0.05, abs=0.15)


def test_a_reload_counts_for_every_replica(open_store: Opener) -> None:
    store = open_store()
    before = store.generation()
    assert store.bump_generation() == before + 1 and store.generation() == before + 1
    store.ping()


def test_sqlite_migrates_an_old_database_step_by_step(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # the first schema, before the inbox knew its chat
        db.executescript("""
            CREATE TABLE inbox (update_id INTEGER PRIMARY KEY, payload TEXT NOT NULL,
                                day TEXT NOT NULL);
            CREATE TABLE misses (id INTEGER PRIMARY KEY, text TEXT NOT NULL, day TEXT NOT NULL);
            INSERT INTO misses (text, day) VALUES ('old question', '2026-11-01');
        """)
    store = SqliteStore(path)
    store.receive([Received(1, 7, "{}")], NOW)
    assert store.misses() == [("old question", "2026-11-01")]
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("SELECT kind FROM misses").fetchone() == ("fallback",)


def test_postgres_migrations_run_once_whoever_starts_first() -> None:
    from pgtest import fresh_database

    from otbot.store.postgres import MIGRATIONS as PG_STEPS
    from otbot.store.postgres import PostgresStore

    url = fresh_database()
    stores: list[PostgresStore] = []
    threads = [threading.Thread(target=lambda: stores.append(PostgresStore(url, pool_size=1)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stores) == 3
    assert all(store.schema_version() == len(PG_STEPS) for store in stores)
    for store in stores:
        store.close()
