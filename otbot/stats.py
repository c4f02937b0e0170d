"""What admins see with /stats: answers, votes and the questions that found no answer."""

from __future__ import annotations

from collections import Counter

from otbot.conversation import Conversation
from otbot.markup import escape
from otbot.store import Store

TOP_MISSES = 5


def stats_text(conversation: Conversation, store: Store) -> str:
    """A short summary for Telegram."""
    counts = store.topic_counts().values()
    misses = Counter(text for text, _ in store.misses()).most_common(TOP_MISSES)
    lines = "\n".join(f"• {escape(text)} ({n})" for text, n in misses) or "none"
    return conversation.kb.message(
        "stats", days=str(conversation.settings.misses_days),
        answers=str(sum(a for a, _, _ in counts)), helpful=str(sum(h for _, h, _ in counts)),
        unhelpful=str(sum(u for _, _, u in counts)), misses=lines)
