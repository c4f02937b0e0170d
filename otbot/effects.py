"""What a handled event changes besides the parent's state: typed records the store applies.

The dialog decides them; the store only writes them. Neither needs to know the other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Answered:
    """A topic's answer was shown."""

    topic: str


@dataclass(frozen=True)
class Vote:
    """A parent's 👍 or 👎 under an answer."""

    topic: str
    helpful: bool


@dataclass(frozen=True)
class Miss:
    """A question the bot had no answer for: normalised text only, never who asked."""

    text: str


@dataclass(frozen=True)
class Forget:
    """The parent asked to delete everything held about them."""


Effect = Answered | Vote | Miss | Forget
