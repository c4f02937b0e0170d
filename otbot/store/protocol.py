"""What the bot needs from storage, whichever database holds it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from otbot.effects import Effect

# Telegram keeps undelivered updates for 24 hours; remembering handled ids longer is useless.
HANDLED_DAYS = 2


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


class Store(Protocol):
    """What the bot needs from storage; a second backend implements the same."""

    def load(self, chat_id: int) -> dict[str, Any]: ...
    def was_handled(self, update_id: int) -> bool: ...
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
    def close(self) -> None: ...
