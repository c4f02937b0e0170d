"""Follow-ups read in context: two-turn conversations from eval/followups*.yaml."""

from __future__ import annotations

import pytest
from paths import ROOT

from otbot.dialog.conversation import Conversation
from otbot.kb import KnowledgeBase
from otbot.tools.followups import read_dialogues, right, second_decision
from otbot.understanding.followup import content, is_short, refers_back

# Issue 12 asks for 0.90 on the held-out follow-ups, which holds (0.948 when last measured,
# README figures); the tuning sets' floors are what they reach today. None may slip.
# followups-dev*.yaml are tuned on, followups.yaml never is.
FLOORS = {"followups-dev.yaml": 0.95, "followups-dev2.yaml": 0.85, "followups.yaml": 0.94}


@pytest.fixture(scope="module")
def conversation(shipped_kb: KnowledgeBase) -> Conversation:
    """One conversation for the module."""
    return Conversation(shipped_kb)


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_follow_ups_answered_with_an_acceptable_topic(conversation: Conversation,
                                                      name: str) -> None:
    dialogues = read_dialogues(ROOT / "eval" / name)
    wrong = [d for d in dialogues if not right(second_decision(conversation, d), d.expect)]
    share = 1 - len(wrong) / len(dialogues)
    assert share >= FLOORS[name], "\n".join(f"{d.line}: {d.first!r} -> {d.then!r}"
                                            for d in wrong)


@pytest.mark.parametrize(("text", "points"), [
    ("what will the OT do about it?", True), ("what would OT do for her", True),
    ("how does OT help with that", True), ("why is it called occupational therapy?", False),
    ("what is OT", False)])
def test_a_pointer_refers_back_only_as_an_object(text: str, points: bool) -> None:
    assert refers_back(text) is points


def test_what_a_follow_up_asks_without_its_pointers() -> None:
    assert content("can I do that at home instead?") == "can i do at home"
    assert is_short("is it free?") and not is_short(" ".join(["word"] * 11))
