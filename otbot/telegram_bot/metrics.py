"""What an operator watches: Prometheus counters, and the health endpoints' answers.

Metrics carry counts and timings only: never a chat, a user or a word a parent wrote.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """One registry per bot, so several bots in one test process never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.updates = Counter("otbot_updates_handled", "Updates handled to the end", registry=r)
        self.duplicates = Counter("otbot_updates_duplicate",
                                  "Updates delivered again and skipped (handled before)",
                                  registry=r)
        self.set_aside = Counter("otbot_updates_set_aside",
                                 "Updates that could not be parsed or handled after retries",
                                 registry=r)
        self.replies = Counter("otbot_replies_sent", "Replies delivered to Telegram", registry=r)
        self.decisions = Counter("otbot_decisions", "Events handled, by what was decided",
                                 ["kind"], registry=r)
        self.latency = Histogram(
            "otbot_handling_seconds", "From an event's arrival to its commit", registry=r,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
        self.flood_waits = Counter("otbot_telegram_429", "Flood waits (429) Telegram sent",
                                   registry=r)
        self.outbox = Gauge("otbot_outbox_depth", "Replies committed and not yet sent",
                            registry=r)
        self.reloads = Counter("otbot_knowledge_reloads", "Knowledge reloads applied",
                               registry=r)

    def watch_outbox(self, depth: Callable[[], float]) -> None:
        """Read the outbox's depth at every scrape."""
        self.outbox.set_function(depth)

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
