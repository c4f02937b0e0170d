"""The arithmetic of flood limits and send clocks, the same in memory and in a database.

A token bucket says whether a parent may be answered now; a send clock (the generic cell
rate algorithm) says when the next message to Telegram may go. Both are pure functions of
the stored numbers, so one process (SQLite, state in memory) and several replicas
(PostgreSQL, state in rows locked for the update) behave alike.
"""

from __future__ import annotations

from typing import NamedTuple


class Bucket(NamedTuple):
    """A token bucket's state."""

    tokens: float
    updated: float
    notified: bool = False


def spend(bucket: Bucket | None, burst: float, per_second: float,
          now: float) -> tuple[str, Bucket]:
    """'ok' to go on, 'notify' to send the one notice, 'drop' to ignore; and the new bucket."""
    if bucket is None:
        bucket = Bucket(float(burst), now)
    tokens = min(float(burst), bucket.tokens + max(0.0, now - bucket.updated) * per_second)
    notified = bucket.notified
    if tokens >= 1:
        # Only a parent who slowed down enough to refill the bucket can be told again.
        if tokens >= burst - 1:
            notified = False
        return "ok", Bucket(tokens - 1, now, notified)
    if notified:
        return "drop", Bucket(tokens, now, True)
    return "notify", Bucket(tokens, now, True)


def reserve(tat: float | None, interval: float, tolerance: float,
            now: float) -> tuple[float, float]:
    """(seconds to wait before sending, the clock's new theoretical arrival time).

    `interval` is the spacing at the sustained rate; `tolerance` how far ahead of it a burst
    may run (0: strictly one message per interval).
    """
    if tat is None:
        tat = now
    start = max(now, tat - tolerance)
    return start - now, max(tat, start) + interval


def hold(tat: float | None, seconds: float, now: float) -> float:
    """The clock after Telegram asked to wait `seconds` (a flood wait): nothing goes before."""
    return max(tat if tat is not None else now, now + seconds)
