"""The validated knowledge base: immutable objects the rest of the bot reads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np

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
    more: str = ""  # what "tell me more" shows: details and examples beyond the answer
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
    # About OT as a whole ("what would OT do?"): after an answer, a short question that
    # matches such a topic is about the topic just answered, not about OT in general.
    general: bool = False


class Level(StrEnum):
    """How soon a parent must act on what an urgent kind recognises."""

    EMERGENCY = "emergency"  # now: the emergency reply and nothing else
    SOON = "soon"  # not an emergency, but worth a doctor soon: a line under the answer


@dataclass(frozen=True)
class UrgentKind:
    """One kind of emergency (or worry for a doctor soon), the wordings and the reply."""

    id: str
    reply: str
    # Any one combination fires: every item of it within a few words of the others, in one
    # sentence. An item is a cue name (urgent.yaml `cues`) or words, `a|b` for either.
    when: tuple[tuple[str, ...], ...]
    unless: tuple[str, ...] = ()  # calm, past or figurative contexts next to the match
    level: Level = Level.EMERGENCY
    crisis: bool = False  # its reply carries a crisis line, so it leads a combined reply
    # Whether the cues may lie anywhere in the message: a baby's age and a temperature are
    # often told in different sentences. Otherwise one sentence, a few words apart.
    whole_message: bool = False
    source: str = ""
    path: str = ""
    line: int = 0


# The learnt models' outputs beside one per kind or entry: the loader checks a model file
# for them, the readers and the trainer use them.
ANY = "any"  # the urgent model's output for "some emergency", beside one per kind
DOCTOR = "doctor"  # the urgent model's output for "a worry for a doctor soon, not now"
NONE = "none"  # the topic model's output for "none of the topics", beside one per topic


@dataclass(frozen=True, eq=False)
class LinearModel:
    """Weights learnt from labelled messages (urgent-model.npz, topic-model.npz).

    A linear model over hashed words, word pairs and letter groups of a message, one output
    per emergency kind (and "any") or per topic (and "none"). Only the features seen in
    training are kept (`rows`, sorted), each with one weight per output. The weights are
    16-bit integers times a scale per output: as small as half-precision floats, more
    precise for the largest weights, and numpy adds integers several times faster.
    """

    rows: np.ndarray  # int32 feature ids (below 2**18), sorted
    weights: np.ndarray  # int16, one row per feature id, one column per output
    scale: np.ndarray  # float32, per output: a learnt weight is weights * scale
    bias: np.ndarray  # float32, per output
    outputs: tuple[str, ...]  # kind or entry ids, then "any" or "none"
    trained_on: str = ""  # fingerprint of the examples, to tell when it is out of date

    @classmethod
    def quantized(cls, rows: np.ndarray, weights: np.ndarray, bias: np.ndarray,
                  outputs: tuple[str, ...], trained_on: str = "") -> LinearModel:
        """The model of these float weights, stored as 16-bit integers and a scale."""
        largest = np.abs(weights).max(axis=0) if len(weights) else np.zeros(len(outputs))
        scale = (np.maximum(largest, 1e-12) / np.iinfo(np.int16).max).astype(np.float32)
        stored = np.round(weights / scale).astype(np.int16)
        return cls(rows, stored, scale, bias.astype(np.float32), outputs, trained_on)


@dataclass(frozen=True)
class Urgent:
    """The emergency kinds, the cue words they share, and what frames their replies."""

    kinds: tuple[UrgentKind, ...]
    cues: dict[str, tuple[str, ...]] = field(default_factory=dict)
    calm: tuple[str, ...] = ()  # figures of speech that are never an emergency
    # Contexts that calm a whole sentence (a question asked just in case, a story).
    calm_anywhere: tuple[str, ...] = ()
    footer: str = ""  # under every emergency reply: what the bot cannot do
    first_lines: dict[str, str] = field(default_factory=dict)  # language code -> first line
    model: LinearModel | None = None  # learnt weights, when the folder has them
    # Words of the here and now ("now", "again"): a calm context on the far side of one does
    # not cancel a match ("had seizures as a baby, now he is fitting").
    present: tuple[str, ...] = ()
    # Words that deny what follows ("is not", "has not"): "she is not choking" is no
    # emergency, while a cue that holds the "not" ("is not breathing") still is.
    negations: tuple[str, ...] = ()

    def kind(self, kind_id: str) -> UrgentKind | None:
        """The kind with this id."""
        return next((k for k in self.kinds if k.id == kind_id), None)


@dataclass(frozen=True)
class SmallTalkKind:
    """Greetings, thanks or goodbyes, with the reply in kind."""

    id: str
    phrases: tuple[str, ...]
    reply: str
    # An entry whose answer replies instead: questions about the bot in words too common
    # for the ranking ("what can you do?", "who are you?").
    answer: str | None = None
    # "Not what I asked": right after an answer, the bot offers the next-best topics instead,
    # as after 👎.
    complaint: bool = False


@dataclass(frozen=True)
class SmallTalk:
    """All small-talk kinds and the filler words that may surround them."""

    kinds: tuple[SmallTalkKind, ...]
    filler: tuple[str, ...] = ()

    def kind(self, kind_id: str) -> SmallTalkKind:
        """The kind with this id (a decision's `detail` always names one)."""
        return next(k for k in self.kinds if k.id == kind_id)


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
    topic_model: LinearModel | None = None  # learnt weights, when the folder has them

    def message(self, key: str, **values: str) -> str:
        """A text the bot says, with {placeholders} filled in."""
        return self.messages[key].format(**values)


class KnowledgeError(Exception):
    """The folder has errors; nothing of it was loaded."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


