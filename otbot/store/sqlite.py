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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from otbot.effects import Answered, Decided, Effect, Forget, Miss, Vote
from otbot.store.protocol import HANDLED_DAYS, Received, Retention

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

    def __init__(self, path: Path, retention: Retention | None = None) -> None:
        self.retention = retention or Retention()
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
        """Bring a database written by an older version up to this schema."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version < 1:
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(inbox)")}
            if "chat_id" not in columns:  # the inbox before it knew each update's chat
                self._db.execute("ALTER TABLE inbox ADD COLUMN chat_id INTEGER")
            self._db.execute("PRAGMA user_version = 1")
        if version < 2:
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(misses)")}
            if "kind" not in columns:  # misses before they said how the question went wrong
                self._db.execute(
                    "ALTER TABLE misses ADD COLUMN kind TEXT NOT NULL DEFAULT 'fallback'")
                self._db.execute("ALTER TABLE misses ADD COLUMN topic TEXT")
                self._db.execute("ALTER TABLE misses ADD COLUMN options TEXT NOT NULL DEFAULT ''")
            self._db.execute("PRAGMA user_version = 2")
        if version < 3:  # decisions counted per day and kind: the SCHEMA above creates them
            self._db.execute("PRAGMA user_version = 3")

    def load(self, chat_id: int) -> dict[str, Any]:
        """The chat's state, or an empty one."""
        row = self._db.execute("SELECT state FROM chats WHERE chat_id = ?", (chat_id,)).fetchone()
        return json.loads(row[0]) if row else {}

    def was_handled(self, update_id: int) -> bool:
        """True if this update was already handled (Telegram re-sends after a crash)."""
        return self._db.execute("SELECT 1 FROM handled WHERE update_id = ?",
                                (update_id,)).fetchone() is not None

    def commit(self, chat_id: int, state: dict[str, Any] | None,
               effects: Iterable[Effect], update_id: int | None, now: dt.datetime,
               outbox: Sequence[str] = ()) -> list[int]:
        """Write everything one event changed, atomically; return the outbox rows' ids.

        `state` None leaves the chat's state as it is; an empty one deletes it.
        """
        day = now.date().isoformat()
        with self._transaction():
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
