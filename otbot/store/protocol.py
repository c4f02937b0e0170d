"""What the bot needs from storage, whichever database holds it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from otbot.effects import Effect

# Telegram keeps undelivered updates for 24 hours; remembering handled ids longer is useless.
HANDLED_DAYS = 2
# Shared pacing state (flood buckets, send clocks) untouched this long is dropped by purge.
IDLE_SECONDS = 600.0


class Received(NamedTuple):
    """A fetched update kept until handled: its id, its chat (for /forget) and its JSON."""

    update_id: int
    chat_id: int | None
    payload: str


@dataclass(frozen=True)
class Retention:
    """How long each kind of data is kept."""

    chat_days: int = 30
    misses_days: int = 90
    log_misses: bool = True


@dataclass
class Outcome:
    """What handling one event wrote: the new state (None: unchanged), effects, replies."""

    state: dict[str, Any] | None
    effects: Sequence[Effect] = ()
    outbox: Sequence[str] = ()
    outbox_ids: list[int] = field(default_factory=list)


class Session(Protocol):
    """The open transaction of one event, under its chat's lock."""

    def load(self) -> dict[str, Any]: ...
    def spend(self, key: str, burst: float, per_second: float, now: float) -> str: ...


Step = Callable[[Session], Outcome]


class Store(Protocol):
    """What the bot needs from storage: SqliteStore (one process) and PostgresStore (replicas).

    `concurrent`: calls may run at once from worker threads (a connection pool), so the bot
    makes them off its event loop; False: one connection, called from the loop only.
    """

    concurrent: bool

    def load(self, chat_id: int) -> dict[str, Any]: ...
    def was_handled(self, update_id: int) -> bool: ...
    def handle(self, chat_id: int, update_id: int | None, now: dt.datetime,
               step: Step) -> Outcome | None: ...
    def commit(self, chat_id: int, state: dict[str, Any] | None,
               effects: Iterable[Effect], update_id: int | None, now: dt.datetime,
               outbox: Sequence[str] = ()) -> list[int]: ...
    def pending(self, chat_id: int | None = None) -> list[tuple[int, int, str]]: ...
    def receive(self, updates: Sequence[Received], now: dt.datetime) -> None: ...
    def inbox(self) -> list[str]: ...
    def handled(self, update_id: int) -> None: ...
    def delivered(self, outbox_id: int) -> None: ...
    def purge(self, now: dt.datetime) -> None: ...
    def topic_counts(self) -> dict[str, tuple[int, int, int]]: ...
    def misses(self) -> list[tuple[str, str]]: ...
    def miss_details(self, since: str | None = None
                     ) -> list[tuple[str, str, str, str | None, tuple[str, ...]]]: ...
    def decision_counts(self, since: str | None = None) -> list[tuple[str, str, int]]: ...
    # Shared by every replica: who sends a chat's replies, the send clock, reloads.
    def claim(self, chat_id: int, owner: str, lease: float) -> bool: ...
    def release(self, chat_id: int, owner: str, force: bool = False) -> bool: ...
    def unclaimed(self, limit: int = 100) -> list[int]: ...
    def reserve(self, key: str, interval: float, tolerance: float) -> float: ...
    def hold(self, key: str, seconds: float) -> None: ...
    def admit(self, key: str, limit: int, window: float) -> float: ...
    def generation(self) -> int: ...
    def bump_generation(self) -> int: ...
    def ping(self) -> None: ...
    def close(self) -> None: ...
