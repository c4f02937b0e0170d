"""What admins see with /stats: answers, votes and the questions that found no answer."""

from __future__ import annotations

from otbot.dialog.conversation import Conversation
from otbot.kb.markup import escape
from otbot.store import Store
from otbot.understanding.grouping import group_misses

TOP_MISSES = 5


def stats_text(conversation: Conversation, store: Store) -> str:
    """A short summary for Telegram."""
    counts = store.topic_counts().values()
    # Grouped as `otbot misses` groups them, so both name the same top questions.
    groups = group_misses(store.misses())[:TOP_MISSES]
    lines = "\n".join(f"• {escape(g.wording)} ({g.count})" for g in groups) or "none"
    return conversation.kb.message(
        "stats", days=str(conversation.settings.misses_days),
        answers=str(sum(a for a, _, _ in counts)), helpful=str(sum(h for _, h, _ in counts)),
        unhelpful=str(sum(u for _, _, u in counts)), misses=lines)
