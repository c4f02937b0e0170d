"""A per-parent flood limit: a burst is fine, a stream is slowed, with one notice per stream."""

from __future__ import annotations

from dataclasses import dataclass

BURST = 10  # messages a parent may send at once (pasting several questions is normal)
PER_SECOND = 1.0  # sustained rate after the burst: a person types slower than this
# Buttons are tapped much faster than questions are typed (a checklist is 20 taps).
BUTTON_BURST = 30
BUTTON_PER_SECOND = 5.0
IDLE_FORGET = 600.0  # seconds after which a quiet parent's bucket is dropped


@dataclass
class _Bucket:
    tokens: float
    updated: float
    notified: bool = False


class RateLimiter:
    """Token buckets keyed by user id, kept only in memory and only while active."""

    def __init__(self, burst: int = BURST, per_second: float = PER_SECOND) -> None:
        self.burst = burst
        self.per_second = per_second
        self._buckets: dict[int, _Bucket] = {}

    def check(self, user_id: int, now: float) -> str:
        """'ok' to handle the message, 'notify' to send the one notice, 'drop' to ignore it."""
        bucket = self._buckets.get(user_id)
        if bucket is None:
            self._sweep(now)
            bucket = self._buckets[user_id] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.per_second)
        bucket.updated = now
        if bucket.tokens >= 1:
            # Only a parent who slowed down enough to refill the bucket can be told again.
            if bucket.tokens >= self.burst - 1:
                bucket.notified = False
            bucket.tokens -= 1
            return "ok"
        if bucket.notified:
            return "drop"
        bucket.notified = True
        return "notify"

    def _sweep(self, now: float) -> None:
        """Forget parents who have been quiet a while, so memory does not grow."""
        stale = [u for u, b in self._buckets.items() if now - b.updated > IDLE_FORGET]
        for user_id in stale:
            del self._buckets[user_id]
