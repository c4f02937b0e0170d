"""Where conversations live between messages: SQLite behind a narrow interface.

Everything one event changes (the parent's state, counts, an unanswered question, the
update's id, and the replies still to send) is written in one transaction before any reply
goes out. So `kill -9` at any moment loses nothing: a re-delivered update is not handled
twice, and replies that were not yet sent are sent after the restart (the outbox).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from otbot.effects import Answered, Decided, Effect, Forget, Miss, Vote
from otbot.store import pacing
from otbot.store.protocol import HANDLED_DAYS, IDLE_SECONDS, Outcome, Received, Retention, Step

SCHEMA = """
CREATE TABLE IF NOT EXISTS chats (
    chat_id INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS handled (
    update_id INTEGER PRIMARY KEY,
    day TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS topic_counts (
    topic TEXT PRIMARY KEY,
    answered INTEGER NOT NULL DEFAULT 0,
    helpful INTEGER NOT NULL DEFAULT 0,
    unhelpful INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS inbox (
    update_id INTEGER PRIMARY KEY,
    chat_id INTEGER,
    payload TEXT NOT NULL,
    day TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL,
    reply TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS misses (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    day TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'fallback',
    topic TEXT,
    options TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS decision_counts (
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, kind)
);
"""


class SqliteStore:
    """The default store: one SQLite file in the data folder."""

    concurrent = False

    def __init__(self, path: Path, retention: Retention | None = None) -> None:
        self.retention = retention or Retention()
        # One process owns a SQLite database: who drains a chat's replies, the send clocks,
        # the flood buckets and the knowledge's generation live in its memory.
        self._leases: dict[int, tuple[str, float]] = {}
        self._clocks: dict[str, float] = {}
        self._buckets: dict[str, pacing.Bucket] = {}
        self._sent: dict[str, list[float]] = {}
        self._generation = 0
        self._memory = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # WAL + NORMAL survives a killed process (only power loss can drop the last commit),
        # at a fraction of the cost of a full sync per message.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA secure_delete=ON")  # deleted health data is overwritten
        self._db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Bring a database written by an older version up to this schema, step by step.

        The version is SQLite's user_version; each step runs once, in its own transaction.
        """
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, step in enumerate(MIGRATIONS, start=1):
            if version < number:
                with self._transaction():
                    step(self._db)
                    self._db.execute(f"PRAGMA user_version = {number}")

    def load(self, chat_id: int) -> dict[str, Any]:
        """The chat's state, or an empty one."""
        row = self._db.execute("SELECT state FROM chats WHERE chat_id = ?", (chat_id,)).fetchone()
        return json.loads(row[0]) if row else {}

    def was_handled(self, update_id: int) -> bool:
        """True if this update was already handled (Telegram re-sends after a crash)."""
        return self._db.execute("SELECT 1 FROM handled WHERE update_id = ?",
                                (update_id,)).fetchone() is not None

    def handle(self, chat_id: int, update_id: int | None, now: dt.datetime,
               step: Step) -> Outcome | None:
        """Handle one event in one transaction: None if the update was handled before.

        `step` reads the chat's state and decides; what it returns is written before COMMIT,
        and nothing is written if it raises.
        """
        with self._transaction():
            if update_id is not None and self.was_handled(update_id):
                return None
            outcome = step(_Session(self, chat_id))
            outcome.outbox_ids = self._write(chat_id, outcome.state, outcome.effects, update_id,
                                             now, outcome.outbox)
            return outcome

    def commit(self, chat_id: int, state: dict[str, Any] | None,
               effects: Iterable[Effect], update_id: int | None, now: dt.datetime,
               outbox: Sequence[str] = ()) -> list[int]:
        """Write everything one event changed, atomically; return the outbox rows' ids.

        `state` None leaves the chat's state as it is; an empty one deletes it.
        """
        with self._transaction():
            return self._write(chat_id, state, effects, update_id, now, outbox)

    def _write(self, chat_id: int, state: dict[str, Any] | None, effects: Iterable[Effect],
               update_id: int | None, now: dt.datetime, outbox: Sequence[str]) -> list[int]:
        day = now.date().isoformat()
        forget = False
        for effect in effects:
            forget |= isinstance(effect, Forget)
            self._effect(effect, day)
        if forget:
            self._db.execute("DELETE FROM outbox WHERE chat_id = ?", (chat_id,))
            # The parent's own fetched updates that are still waiting, texts included.
            self._db.execute("DELETE FROM inbox WHERE update_id != ? AND chat_id = ?",
                             (update_id or 0, chat_id))
        if state is None:
            pass
        elif forget or not state:
            self._db.execute("DELETE FROM chats WHERE chat_id = ?", (chat_id,))
        else:
            self._db.execute(
                "INSERT INTO chats (chat_id, state, updated) VALUES (?, ?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET state = excluded.state, "
                "updated = excluded.updated",
                (chat_id, json.dumps(state, separators=(",", ":")), now.isoformat()))
        if update_id is not None:
            self._db.execute("INSERT OR IGNORE INTO handled (update_id, day) VALUES (?, ?)",
                             (update_id, day))
            self._db.execute("DELETE FROM inbox WHERE update_id = ?", (update_id,))
        return [self._db.execute("INSERT INTO outbox (chat_id, reply) VALUES (?, ?)",
                                 (chat_id, payload)).lastrowid or 0 for payload in outbox]

    def pending(self, chat_id: int | None = None) -> list[tuple[int, int, str]]:
        """Replies committed but not yet sent (of one chat, or all): (id, chat, payload)."""
        if chat_id is None:
            return list(self._db.execute("SELECT id, chat_id, reply FROM outbox ORDER BY id"))
        return list(self._db.execute(
            "SELECT id, chat_id, reply FROM outbox WHERE chat_id = ? ORDER BY id", (chat_id,)))

    def receive(self, updates: Sequence[Received], now: dt.datetime) -> None:
        """Keep fetched updates until they are handled, across a crash."""
        day = now.date().isoformat()
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO inbox (update_id, chat_id, payload, day) "
                "VALUES (?, ?, ?, ?)",
                [(u.update_id, u.chat_id, u.payload, day) for u in updates])

    def inbox(self) -> list[str]:
        """Updates fetched but not handled (a crash came between), oldest first."""
        return [payload for (payload,) in self._db.execute(
            "SELECT payload FROM inbox ORDER BY update_id")]

    def handled(self, update_id: int) -> None:
        """An update went through every handler: it leaves the inbox."""
        self._db.execute("DELETE FROM inbox WHERE update_id = ?", (update_id,))

    def delivered(self, outbox_id: int) -> None:
        """A reply went out (or can never go out): forget it."""
        self._db.execute("DELETE FROM outbox WHERE id = ?", (outbox_id,))

    def _effect(self, effect: Effect, day: str) -> None:
        if isinstance(effect, Answered):
            self._count(effect.topic, "answered")
        elif isinstance(effect, Vote):
            self._count(effect.topic, "helpful" if effect.helpful else "unhelpful")
        elif isinstance(effect, Decided):
            self._db.execute(
                "INSERT INTO decision_counts (day, kind, count) VALUES (?, ?, 1) "
                "ON CONFLICT (day, kind) DO UPDATE SET count = count + 1", (day, effect.kind))
        elif isinstance(effect, Miss) and self.retention.log_misses and (
                effect.text or effect.topic):
            self._db.execute(
                "INSERT INTO misses (text, day, kind, topic, options) VALUES (?, ?, ?, ?, ?)",
                (effect.text, day, effect.kind.value, effect.topic, ",".join(effect.options)))

    def _count(self, topic: str, column: str) -> None:
        # The column name comes from _effect's fixed set, never from input.
        self._db.execute(
            f"INSERT INTO topic_counts (topic, {column}) VALUES (?, 1) "
            f"ON CONFLICT (topic) DO UPDATE SET {column} = {column} + 1", (topic,))

    def purge(self, now: dt.datetime) -> None:
        """Delete what has been kept long enough."""
        r = self.retention
        with self._transaction():
            self._db.execute("DELETE FROM chats WHERE updated < ?",
                             ((now - dt.timedelta(days=r.chat_days)).isoformat(),))
            misses_day = (now - dt.timedelta(days=r.misses_days)).date().isoformat()
            self._db.execute("DELETE FROM misses WHERE day < ?", (misses_day,))
            self._db.execute("DELETE FROM decision_counts WHERE day < ?", (misses_day,))
            old = (now - dt.timedelta(days=HANDLED_DAYS)).date().isoformat()
            self._db.execute("DELETE FROM handled WHERE day < ?", (old,))
            self._db.execute("DELETE FROM inbox WHERE day < ?", (old,))
        idle = time.time() - IDLE_SECONDS
        with self._memory:
            self._buckets = {k: b for k, b in self._buckets.items() if b.updated >= idle}
            self._clocks = {k: t for k, t in self._clocks.items() if t >= idle}

    def topic_counts(self) -> dict[str, tuple[int, int, int]]:
        """Per topic: answers given, helpful votes, unhelpful votes."""
        return {t: (a, h, u) for t, a, h, u in self._db.execute(
            "SELECT topic, answered, helpful, unhelpful FROM topic_counts ORDER BY topic")}

    def misses(self) -> list[tuple[str, str]]:
        """Questions that found no answer (normalised text, day), oldest first.

        Only that kind: /stats lists what to write next, not 👎 votes or choices taken.
        """
        return list(self._db.execute(
            "SELECT text, day FROM misses WHERE kind = 'fallback' ORDER BY id"))

    def miss_details(self, since: str | None = None
                     ) -> list[tuple[str, str, str, str | None, tuple[str, ...]]]:
        """Every kept miss from day `since` (YYYY-MM-DD) on, oldest first: normalised text,
        day, kind, topic (the one taken, or answered) and the topics offered."""
        return [(text, day, kind, topic, tuple(o for o in options.split(",") if o))
                for text, day, kind, topic, options in self._db.execute(
                    "SELECT text, day, kind, topic, options FROM misses WHERE day >= ? "
                    "ORDER BY id", (since or "",))]

    def decision_counts(self, since: str | None = None) -> list[tuple[str, str, int]]:
        """Messages handled per (day, decision kind) from day `since` on, by day then kind."""
        return list(self._db.execute(
            "SELECT day, kind, count FROM decision_counts WHERE day >= ? ORDER BY day, kind",
            (since or "",)))

    def claim(self, chat_id: int, owner: str, lease: float) -> bool:
        """Become (or stay) the one sending this chat's replies, for `lease` seconds."""
        now = time.monotonic()
        with self._memory:
            holder = self._leases.get(chat_id)
            if holder is not None and holder[0] != owner and holder[1] > now:
                return False
            self._leases[chat_id] = (owner, now + lease)
            return True

    def release(self, chat_id: int, owner: str, force: bool = False) -> bool:
        """Give the chat back; refused (False) while replies wait, unless forced."""
        with self._memory:
            holder = self._leases.get(chat_id)
            if holder is None or holder[0] != owner:
                return True
            if not force and self._db.execute(
                    "SELECT 1 FROM outbox WHERE chat_id = ? LIMIT 1", (chat_id,)).fetchone():
                return False
            del self._leases[chat_id]
            return True

    def unclaimed(self, limit: int = 100) -> list[int]:
        """Chats whose replies wait and that nobody is sending (a crash, a network outage)."""
        now = time.monotonic()
        with self._memory:
            busy = {chat for chat, (_, until) in self._leases.items() if until > now}
        chats = [chat for (chat,) in self._db.execute(
            "SELECT chat_id FROM outbox GROUP BY chat_id ORDER BY MIN(id)")]
        return [chat for chat in chats if chat not in busy][:limit]

    def reserve(self, key: str, interval: float, tolerance: float) -> float:
        """Seconds to wait before the next message under the `key` clock."""
        with self._memory:
            delay, self._clocks[key] = pacing.reserve(self._clocks.get(key), interval,
                                                      tolerance, time.time())
            return delay

    def hold(self, key: str, seconds: float) -> None:
        """Nothing goes under the `key` clock for `seconds` (Telegram's flood wait)."""
        with self._memory:
            self._clocks[key] = pacing.hold(self._clocks.get(key), seconds, time.time())

    def admit(self, key: str, limit: int, window: float) -> float:
        """0: a message may go now (and is counted); else seconds to wait before asking again.

        At most `limit` messages are admitted in any `window` seconds.
        """
        with self._memory:
            now = time.time()
            recent = [at for at in self._sent.get(key, []) if at > now - window]
            if len(recent) < limit:
                recent.append(now)
                self._sent[key] = recent
                return 0.0
            self._sent[key] = recent
            return max(0.001, recent[-limit] + window - now)

    def generation(self) -> int:
        """How many times the knowledge was reloaded (one process: counted here)."""
        return self._generation

    def bump_generation(self) -> int:
        """A reload happened; the new generation."""
        self._generation += 1
        return self._generation

    def ping(self) -> None:
        """Raise if the database cannot be read."""
        self._db.execute("SELECT 1").fetchone()

    def spend(self, key: str, burst: float, per_second: float, now: float) -> str:
        """The flood limit's verdict for `key` (see pacing.spend)."""
        with self._memory:
            verdict, self._buckets[key] = pacing.spend(self._buckets.get(key), burst,
                                                       per_second, now)
            return verdict

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


class _Session:
    """An event's transaction on SQLite: the connection is the store's own."""

    def __init__(self, store: SqliteStore, chat_id: int) -> None:
        self.store = store
        self.chat_id = chat_id

    def load(self) -> dict[str, Any]:
        return self.store.load(self.chat_id)

    def spend(self, key: str, burst: float, per_second: float, now: float) -> str:
        return self.store.spend(key, burst, per_second, now)


def _inbox_chat(db: sqlite3.Connection) -> None:
    """1: the inbox learns each update's chat, so /forget can drop a parent's waiting ones."""
    if "chat_id" not in {row[1] for row in db.execute("PRAGMA table_info(inbox)")}:
        db.execute("ALTER TABLE inbox ADD COLUMN chat_id INTEGER")


def _miss_kinds(db: sqlite3.Connection) -> None:
    """2: misses say how the question went wrong: kind, the topic taken, the options offered."""
    if "kind" not in {row[1] for row in db.execute("PRAGMA table_info(misses)")}:
        db.execute("ALTER TABLE misses ADD COLUMN kind TEXT NOT NULL DEFAULT 'fallback'")
        db.execute("ALTER TABLE misses ADD COLUMN topic TEXT")
        db.execute("ALTER TABLE misses ADD COLUMN options TEXT NOT NULL DEFAULT ''")


def _decision_counts(db: sqlite3.Connection) -> None:
    """3: messages counted per day and decision kind (the SCHEMA above creates the table)."""


# Numbered steps, oldest first: step N brings user_version N-1 to N. Append, never edit.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_inbox_chat, _miss_kinds,
                                                          _decision_counts]
