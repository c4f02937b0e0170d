"""The safety line under every checklist question: one short sentence, always the same."""

from __future__ import annotations

import pytest
from test_screen import Parent

from otbot.dialog.checklist import ScreenFlow
from otbot.kb import KnowledgeBase, default_dir, load_knowledge
from otbot.kb.markup import visible_text

SAFETY = ("If your child is hurt, very unwell or in danger, or you are thinking of harming "
          "yourself, call your local emergency number now.")


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge(default_dir())


@pytest.fixture
def flow(kb: KnowledgeBase) -> ScreenFlow:
    return ScreenFlow(kb)


def test_the_safety_line_is_the_agreed_sentence(kb: KnowledgeBase) -> None:
    assert kb.message("safety_line") == SAFETY


def ends_with_safety(parent: Parent) -> None:
    text = visible_text(parent.text).rstrip()
    assert text.endswith(SAFETY), text
    assert text.count(SAFETY) == 1


def test_every_question_prompt_ends_with_the_safety_line(flow: ScreenFlow, kb: KnowledgeBase
                                                         ) -> None:
    for band in kb.screen.bands:
        parent = Parent(flow).start()
        assert SAFETY not in visible_text(parent.text)  # the intro asks nothing yet
        parent.press("Start")
        ends_with_safety(parent)  # the age question
        parent.press(band.label)
        while "One last question" not in parent.text:
            ends_with_safety(parent)
            parent.press("Often")
            ends_with_safety(parent)  # the follow-ups
            parent.press("Yes")
            ends_with_safety(parent)
            parent.press("No")
        ends_with_safety(parent)  # the lost-skill question
        parent.press("No")
        assert SAFETY not in visible_text(parent.text)  # the review is no question
        parent.press("4")  # a question opened from the review
        ends_with_safety(parent)
        parent.press("« Back", "See my results")
        assert SAFETY not in visible_text(parent.text)


def test_a_question_shown_again_keeps_one_safety_line(flow: ScreenFlow) -> None:
    parent = Parent(flow).start().press("Start", "3 to 5 years", "Often", "« Back")
    ends_with_safety(parent)
    resume = flow.resume(parent.state)
    assert resume is not None
    parent.replies = [resume]
    parent.press("Continue the checklist")
    ends_with_safety(parent)
