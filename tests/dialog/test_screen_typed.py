"""Typed answers: while a checklist question waits, a parent may type instead of pressing."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from test_screen import RARELY, Parent, answer, checked

from otbot.dialog.checklist import KEY, ScreenFlow
from otbot.kb import KnowledgeBase, default_dir, load_knowledge

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge(default_dir())


@pytest.fixture
def flow(kb: KnowledgeBase) -> ScreenFlow:
    return ScreenFlow(kb)


def at_question(flow: ScreenFlow, *answers: str | tuple[str, str, str]) -> Parent:
    parent = Parent(flow).start().press("Start", "3 to 5 years")
    return answer(parent, *answers)


def typed(parent: Parent, text: str) -> list | None:
    """Type `text`; the replies become what the parent sees if it was an answer."""
    replies = parent.flow.typed(text, parent.state, parent.now)
    if replies is not None:
        parent.replies = checked(replies)
        assert all(not reply.edit and not reply.notice for reply in replies)
    return replies


@pytest.mark.parametrize(("text", "given"), [
    ("often", {"a": "often"}), ("Sometimes", {"a": "sometimes"}),
    ("rarely", {"a": "rarely"}), ("never", {"a": "rarely"}), ("Rarely or never", {"a": "rarely"}),
    ("not sure", {"a": "unsure"}), ("Not sure.", {"a": "unsure"}), ("  OFTEN!  ", {"a": "often"}),
    ("1", {"a": "often"}), ("3", {"a": "rarely"}), ("4", {"a": "unsure"}),
    ("ofen", {"a": "often"}), ("somtimes", {"a": "sometimes"}), ("rarley", {"a": "rarely"}),
    ("not sur", {"a": "unsure"}), ("don't know", {"a": "unsure"}), ("dont know", {"a": "unsure"}),
])
def test_a_typed_answer_to_a_sign(flow: ScreenFlow, text: str, given: dict) -> None:
    parent = at_question(flow)
    assert typed(parent, text) is not None
    assert parent.state[KEY]["answers"]["hands"] == given
    follow_up = given["a"] in ("often", "sometimes")
    assert ("get in the way" in parent.text) == follow_up
    assert ("Question 2 of 8" in parent.text) == (not follow_up)


@pytest.mark.parametrize(("text", "value"), [
    ("yes", "y"), ("Yes", "y"), ("no", "n"), ("No!", "n"), ("not sure", "u"), ("unsure", "u"),
    ("yse", "y"), ("yeah", "y"), ("nope", "n"), ("1", "y"), ("2", "n"), ("3", "u")])
def test_a_typed_answer_to_a_follow_up(flow: ScreenFlow, text: str, value: str) -> None:
    parent = at_question(flow, "Often")
    assert typed(parent, text) is not None
    assert parent.state[KEY]["answers"]["hands"]["impact"] == value
    assert "Are you worried about it?" in parent.text


@pytest.mark.parametrize(("text", "value"), [("yes", "y"), ("no", "n"), ("not sure", "u")])
def test_a_typed_answer_to_the_lost_skill_question(flow: ScreenFlow, text: str, value: str
                                                   ) -> None:
    parent = at_question(flow, *[RARELY] * 8)
    assert "One last question" in parent.text
    assert typed(parent, text) is not None
    assert parent.state[KEY]["lost"] == value and "Check your answers" in parent.text


def test_skip_and_back_typed(flow: ScreenFlow) -> None:
    parent = at_question(flow, RARELY)
    assert typed(parent, "skip") is not None
    assert "Question 3 of 8" in parent.text and "textures" not in parent.state[KEY]["answers"]
    assert typed(parent, "Back") is not None
    assert "Question 2 of 8" in parent.text
    assert typed(parent, "skpi") is not None
    assert "Question 3 of 8" in parent.text
    parent = at_question(flow, "Often")
    assert typed(parent, "back") is not None and "Question 1 of 8" in parent.text


def test_typing_is_the_same_as_pressing(flow: ScreenFlow) -> None:
    pressing = at_question(flow)
    typing = Parent(flow)
    typing.state = copy.deepcopy(pressing.state)
    typing.replies = list(pressing.replies)
    for label, text in [("Often", "often"), ("Yes", "yes"), ("No", "no"), ("Not sure", "4"),
                        ("Sometimes", "sometimes"), ("Not sure", "not sure"), ("No", "2"),
                        ("« Back", "back"), ("Skip", "skip")]:
        pressing.press(label)
        assert typed(typing, text) is not None
        assert json.dumps(typing.state, sort_keys=True) == json.dumps(pressing.state,
                                                                      sort_keys=True)
        assert [r.text for r in typing.replies] == [r.text for r in pressing.replies]


def test_the_old_question_message_picks_up_where_the_parent_is(flow: ScreenFlow) -> None:
    parent = at_question(flow)
    old = parent.data("Often")
    assert typed(parent, "rarely") is not None
    replies = parent.press_data(old)
    assert "Question 2 of 8" in replies[0].text and replies[0].notice
    assert parent.state[KEY]["answers"] == {"hands": {"a": "rarely"}}


@pytest.mark.parametrize("text", [
    "", "   ", "how often should he write?", "is OT covered by insurance?",
    "often, when he is tired", "my son never sits still in class", "yes", "no", "maybe",
    "0", "8", "99", "cancel", "results", "🙂", "sometimes he does and sometimes not",
    "/screen", "he swallowed a button battery"])
def test_anything_else_is_not_an_answer(flow: ScreenFlow, text: str) -> None:
    parent = at_question(flow)
    before = json.dumps(parent.state)
    assert flow.typed(text, parent.state, NOW) is None
    assert json.dumps(parent.state) == before


def test_yes_and_no_only_where_the_buttons_say_yes_and_no(flow: ScreenFlow) -> None:
    parent = at_question(flow)
    assert flow.typed("yes", parent.state, NOW) is None
    follow_up = at_question(flow, "Often")
    for text in ("often", "sure", "noo", "yes it does and I am worried", "9"):
        assert flow.typed(text, follow_up.state, NOW) is None, text


@pytest.mark.parametrize("where", ["none", "intro", "age", "review", "results", "cancelled"])
def test_nothing_is_taken_when_no_question_waits(flow: ScreenFlow, where: str) -> None:
    parent = Parent(flow)
    if where != "none":
        parent.start()
    if where in ("age", "review", "results", "cancelled"):
        parent.press("Start")
    if where in ("review", "results"):
        parent.press("3 to 5 years")
        answer(parent, *[RARELY] * 8)
        parent.press("No")
    if where == "results":
        parent.press("See my results")
    if where == "cancelled":
        parent.press("Cancel")
    before = json.dumps(parent.state)
    for text in ("1", "2", "4", "often", "yes", "no", "skip", "back", "not sure"):
        assert flow.typed(text, parent.state, NOW) is None, (where, text)
    assert json.dumps(parent.state) == before


def test_a_number_can_press_cancel_as_in_the_terminal(flow: ScreenFlow) -> None:
    parent = at_question(flow)
    assert typed(parent, "7") is not None
    assert "cancelled" in parent.text and KEY not in parent.state


def test_a_whole_checklist_typed(flow: ScreenFlow) -> None:
    parent = Parent(flow).start().press("Start", "6 to 8 years")
    for text in ["often", "yes", "yes", "rarly", *["never"] * 6, "no"]:
        assert typed(parent, text) is not None, (text, parent.text)
    assert "Check your answers" in parent.text
    parent.press("See my results")
    assert "<b>Worth talking to a professional soon</b>" in parent.text

