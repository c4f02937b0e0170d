"""A per-parent flood limit: a burst is fine, a stream is slowed, with one notice per stream."""

from __future__ import annotations

from otbot.store.pacing import Bucket, spend

BURST = 10  # messages a parent may send at once (pasting several questions is normal)
PER_SECOND = 1.0  # sustained rate after the burst: a person types slower than this
# Buttons are tapped much faster than questions are typed (a checklist is 20 taps).
BUTTON_BURST = 30
BUTTON_PER_SECOND = 5.0
IDLE_FORGET = 600.0  # seconds after which a quiet parent's bucket is dropped


class RateLimiter:
    """Token buckets keyed by user id, kept only in memory and only while active.

    The running bot spends from the store's buckets instead (shared by every replica on
    PostgreSQL); both use the same arithmetic, otbot.store.pacing.spend.
    """

    def __init__(self, burst: int = BURST, per_second: float = PER_SECOND) -> None:
        self.burst = burst
        self.per_second = per_second
        self._buckets: dict[int, Bucket] = {}

    def check(self, user_id: int, now: float) -> str:
        """'ok' to handle the message, 'notify' to send the one notice, 'drop' to ignore it."""
        if user_id not in self._buckets:
            self._sweep(now)
        verdict, self._buckets[user_id] = spend(self._buckets.get(user_id), self.burst,
                                                self.per_second, now)
        return verdict

    def _sweep(self, now: float) -> None:
        """Forget parents who have been quiet a while, so memory does not grow."""
        stale = [u for u, b in self._buckets.items() if now - b.updated > IDLE_FORGET]
        for user_id in stale:
            del self._buckets[user_id]
