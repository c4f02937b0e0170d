"""PostgreSQL, for several replicas of the bot behind one webhook.

The same behaviour as SqliteStore, made safe for many processes at once:
- one event, one transaction, under `pg_advisory_xact_lock(chat_id)`: two replicas never
  handle the same chat at the same time, and a re-delivered update (its id is in `handled`)
  is skipped inside that same transaction;
- a chat's replies are sent by whichever replica holds its lease (`outbox_lease`), renewed
  while it sends; a dead replica's lease runs out and any other replica's sweeper takes over;
- the send clocks (Telegram's limits, flood waits) and the parents' flood buckets are rows,
  so every replica spends from the same budget;
- the knowledge's generation is a row (and a NOTIFY), polled by every replica.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import Connection
from psycopg_pool import ConnectionPool

from otbot.effects import Answered, Decided, Effect, Forget, Miss, Vote
from otbot.store import pacing
from otbot.store.protocol import HANDLED_DAYS, IDLE_SECONDS, Outcome, Received, Retention, Step

RELOAD_CHANNEL = "otbot_reload"
MIGRATION_LOCK = 7_310_001  # an advisory lock id: one replica migrates, the others wait

# Numbered steps, oldest first: step N brings schema_version N-1 to N. Append, never edit.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE chats (
        chat_id BIGINT PRIMARY KEY,
        state TEXT NOT NULL,
        updated TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE handled (
        update_id BIGINT PRIMARY KEY,
        day DATE NOT NULL
    );
    CREATE TABLE topic_counts (
        topic TEXT PRIMARY KEY,
        answered INTEGER NOT NULL DEFAULT 0,
        helpful INTEGER NOT NULL DEFAULT 0,
        unhelpful INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE inbox (
        update_id BIGINT PRIMARY KEY,
        chat_id BIGINT,
        payload TEXT NOT NULL,
        day DATE NOT NULL
    );
    CREATE INDEX inbox_chat ON inbox (chat_id);
    CREATE TABLE outbox (
        id BIGSERIAL PRIMARY KEY,
        chat_id BIGINT NOT NULL,
        reply TEXT NOT NULL
    );
    CREATE INDEX outbox_chat ON outbox (chat_id, id);
    CREATE TABLE misses (
        id BIGSERIAL PRIMARY KEY,
        text TEXT NOT NULL,
        day DATE NOT NULL,
        kind TEXT NOT NULL DEFAULT 'fallback',
        topic TEXT,
        options TEXT NOT NULL DEFAULT ''
    );
    """,
    """
    CREATE TABLE outbox_lease (
        chat_id BIGINT PRIMARY KEY,
        owner TEXT NOT NULL,
        until DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE send_clock (
        key TEXT PRIMARY KEY,
        tat DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE flood (
        key TEXT PRIMARY KEY,
        tokens DOUBLE PRECISION NOT NULL,
        updated DOUBLE PRECISION NOT NULL,
        notified BOOLEAN NOT NULL
    );
    CREATE TABLE generation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        value BIGINT NOT NULL
    );
    INSERT INTO generation (id, value) VALUES (1, 0);
    CREATE FUNCTION otbot_now() RETURNS DOUBLE PRECISION LANGUAGE sql VOLATILE AS
        $$ SELECT extract(epoch FROM clock_timestamp())::double precision $$;
    CREATE TABLE send_log (
        key TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX send_log_key_at ON send_log (key, at);
    """,
    # 2: messages counted per day and decision kind, for `otbot report`; no text, no person.
    """
    CREATE TABLE decision_counts (
        day DATE NOT NULL,
        kind TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, kind)
    );
    """,
]


class PostgresStore:
    """The store for replicas: a PostgreSQL database reached through a connection pool.

    Only what is acknowledged to Telegram waits for the disk (`synchronous_commit` on for an
    event's transaction, the inbox, reloads, purges); the bookkeeping of sending (leases, a
    delivered reply, the send clocks) does not: a database crash can at worst send a reply
    twice. That keeps one disk flush per update.
    """

    concurrent = True

    def __init__(self, url: str, retention: Retention | None = None, *,
                 pool_size: int = 8) -> None:
        self.retention = retention or Retention()
        self._pool = ConnectionPool(url, min_size=min(2, pool_size), max_size=pool_size,
                                    open=True, name="otbot",
                                    kwargs={"autocommit": True,
                                            "options": "-c synchronous_commit=off"})
        self._pool.wait(timeout=30)
        self._migrate()

    def _migrate(self) -> None:
        """Apply the steps this database lacks, each once, whichever replica starts first."""
        with self._pool.connection() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT max(version) FROM schema_version").fetchone()
            version = row[0] if row and row[0] is not None else 0
            for number, step in enumerate(MIGRATIONS, start=1):
                if version < number:
                    db.execute(step)  # our own constant SQL
                    db.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))

    def schema_version(self) -> int:
        """The schema's version: the number of migration steps applied."""
        with self._pool.connection() as db:
            row = db.execute("SELECT max(version) FROM schema_version").fetchone()
            return int(row[0]) if row and row[0] is not None else 0

    def load(self, chat_id: int) -> dict[str, Any]:
        """The chat's state, or an empty one."""
        with self._pool.connection() as db:
            return _load(db, chat_id)

    def was_handled(self, update_id: int) -> bool:
        """True if this update was already handled (Telegram re-sends after a crash)."""
        with self._pool.connection() as db:
            return db.execute("SELECT 1 FROM handled WHERE update_id = %s",
                              (update_id,)).fetchone() is not None

    def handle(self, chat_id: int, update_id: int | None, now: dt.datetime,
               step: Step) -> Outcome | None:
        """Handle one event in one transaction under the chat's lock; None if handled before."""
        with self._pool.connection() as db, db.transaction():
            db.execute("SET LOCAL synchronous_commit TO on")
            db.execute("SELECT pg_advisory_xact_lock(%s)", (chat_id,))
            if update_id is not None and db.execute(
                    "SELECT 1 FROM handled WHERE update_id = %s", (update_id,)).fetchone():
                return None
            outcome = step(_Session(db, chat_id))
            outcome.outbox_ids = self._write(db, chat_id, outcome.state, outcome.effects,
                                             update_id, now, outcome.outbox)
            return outcome

    def commit(self, chat_id: int, state: dict[str, Any] | None,
               effects: Iterable[Effect], update_id: int | None, now: dt.datetime,
               outbox: Sequence[str] = ()) -> list[int]:
        """Write everything one event changed, atomically; return the outbox rows' ids."""
        with self._pool.connection() as db, db.transaction():
            db.execute("SET LOCAL synchronous_commit TO on")
            db.execute("SELECT pg_advisory_xact_lock(%s)", (chat_id,))
            return self._write(db, chat_id, state, effects, update_id, now, outbox)

    def _write(self, db: Connection[Any], chat_id: int, state: dict[str, Any] | None,
               effects: Iterable[Effect], update_id: int | None, now: dt.datetime,
               outbox: Sequence[str]) -> list[int]:
        day = now.date()
        forget = False
        for effect in effects:
            forget |= isinstance(effect, Forget)
            self._effect(db, effect, day)
        if forget:
            db.execute("DELETE FROM outbox WHERE chat_id = %s", (chat_id,))
            db.execute("DELETE FROM inbox WHERE update_id != %s AND chat_id = %s",
                       (update_id or 0, chat_id))
        if state is None:
            pass
        elif forget or not state:
            db.execute("DELETE FROM chats WHERE chat_id = %s", (chat_id,))
        else:
            db.execute(
                "INSERT INTO chats (chat_id, state, updated) VALUES (%s, %s, %s) "
                "ON CONFLICT (chat_id) DO UPDATE SET state = excluded.state, "
                "updated = excluded.updated",
                (chat_id, json.dumps(state, separators=(",", ":")), now))
        if update_id is not None:
            db.execute("INSERT INTO handled (update_id, day) VALUES (%s, %s) "
                       "ON CONFLICT DO NOTHING", (update_id, day))
            db.execute("DELETE FROM inbox WHERE update_id = %s", (update_id,))
        ids = []
        for payload in outbox:
            row = db.execute("INSERT INTO outbox (chat_id, reply) VALUES (%s, %s) RETURNING id",
                             (chat_id, payload)).fetchone()
            ids.append(int(row[0]) if row else 0)
        return ids

    def _effect(self, db: Connection[Any], effect: Effect, day: dt.date) -> None:
        if isinstance(effect, Answered):
            self._count(db, effect.topic, "answered")
        elif isinstance(effect, Vote):
            self._count(db, effect.topic, "helpful" if effect.helpful else "unhelpful")
        elif isinstance(effect, Decided):
            db.execute("INSERT INTO decision_counts (day, kind, count) VALUES (%s, %s, 1) "
                       "ON CONFLICT (day, kind) DO UPDATE SET count = decision_counts.count + 1",
                       (day, effect.kind))
        elif isinstance(effect, Miss) and self.retention.log_misses and (
                effect.text or effect.topic):
            db.execute(
                "INSERT INTO misses (text, day, kind, topic, options) VALUES (%s, %s, %s, %s, %s)",
                (effect.text, day, effect.kind.value, effect.topic, ",".join(effect.options)))

    @staticmethod
    def _count(db: Connection[Any], topic: str, column: str) -> None:
        # The column name comes from _effect's fixed set, never from input.
        sql = (f"INSERT INTO topic_counts (topic, {column}) VALUES (%s, 1) "
               f"ON CONFLICT (topic) DO UPDATE SET {column} = topic_counts.{column} + 1")
        db.execute(sql, (topic,))

    def pending(self, chat_id: int | None = None) -> list[tuple[int, int, str]]:
        """Replies committed but not yet sent (of one chat, or all): (id, chat, payload)."""
        with self._pool.connection() as db:
            if chat_id is None:
                rows = db.execute("SELECT id, chat_id, reply FROM outbox ORDER BY id").fetchall()
            else:
                rows = db.execute("SELECT id, chat_id, reply FROM outbox WHERE chat_id = %s "
                                  "ORDER BY id", (chat_id,)).fetchall()
            return [(int(i), int(c), str(r)) for i, c, r in rows]

    def receive(self, updates: Sequence[Received], now: dt.datetime) -> None:
        """Keep fetched updates until they are handled, across a crash."""
        day = now.date()
        with self._pool.connection() as db, db.transaction(), db.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO on")
            cursor.executemany(
                "INSERT INTO inbox (update_id, chat_id, payload, day) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                [(u.update_id, u.chat_id, u.payload, day) for u in updates])

    def inbox(self) -> list[str]:
        """Updates fetched but not handled (a crash came between), oldest first."""
        with self._pool.connection() as db:
            return [str(p) for (p,) in db.execute(
                "SELECT payload FROM inbox ORDER BY update_id").fetchall()]

    def handled(self, update_id: int) -> None:
        """An update went through every handler: it leaves the inbox."""
        with self._pool.connection() as db:
            db.execute("DELETE FROM inbox WHERE update_id = %s", (update_id,))

    def delivered(self, outbox_id: int) -> None:
        """A reply went out (or can never go out): forget it."""
        with self._pool.connection() as db:
            db.execute("DELETE FROM outbox WHERE id = %s", (outbox_id,))

    def purge(self, now: dt.datetime) -> None:
        """Delete what has been kept long enough, and pacing state nobody uses any more."""
        r = self.retention
        old = (now - dt.timedelta(days=HANDLED_DAYS)).date()
        with self._pool.connection() as db, db.transaction():
            db.execute("DELETE FROM chats WHERE updated < %s",
                       (now - dt.timedelta(days=r.chat_days),))
            misses_day = (now - dt.timedelta(days=r.misses_days)).date()
            db.execute("DELETE FROM misses WHERE day < %s", (misses_day,))
            db.execute("DELETE FROM decision_counts WHERE day < %s", (misses_day,))
            db.execute("DELETE FROM handled WHERE day < %s", (old,))
            db.execute("DELETE FROM inbox WHERE day < %s", (old,))
            db.execute("DELETE FROM flood WHERE updated < otbot_now() - %s", (IDLE_SECONDS,))
            db.execute("DELETE FROM send_clock WHERE tat < otbot_now() - %s", (IDLE_SECONDS,))

    def topic_counts(self) -> dict[str, tuple[int, int, int]]:
        """Per topic: answers given, helpful votes, unhelpful votes."""
        with self._pool.connection() as db:
            return {str(t): (int(a), int(h), int(u)) for t, a, h, u in db.execute(
                "SELECT topic, answered, helpful, unhelpful FROM topic_counts "
                "ORDER BY topic").fetchall()}

    def misses(self) -> list[tuple[str, str]]:
        """Questions that found no answer (normalised text, day), oldest first."""
        with self._pool.connection() as db:
            return [(str(t), str(d)) for t, d in db.execute(
                "SELECT text, day::text FROM misses WHERE kind = 'fallback' "
                "ORDER BY id").fetchall()]

    def miss_details(self, since: str | None = None
                     ) -> list[tuple[str, str, str, str | None, tuple[str, ...]]]:
        """Every kept miss from day `since` (YYYY-MM-DD) on, oldest first: normalised text,
        day, kind, topic (the one taken, or answered) and the topics offered."""
        with self._pool.connection() as db:
            return [(str(text), str(day), str(kind), topic,
                     tuple(o for o in str(options).split(",") if o))
                    for text, day, kind, topic, options in db.execute(
                        "SELECT text, day::text, kind, topic, options FROM misses "
                        "WHERE day::text >= %s ORDER BY id", (since or "",)).fetchall()]

    def decision_counts(self, since: str | None = None) -> list[tuple[str, str, int]]:
        """Messages handled per (day, decision kind) from day `since` on, by day then kind."""
        with self._pool.connection() as db:
            return [(str(day), str(kind), int(count)) for day, kind, count in db.execute(
                "SELECT day::text, kind, count FROM decision_counts WHERE day::text >= %s "
                "ORDER BY day, kind", (since or "",)).fetchall()]

    def claim(self, chat_id: int, owner: str, lease: float) -> bool:
        """Become (or stay) the one sending this chat's replies, for `lease` seconds."""
        with self._pool.connection() as db:
            row = db.execute(
                "INSERT INTO outbox_lease AS l (chat_id, owner, until) "
                "VALUES (%s, %s, otbot_now() + %s) "
                "ON CONFLICT (chat_id) DO UPDATE SET owner = excluded.owner, "
                "until = excluded.until WHERE l.owner = excluded.owner OR l.until < otbot_now() "
                "RETURNING 1", (chat_id, owner, lease)).fetchone()
            return row is not None

    def release(self, chat_id: int, owner: str, force: bool = False) -> bool:
        """Give the chat back; refused (False) while replies wait, unless forced."""
        with self._pool.connection() as db:
            if force:
                db.execute("DELETE FROM outbox_lease WHERE chat_id = %s AND owner = %s",
                           (chat_id, owner))
                return True
            db.execute(
                "DELETE FROM outbox_lease WHERE chat_id = %s AND owner = %s AND NOT EXISTS "
                "(SELECT 1 FROM outbox WHERE chat_id = %s)", (chat_id, owner, chat_id))
            row = db.execute("SELECT 1 FROM outbox_lease WHERE chat_id = %s AND owner = %s",
                             (chat_id, owner)).fetchone()
            return row is None

    def unclaimed(self, limit: int = 100) -> list[int]:
        """Chats whose replies wait and that nobody is sending (a dead replica, an outage)."""
        with self._pool.connection() as db:
            rows = db.execute(
                "SELECT o.chat_id FROM outbox o LEFT JOIN outbox_lease l "
                "ON l.chat_id = o.chat_id AND l.until >= otbot_now() "
                "WHERE l.chat_id IS NULL GROUP BY o.chat_id ORDER BY min(o.id) LIMIT %s",
                (limit,)).fetchall()
            return [int(c) for (c,) in rows]

    def reserve(self, key: str, interval: float, tolerance: float) -> float:
        """Seconds to wait before the next message under the `key` clock, for every replica."""
        with self._pool.connection() as db, db.transaction():
            db.execute("INSERT INTO send_clock (key, tat) VALUES (%s, otbot_now()) "
                       "ON CONFLICT DO NOTHING", (key,))
            row = db.execute("SELECT tat, otbot_now() FROM send_clock WHERE key = %s "
                             "FOR UPDATE", (key,)).fetchone()
            assert row is not None
            delay, tat = pacing.reserve(float(row[0]), interval, tolerance, float(row[1]))
            db.execute("UPDATE send_clock SET tat = %s WHERE key = %s", (tat, key))
            return delay

    def hold(self, key: str, seconds: float) -> None:
        """Nothing goes under the `key` clock for `seconds`, on any replica (a flood wait)."""
        with self._pool.connection() as db:
            db.execute(
                "INSERT INTO send_clock AS c (key, tat) VALUES (%s, otbot_now() + %s) "
                "ON CONFLICT (key) DO UPDATE SET tat = GREATEST(c.tat, excluded.tat)",
                (key, seconds))

    def admit(self, key: str, limit: int, window: float) -> float:
        """0: a message may go now (and is counted); else seconds to wait before asking again.

        At most `limit` messages are admitted in any `window` seconds, by all replicas
        together: a log of recent sends, read and written under an advisory lock.
        """
        with self._pool.connection() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("admit:" + key,))
            db.execute("DELETE FROM send_log WHERE key = %s AND at <= otbot_now() - %s",
                       (key, window))
            rows = db.execute("SELECT at, otbot_now() FROM send_log WHERE key = %s "
                              "ORDER BY at DESC LIMIT %s", (key, limit)).fetchall()
            if len(rows) < limit:
                db.execute("INSERT INTO send_log (key, at) VALUES (%s, otbot_now())", (key,))
                return 0.0
            oldest, now = float(rows[-1][0]), float(rows[-1][1])
            return max(0.001, oldest + window - now)

    def generation(self) -> int:
        """How many times the knowledge was reloaded, by any replica."""
        with self._pool.connection() as db:
            row = db.execute("SELECT value FROM generation WHERE id = 1").fetchone()
            return int(row[0]) if row else 0

    def bump_generation(self) -> int:
        """A reload happened: count it and tell every listening replica."""
        with self._pool.connection() as db, db.transaction():
            db.execute("SET LOCAL synchronous_commit TO on")
            row = db.execute("UPDATE generation SET value = value + 1 WHERE id = 1 "
                             "RETURNING value").fetchone()
            db.execute(f"NOTIFY {RELOAD_CHANNEL}")
            return int(row[0]) if row else 0

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self._pool.connection(timeout=5) as db:
            db.execute("SELECT 1")

    def close(self) -> None:
        """Close every connection of the pool."""
        self._pool.close()


def _load(db: Connection[Any], chat_id: int) -> dict[str, Any]:
    row = db.execute("SELECT state FROM chats WHERE chat_id = %s", (chat_id,)).fetchone()
    if not row:
        return {}
    state: dict[str, Any] = json.loads(row[0])
    return state


class _Session:
    """An event's transaction on PostgreSQL: the connection holding the chat's lock."""

    def __init__(self, db: Connection[Any], chat_id: int) -> None:
        self.db = db
        self.chat_id = chat_id

    def load(self) -> dict[str, Any]:
        return _load(self.db, self.chat_id)

    def spend(self, key: str, burst: float, per_second: float, now: float) -> str:
        """The flood limit's verdict for `key`, shared by every replica (a locked row)."""
        row = self.db.execute("SELECT tokens, updated, notified FROM flood WHERE key = %s "
                              "FOR UPDATE", (key,)).fetchone()
        bucket = pacing.Bucket(float(row[0]), float(row[1]), bool(row[2])) if row else None
        verdict, new = pacing.spend(bucket, burst, per_second, now)
        self.db.execute(
            "INSERT INTO flood (key, tokens, updated, notified) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, "
            "updated = excluded.updated, notified = excluded.notified",
            (key, new.tokens, new.updated, new.notified))
        return verdict
