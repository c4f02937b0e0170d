"""The validated knowledge base: immutable objects the rest of the bot reads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from otbot.kb.screen import Screen
from otbot.kb.yamlfile import Problem


@dataclass(frozen=True)
class Entry:
    """One question-and-answer topic."""

    id: str
    question: str
    alternates: tuple[str, ...]
    answer: str
    theme: str
    keywords: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    area: str | None = None
    source: str = "general"
    reviewed: dt.date | None = None
    reviewed_by: str = ""  # who checked the answer, as a role ("paediatric OT")
    draft: bool = False  # not yet reviewed: loaded and checked, never shown to parents
    offer_screen: bool = False  # answer with a button to the red-flag screen
    path: str = ""
    line: int = 0

    def sentences(self) -> tuple[str, ...]:
        """The wordings that the matcher compares a message against."""
        return (self.question, *self.alternates)


@dataclass(frozen=True)
class Decline:
    """A kind of question the bot deliberately does not answer, with a kinder pointer."""

    id: str
    alternates: tuple[str, ...]
    reply: str = ""  # empty: the ordinary "no answer" text
    path: str = ""
    line: int = 0


@dataclass(frozen=True)
class Theme:
    """A group of entries in the topic browser."""

    id: str
    title: str
    entry_ids: tuple[str, ...]


@dataclass(frozen=True)
class UrgentRule:
    """Wordings that mean a possible emergency."""

    id: str
    phrases: tuple[str, ...] = ()
    together: tuple[tuple[str, ...], ...] = ()
    unless: tuple[str, ...] = ()
    extra: str = ""


@dataclass(frozen=True)
class Urgent:
    """The emergency reply and the rules that trigger it."""

    reply: str
    rules: tuple[UrgentRule, ...]


@dataclass(frozen=True)
class SmallTalkKind:
    """Greetings, thanks or goodbyes, with the reply in kind."""

    id: str
    phrases: tuple[str, ...]
    reply: str


@dataclass(frozen=True)
class SmallTalk:
    """All small-talk kinds and the filler words that may surround them."""

    kinds: tuple[SmallTalkKind, ...]
    filler: tuple[str, ...] = ()


@dataclass(frozen=True)
class KnowledgeBase:
    """Everything the bot knows and says, validated."""

    entries: dict[str, Entry]
    themes: tuple[Theme, ...]
    synonyms: dict[str, tuple[str, ...]]
    urgent: Urgent
    smalltalk: SmallTalk
    messages: dict[str, str]
    screen: Screen
    folder: Path
    declines: dict[str, Decline] = field(default_factory=dict)
    # Entries marked `draft: true`: validated like the others, kept out of `entries`, so the
    # matcher, the topic browser and every button only ever see published ones.
    drafts: dict[str, Entry] = field(default_factory=dict)
    version: str = ""
    warnings: tuple[Problem, ...] = field(default=(), compare=False)

    def message(self, key: str, **values: str) -> str:
        """A text the bot says, with {placeholders} filled in."""
        return self.messages[key].format(**values)


class KnowledgeError(Exception):
    """The folder has errors; nothing of it was loaded."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


