"""What a handled event changes besides the parent's state: typed records the store applies.

The dialog decides them; the store only writes them. Neither needs to know the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Answered:
    """A topic's answer was shown."""

    topic: str


@dataclass(frozen=True)
class Vote:
    """A parent's 👍 or 👎 under an answer."""

    topic: str
    helpful: bool


class MissKind(StrEnum):
    """The ways a parent's question can go wrong, for maintainers to mend."""

    FALLBACK = "fallback"  # no answer found
    DECLINED = "declined"  # a kind of question the bot declines on purpose (decline.yaml)
    CLARIFY = "clarify"  # "did you mean…" was offered; `topic` is what the parent took
    UNHELPFUL = "unhelpful"  # 👎 under an answer; `topic` is the topic answered
    FOLLOWUP = "followup"  # a follow-up the bot could not place in the conversation


# What a parent took from a "did you mean…" offer besides a topic.
NONE_OF_THESE = "none"


@dataclass(frozen=True)
class Miss:
    """A question that went wrong: normalised text only, never who asked."""

    text: str
    kind: MissKind = MissKind.FALLBACK
    # CLARIFY: the topic taken, NONE_OF_THESE, or None when the parent ignored the offer;
    # UNHELPFUL: the topic whose answer did not help.
    topic: str | None = None
    options: tuple[str, ...] = ()  # CLARIFY: the topics offered, best first


@dataclass(frozen=True)
class Decided:
    """How the bot handled one parent's message, for the per-day counts of `otbot report`.

    `kind` is the decision: answer, clarify, fallback, urgent, smalltalk (or declined). Only
    the day and the kind are kept, counted: no text, nothing of who asked.
    """

    kind: str


@dataclass(frozen=True)
class Forget:
    """The parent asked to delete everything held about them."""


Effect = Answered | Vote | Miss | Decided | Forget
