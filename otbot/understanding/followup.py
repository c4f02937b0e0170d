"""Whether a message only makes sense after the previous answer, and how to read it then.

"tell me more", "the first one", "none of these", "is it free?", "and what about school?":
short messages that lean on what came before. A message that asks something of its own is
left alone, so a new question is never bent towards the previous topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from otbot.understanding.text import words

MAX_WORDS = 10  # a longer message carries its own question
MORE = frozenset({
    "more", "tell me more", "more please", "tell me more please", "go on", "continue",
    "more info", "more information", "what else", "anything else", "and", "keep going",
    "more details", "details", "explain more", "can you explain more", "say more",
    "and then", "ok and", "ok and after that", "and after that", "what next", "then what",
    "why", "why is that", "how so", "like what", "such as", "for example", "example",
    "examples", "any examples", "give me examples", "give me an example", "some examples",
    "an example", "how", "how come", "explain", "elaborate", "tell me more about it",
    "tell me more about that", "more about that", "more on that", "go on then",
    "what do you mean", "meaning", "such as what", "can you say more", "more detail",
})
NONE = frozenset({"none", "none of these", "none of them", "neither", "not those",
                  "none of those", "not these", "no none of these", "nope none"})
ORDINALS = {"first": 0, "1": 0, "1st": 0, "second": 1, "2": 1, "2nd": 1, "third": 2, "3": 2,
            "3rd": 2, "last": -1}
# Words that point back at something said before ("him": the child just talked about).
POINTERS = frozenset({"it", "that", "this", "those", "these", "them", "they", "one", "its",
                      "there", "such", "same", "then", "meanwhile", "instead", "either",
                      "him", "her"})
PREPOSITIONS = frozenset({"about", "for", "with", "on", "at", "to", "in", "of", "from"})
OPENERS = (("and",), ("what", "about"), ("how", "about"), ("also",), ("but",), ("so",),
           ("what", "if"), ("ok", "and"), ("okay", "and"), ("and", "what"), ("is", "it"),
           ("does", "it"), ("can", "we"), ("can", "i"), ("how", "long"), ("how", "much"),
           ("how", "often"), ("who",), ("where",), ("when",))
FILLER = frozenset({"the", "one", "please", "pls", "option", "a", "an", "ok", "okay"})


class Reading(StrEnum):
    """How a message leans on the conversation."""

    MORE = "more"  # continue with the previous topic's related content
    NONE = "none"  # none of the offered options
    PICK = "pick"  # an ordinal: one of the offered options
    FOLLOW = "follow"  # a question about the previous topic ("is it free?")


@dataclass(frozen=True)
class FollowUp:
    """What a message means in context; `index` for PICK."""

    reading: Reading
    index: int = 0


def refers_back(text: str) -> bool:
    """Whether a pointer word stands as an object ("about it", "for her", ends on "that"),
    not as an empty subject ("why is it called OT?")."""
    tokens = words(text)
    return any(token in POINTERS and (i == len(tokens) - 1 or tokens[i - 1] in PREPOSITIONS)
               for i, token in enumerate(tokens) if i > 0)


def content(text: str) -> str:
    """The message without the words that point back ("that", "instead"): what it asks."""
    return " ".join(t for t in words(text) if t not in POINTERS)


def is_short(text: str) -> bool:
    """Short enough that it may lean on what came before, even with no pointer word."""
    return len(words(text)) <= MAX_WORDS


def follow_up(text: str) -> FollowUp | None:
    """The message's reading if it leans on what came before, else None."""
    tokens = words(text)
    phrase = " ".join(tokens)
    if not tokens or len(tokens) > MAX_WORDS:
        return None
    if phrase in MORE:
        return FollowUp(Reading.MORE)
    if phrase in NONE:
        return FollowUp(Reading.NONE)
    picked = [ORDINALS[t] for t in tokens if t in ORDINALS]
    if picked and all(t in ORDINALS or t in FILLER for t in tokens):
        return FollowUp(Reading.PICK, picked[0])
    if POINTERS & set(tokens) or any(tuple(tokens[:len(o)]) == o for o in OPENERS):
        return FollowUp(Reading.FOLLOW)
    return None
