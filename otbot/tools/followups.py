"""Measure follow-ups: two-turn conversations where the second message leans on the first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from otbot.dialog.conversation import Conversation, Event, EventKind, State
from otbot.kb.yamlfile import MarkedDict, Problem, YamlError
from otbot.tools.evaluation import labelled
from otbot.understanding.matcher import Decision, DecisionKind

SPECIAL = {"none": DecisionKind.FALLBACK, "smalltalk": DecisionKind.SMALLTALK,
           "urgent": DecisionKind.URGENT}


@dataclass(frozen=True)
class Dialogue:
    """A first message, a follow-up, and the topics acceptable for the follow-up."""

    first: str
    then: str
    expect: tuple[str, ...]
    line: int = 0


def read_dialogues(path: Path) -> list[Dialogue]:
    """Read a follow-up file; raise YamlError naming the file and line of the first bad item."""
    result = []
    for raw, line in labelled(path):
        expect = raw.get("expect") if isinstance(raw, MarkedDict) else None
        expected = [expect] if isinstance(expect, str) else expect
        if not (isinstance(raw, MarkedDict) and isinstance(raw.get("first"), str)
                and isinstance(raw.get("then"), str) and isinstance(expected, list)):
            raise YamlError(Problem(str(path), line, "each item needs 'first', 'then', 'expect'"))
        result.append(Dialogue(raw["first"], raw["then"], tuple(map(str, expected)), line))
    return result


def second_decision(conversation: Conversation, dialogue: Dialogue) -> Decision:
    """The decision the conversation takes on the follow-up, after the first message."""
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    state: State = {}
    _, state = conversation.handle(Event(EventKind.TEXT, dialogue.first, now=now), state)
    return conversation.understand(dialogue.then, state, now + dt.timedelta(minutes=1))


def right(decision: Decision, expect: tuple[str, ...]) -> bool:
    """Answered with an acceptable topic, or the expected special kind."""
    special = SPECIAL.get(expect[0])
    if special is not None:
        return decision.kind is special
    return decision.kind is DecisionKind.ANSWER and decision.topic in expect
