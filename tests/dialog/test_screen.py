"""The guided signs checklist: the dialog, the rules' results, the summary, state handling."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otbot.dialog.callbacks import decode, encode
from otbot.dialog.checklist import KEY, ScreenFlow
from otbot.dialog.replies import Reply
from otbot.kb import KnowledgeBase, default_dir, load_knowledge
from otbot.kb.markup import html_problems, utf16_length, visible_text
from otbot.kb.screen import LABEL_WORDS, Screen

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
RARELY = "Rarely or never"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    """The shipped knowledge base."""
    return load_knowledge(default_dir())


@pytest.fixture(scope="module")
def screen(kb: KnowledgeBase) -> Screen:
    """The shipped screen."""
    return kb.screen


def checked(replies: list[Reply]) -> list[Reply]:
    """Every reply is something Telegram accepts."""
    assert replies
    for reply in replies:
        assert html_problems(reply.text) == [], reply.text
        assert utf16_length(reply.text) <= 4096
        for row in reply.buttons:
            for button in row:
                assert button.label.strip()
                assert 1 <= len(button.data.encode()) <= 64
    return replies


class Parent:
    """One parent: their own state, the last replies, and presses by button label."""

    def __init__(self, flow: ScreenFlow, now: datetime = NOW) -> None:
        self.flow = flow
        self.now = now
        self.state: dict = {}
        self.replies: list[Reply] = []

    def start(self) -> Parent:
        self.replies = checked(self.flow.start(self.state, self.now))
        return self

    @property
    def text(self) -> str:
        return "\n".join(reply.text for reply in self.replies)

    def labels(self) -> list[str]:
        return [b.label for r in self.replies for row in r.buttons for b in row]

    def data(self, label: str) -> str:
        """The data of the button labelled `label` (an answer given before has a tick)."""
        for reply in self.replies:
            for row in reply.buttons:
                for button in row:
                    if button.label.removeprefix("✓ ") == label:
                        return button.data
        raise AssertionError(f"no button {label!r} in {self.labels()}")

    def press(self, *labels: str) -> Parent:
        for label in labels:
            self.press_data(self.data(label))
        return self

    def press_data(self, data: str) -> list[Reply]:
        callback = decode(data)
        assert callback is not None and callback.action == "s"
        self.replies = checked(self.flow.press(callback.args, self.state, self.now))
        return self.replies


def answer(parent: Parent, *answers: str | tuple[str, str, str]) -> Parent:
    """Answer the items in order: an option label, "Skip", or (option, impact, worry)."""
    for reply_to in answers:
        if isinstance(reply_to, tuple):
            parent.press(*reply_to)
        else:
            parent.press(reply_to)
    return parent


def complete(flow: ScreenFlow, band: str = "3 to 5 years", answers: tuple = (RARELY,) * 8,
             lost: str = "No") -> Parent:
    """A parent who went through the whole checklist up to the results."""
    parent = Parent(flow).start().press("Start", band)
    answer(parent, *answers)
    return parent.press(lost, "See my results")


@pytest.fixture
def flow(kb: KnowledgeBase) -> ScreenFlow:
    return ScreenFlow(kb)


def test_intro_says_what_it_is_how_long_and_what_is_kept(flow: ScreenFlow) -> None:
    parent = Parent(flow).start()
    text = visible_text(parent.text)
    assert "not a test" in text and "not a diagnosis" in text
    assert "3 minutes" in text and "8 common signs" in text
    assert "deleted 30 days after" in text and "not end-to-end encrypted" in text
    assert parent.labels() == ["Start", "Cancel"]
    assert not parent.replies[0].edit
    assert not flow.is_open(parent.state) and flow.resume(parent.state) is None


def test_age_band_comes_first_then_one_question_at_a_time(flow: ScreenFlow) -> None:
    parent = Parent(flow).start().press("Start")
    assert "How old is your child?" in parent.text
    assert {"Under 12 months", "1 to 2 years", "2 to 3 years", "13 or older", "Skip",
            "Cancel"} <= set(parent.labels())
    parent.press("6 to 8 years")
    assert parent.replies[0].edit
    assert "Question 1 of 8" in parent.text
    assert "most buttons and zippers" in parent.text  # the 6-8 example
    assert parent.labels()[:4] == ["Often", "Sometimes", RARELY, "Not sure"]
    assert {"« Back", "Skip", "Cancel"} <= set(parent.labels())
    assert flow.is_open(parent.state)


def test_skipping_the_age_never_blocks(flow: ScreenFlow) -> None:
    parent = Parent(flow).start().press("Start", "Skip")
    assert "Question 1 of 8" in parent.text
    assert "food keeps falling off" in parent.text  # the general example
    assert parent.state[KEY]["band"] is None


def test_often_and_sometimes_ask_both_follow_ups(flow: ScreenFlow) -> None:
    parent = Parent(flow).start().press("Start", "3 to 5 years", "Often")
    assert "Question 1 of 8" in parent.text and "get in the way of everyday life" in parent.text
    assert parent.labels()[:3] == ["Yes", "No", "Not sure"]
    parent.press("Yes")
    assert "Are you worried about it?" in parent.text
    parent.press("No")
    assert "Question 2 of 8" in parent.text
    parent.press("Sometimes")
    assert "you answered <i>Sometimes</i>" in parent.text
    parent.press("Not sure", "Yes")
    answers = parent.state[KEY]["answers"]
    assert answers["hands"] == {"a": "often", "impact": "y", "worry": "n"}
    assert answers["textures"] == {"a": "sometimes", "impact": "u", "worry": "y"}


def test_rarely_and_not_sure_go_straight_on(flow: ScreenFlow) -> None:
    parent = Parent(flow).start().press("Start", "3 to 5 years", RARELY)
    assert "Question 2 of 8" in parent.text
    parent.press("Not sure")
    assert "Question 3 of 8" in parent.text
    assert parent.state[KEY]["answers"] == {"hands": {"a": "rarely"}, "textures": {"a": "unsure"}}


def test_back_goes_one_step_back_and_shows_the_answer_given(flow: ScreenFlow) -> None:
    parent = Parent(flow).start().press("Start", "3 to 5 years", "Often", "Yes")
    parent.press("« Back")
    assert "get in the way of everyday life" in parent.text
    assert "✓ Yes" in parent.labels()
    parent.press("« Back")
    assert "Question 1 of 8" in parent.text and "✓ Often" in parent.labels()
    parent.press("« Back")
    assert "How old is your child?" in parent.text and "✓ 3 to 5 years" in parent.labels()
    parent.press("« Back")
    assert "Signs checklist" in parent.text


def test_the_same_answer_again_keeps_its_follow_ups_another_clears_them(flow: ScreenFlow) -> None:
    parent = Parent(flow).start().press("Start", "3 to 5 years", "Often", "Yes", "Yes")
    parent.press("« Back", "Often")  # back to question 1, same answer
    assert "✓ Yes" in parent.labels()
    parent.press("« Back", RARELY)
    assert "Question 2 of 8" in parent.text
    assert parent.state[KEY]["answers"]["hands"] == {"a": "rarely"}


def test_skip_leaves_an_item_unanswered(flow: ScreenFlow) -> None:
    parent = Parent(flow).start().press("Start", "3 to 5 years", "Often", "Yes", "Yes",
                                        "« Back", "Skip")
    assert "Question 2 of 8" in parent.text
    assert "hands" not in parent.state[KEY]["answers"]


def test_cancel_deletes_the_answers(flow: ScreenFlow) -> None:
    parent = Parent(flow).start().press("Start", "3 to 5 years", "Often")
    old = parent.data("Yes")
    parent.press("Cancel")
    assert "cancelled" in parent.text and parent.replies[0].edit
    assert KEY not in parent.state
    assert not flow.is_open(parent.state) and flow.resume(parent.state) is None
    assert "earlier checklist" in parent.press_data(old)[0].text


def test_cancel_works_from_the_intro(flow: ScreenFlow) -> None:
    parent = Parent(flow).start().press("Cancel")
    assert "cancelled" in parent.text and KEY not in parent.state


def test_review_lists_every_answer_and_one_can_be_changed(flow: ScreenFlow) -> None:
    parent = Parent(flow).start().press("Start", "3 to 5 years")
    answer(parent, RARELY, "Skip", "Not sure", *[RARELY] * 5)
    assert "One last question" in parent.text
    parent.press("No")
    text = parent.text
    assert "Check your answers" in text and "Age: 3 to 5 years" in text
    assert "2. Touch and textures: <i>Skipped</i>" in text
    assert "3. Noise, light and busy places: <i>Not sure</i>" in text
    assert "Lost a skill: <i>No</i>" in text
    parent.press("3")
    assert "Question 3 of 8" in parent.text and "✓ Not sure" in parent.labels()
    parent.press("Often", "Yes", "Yes")
    assert "Check your answers" in parent.text
    assert "Noise, light and busy places: <i>Often (gets in the way; you are worried)</i>" \
        in parent.text
    parent.press("3", "« Back")  # back from an edit returns to the review
    assert "Check your answers" in parent.text
    parent.press("Age", "2 to 3 years")
    assert "Age: 2 to 3 years" in parent.text
    parent.press("See my results")
    assert "Worth talking to a professional soon" in parent.text
    assert area_results(parent)["Sensory processing"] == "worth discussing"


def details(parent: Parent) -> str:
    """The text behind the results' "Details and ideas" button (the parent stays on results)."""
    callback = decode(parent.data("Details and ideas"))
    replies = checked(parent.flow.press(callback.args, parent.state, parent.now))
    assert all(not reply.edit for reply in replies)  # a new message: the results stay
    return "\n".join(reply.text for reply in replies)


def area_results(parent: Parent) -> dict[str, str]:
    """Area name -> result label, as the details list them."""
    lines = visible_text(details(parent)).split("The six skill areas\n")[1].split("\n\n")[0]
    found = {}
    for line in lines.splitlines():
        name, _, rest = line.removeprefix("• ").partition(": ")
        found[name] = rest.split(" (")[0]
    return found


@pytest.mark.parametrize(("answers", "tier"), [
    ((RARELY,) * 8, "Nothing stood out"),
    ((("Often", "Yes", "No"), *[RARELY] * 7), "Worth talking to a professional soon"),
    ((("Often", "No", "No"), RARELY, ("Sometimes", "Yes", "No"), *[RARELY] * 5),
     "Worth talking to a professional soon"),
    ((("Sometimes", "No", "Yes"), *[RARELY] * 7), "Worth talking to a professional soon"),
    ((("Often", "No", "No"), *[RARELY] * 7), "Keep an eye on it and try activities"),
    ((("Sometimes", "No", "No"), ("Sometimes", "Not sure", "No"), *[RARELY] * 6),
     "Keep an eye on it and try activities"),
    (("Not sure",) * 4 + ("Skip",) * 4, "Not enough answers to go on"),
])
def test_each_tier(flow: ScreenFlow, answers: tuple, tier: str) -> None:
    parent = complete(flow, answers=answers)
    assert f"<b>{tier}</b>" in parent.text
    tiers = ["Nothing stood out", "Worth talking to a professional soon", "Not enough answers",
             "Keep an eye on it", "Contact your child's doctor promptly"]
    assert sum(name in parent.text for name in tiers) == 1


def test_area_results(flow: ScreenFlow) -> None:
    parent = complete(flow, answers=(
        ("Often", "Yes", "No"),        # hands: strong -> self-care, fine motor
        RARELY,                        # textures
        ("Sometimes", "No", "No"),     # meltdowns: light -> sensory, social-emotional
        RARELY,                        # pencil
        "Skip",                        # clumsy: gross motor not answered
        "Not sure",                    # attention: not answered
        RARELY, RARELY))
    assert area_results(parent) == {
        "Fine motor (hands and fingers)": "worth discussing",
        "Gross motor (balance and movement)": "not answered",
        "Sensory processing": "worth watching",
        "Self-care": "worth discussing",
        "Social and emotional skills": "worth watching",
        "Attention and thinking skills": "not answered",
    }
    assert "(you noticed: Using their hands)" in details(parent)
    assert "You were not sure about: Attention and organising" in details(parent)


def test_two_milder_signs_in_one_area_are_worth_discussing(flow: ScreenFlow) -> None:
    parent = complete(flow, answers=(("Often", "No", "No"), ("Sometimes", "Yes", "No"),
                                     *[RARELY] * 6))
    assert area_results(parent)["Self-care"] == "worth discussing"
    assert area_results(parent)["Fine motor (hands and fingers)"] == "worth watching"


def test_nothing_flagged_lists_strengths_and_still_says_ask_anyway(flow: ScreenFlow) -> None:
    parent = complete(flow)
    text = visible_text(parent.text)
    assert set(area_results(parent).values()) == {"not flagged"}
    assert "If you are still concerned" in text and "ask your pediatrician anyway" in text
    more = visible_text(details(parent))
    assert more.count("• ") >= 8 and "paying attention and following directions" in more


def test_results_put_the_tier_and_next_steps_first_and_the_details_behind_a_button(
        flow: ScreenFlow) -> None:
    parent = complete(flow, band="6 to 8 years", answers=(("Often", "Yes", "Yes"), *[RARELY] * 7))
    text = visible_text(parent.text)
    assert text.index("Worth talking to a professional") < text.index("Next steps")
    for route in ("pediatrician", "teacher", "standard developmental screening"):
        assert route in text
    assert "What is going well" not in text and "Things to try" not in text
    assert "not a diagnosis" in text.splitlines()[-1]
    assert parent.replies[0].edit
    assert parent.labels()[:2] == ["Details and ideas", "Summary for the doctor"]
    more = visible_text(details(parent))
    assert more.index("What is going well") < more.index("The six skill areas")
    assert "Things to try at home" in more and "wait and see" in more
    assert "not a diagnosis" in more.splitlines()[-1]


def test_results_offer_the_faq_topics_of_flagged_areas_and_the_summary(
        flow: ScreenFlow, kb: KnowledgeBase) -> None:
    parent = complete(flow, answers=(RARELY, ("Often", "Yes", "No"), *[RARELY] * 6))
    assert {"Summary for the doctor", "Start a new checklist"} <= set(parent.labels())
    parent.press("Details and ideas")
    topics = [decode(b.data).args[0] for r in parent.replies for row in r.buttons for b in row
              if decode(b.data).action == "a"]
    assert {"sensory-processing", "self-care"} <= set(topics)
    assert "fine-motor" not in topics
    assert all(topic in kb.entries for topic in topics)
    assert parent.data("Sensory processing") == encode("a", "sensory-processing")
    results = complete(flow, answers=(RARELY, ("Often", "Yes", "No"), *[RARELY] * 6))
    links = [decode(b.data).args[0] for r in results.replies for row in r.buttons for b in row
             if decode(b.data).action == "a"]
    assert {"get-evaluation", "wait-and-see"} <= set(links)


def test_results_never_label_with_verdict_words(flow: ScreenFlow) -> None:
    parent = complete(flow, answers=(("Often", "Yes", "Yes"),) * 8, lost="Yes")
    more = visible_text(details(parent))
    text = (visible_text(parent.text) + more).replace("not a diagnosis", "")
    assert LABEL_WORDS.search(text) is None
    assert not any(char.isdigit() for char in more.split("The six skill areas")[1].split(
        "Things to try")[0])  # no score anywhere near the areas


def test_the_speech_item_adds_a_hearing_check_and_speech_language_assessment(
        flow: ScreenFlow) -> None:
    speech = complete(flow, answers=(*[RARELY] * 6, ("Sometimes", "No", "No"), RARELY))
    assert "hearing check" in speech.text and "speech-language assessment" in speech.text
    other = complete(flow, answers=(("Often", "Yes", "Yes"), *[RARELY] * 7))
    assert "hearing check" not in other.text


def test_a_skill_not_expected_yet_is_left_out_and_never_a_strength(flow: ScreenFlow) -> None:
    baby = Parent(flow).start().press("Start", "Under 12 months")
    answer(baby, RARELY, RARELY, RARELY)
    assert "Question 4 of 5" in baby.text and "roll over" in baby.text
    assert "pencil" not in baby.text.lower()  # handwriting is left out for a baby
    answer(baby, RARELY, RARELY)
    assert "One last question" in baby.text
    baby.press("No")
    assert "4. Drawing and writing: <i>Not yet at this age</i>" in baby.text
    assert "6. Attention and organising: <i>Not yet at this age</i>" in baby.text
    baby.press("See my results")
    assert "<b>Nothing stood out</b>" in baby.text
    assert "holding a pencil" not in details(baby)  # not a strength either
    assert area_results(baby)["Fine motor (hands and fingers)"] == "not flagged"
    assert area_results(baby)["Attention and thinking skills"] == "not asked at this age"
    pupil = complete(flow, band="6 to 8 years",
                     answers=(RARELY, RARELY, RARELY, ("Often", "Yes", "No"), *[RARELY] * 4))
    assert "cannot do this yet" not in pupil.text
    assert area_results(pupil)["Fine motor (hands and fingers)"] == "worth discussing"


def test_a_skill_not_expected_yet_answered_from_the_review_counts_only_a_worry(
        flow: ScreenFlow) -> None:
    parent = Parent(flow).start().press("Start", "Under 12 months")
    answer(parent, *[RARELY] * 5)
    parent.press("No", "4")
    assert "cannot do this yet" in parent.text and "Question 4 of 8" in parent.text
    parent.press(RARELY, "See my results")
    assert "<b>Nothing stood out</b>" in parent.text
    assert "holding a pencil" not in details(parent)
    parent = Parent(flow).start().press("Start", "Under 12 months")
    answer(parent, *[RARELY] * 5)
    parent.press("No", "4", "Often", "Yes", "No", "See my results")
    assert "<b>Nothing stood out</b>" in parent.text
    parent = Parent(flow).start().press("Start", "Under 12 months")
    answer(parent, *[RARELY] * 5)
    parent.press("No", "4", "Often", "No", "Yes", "See my results")
    assert "<b>Worth talking to a professional soon</b>" in parent.text


def test_a_lost_skill_means_contact_the_doctor_promptly_whatever_the_rest(
        flow: ScreenFlow) -> None:
    parent = complete(flow, lost="Yes")
    assert "<b>Contact your child's doctor promptly</b>" in parent.text
    assert "Nothing stood out" not in parent.text
    unsure = complete(flow, lost="Not sure")
    assert "not sure whether your child has lost a skill" in unsure.text
    assert "<b>Nothing stood out</b>" in unsure.text


def test_resume_after_a_restart_with_the_state_from_json(kb: KnowledgeBase) -> None:
    parent = Parent(ScreenFlow(kb)).start().press("Start", "3 to 5 years", RARELY, "Often")
    old_question = Parent(parent.flow)
    old_question.replies = list(parent.replies)  # the follow-up message still on screen
    parent.press("Yes", "No")
    offer = parent.flow.resume(parent.state)
    # The bot restarts: a new flow, the state as the store gives it back.
    restarted = Parent(ScreenFlow(kb))
    restarted.state = json.loads(json.dumps(parent.state))
    assert restarted.flow.is_open(restarted.state)
    resume = restarted.flow.resume(restarted.state)
    assert resume is not None and resume == offer
    restarted.replies = checked([resume])
    assert "Continue where you left off" in resume.text
    restarted.press("Continue the checklist")
    assert "Question 3 of 8" in restarted.text and restarted.replies[0].edit
    # A button of an older message of this run picks up where the parent is.
    replies = restarted.press_data(old_question.data("Yes"))
    assert "Question 3 of 8" in replies[0].text and replies[0].notice
    assert restarted.state[KEY]["answers"]["textures"] == {"a": "often", "impact": "y",
                                                           "worry": "n"}
    restarted.press(RARELY)
    assert "Question 4 of 8" in restarted.text


def test_starting_again_while_open_offers_continue_or_start_over(flow: ScreenFlow) -> None:
    parent = Parent(flow).start().press("Start", "3 to 5 years", RARELY)
    old = parent.data("Often")
    parent.start()
    assert "already started" in parent.text
    assert parent.labels() == ["Continue", "Start over", "Cancel"]
    parent.press("Continue")
    assert "Question 2 of 8" in parent.text
    parent.start().press("Start over")
    assert "How old is your child?" in parent.text
    assert parent.state[KEY]["answers"] == {}
    assert "earlier checklist" in parent.press_data(old)[0].text


def test_buttons_of_a_finished_run_are_out_of_date_except_its_results(flow: ScreenFlow) -> None:
    parent = Parent(flow).start().press("Start", "3 to 5 years")
    answer(parent, *[RARELY] * 8)
    parent.press("No")
    review_cancel = parent.data("Cancel")
    parent.press("See my results")
    summary = parent.data("Summary for the doctor")
    assert "earlier checklist" in parent.press_data(review_cancel)[0].text
    assert KEY in parent.state  # the stale Cancel did not act
    assert "summary for the doctor" in parent.press_data(summary)[0].text
    parent.press_data(summary)
    parent.replies = checked(flow.start(parent.state, NOW))
    parent.press("Start")
    assert "earlier checklist" in parent.press_data(summary)[0].text


def test_start_a_new_checklist_from_the_results(flow: ScreenFlow) -> None:
    parent = complete(flow)
    run = parent.state[KEY]["run"]
    parent.press("Start a new checklist")
    assert "How old is your child?" in parent.text
    assert parent.state[KEY]["run"] != run and parent.state[KEY]["done"] is None


@pytest.mark.parametrize("args", [
    (), ("x",), ("{run}",), ("{run}", "q.hands"), ("zzzzzz", "q.hands", "a", "often"),
    ("{run}", "q.hands", "a", "bogus"), ("{run}", "q.hands", "a"), ("{run}", "q.hands", "zz"),
    ("{run}", "q.hands", "a", "often", "extra"), ("{run}", "q.hands", "f", "y"),
    ("{run}", "q.hands", "g", "3-5"), ("{run}", "q.hands", "e", "hands"),
    ("{run}", "q.hands", "k", "x"), ("{run}", "q.hands", "b", "x"),
    ("{run}", "q.hands", "s"), ("{run}", "q.hands", "r"), ("{run}", "q.hands", "l", "y"),
])
def test_tampered_button_data_gets_the_out_of_date_reply(flow: ScreenFlow, args: tuple) -> None:
    parent = Parent(flow).start().press("Start", "3 to 5 years")
    before = json.dumps(parent.state)
    run = parent.state[KEY]["run"]
    replies = checked(flow.press(tuple(a.format(run=run) for a in args), parent.state, NOW))
    assert "earlier checklist" in replies[0].text
    assert json.dumps(parent.state) == before


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=6), st.sampled_from([0, 1, 2, 3]))
def test_no_button_data_raises(kb: KnowledgeBase, args: list[str], use_run: int) -> None:
    flow = ScreenFlow(kb)
    parent = Parent(flow).start().press("Start", "3 to 5 years", "Often")
    if use_run and args:
        args[0] = parent.state[KEY]["run"]
    if use_run > 1 and len(args) > 1:
        args[1] = parent.state[KEY]["at"]
    checked(flow.press(tuple(args), parent.state, NOW))
    json.dumps(parent.state)


@pytest.mark.parametrize("garbage", [
    "junk", [], {}, {"run": 1}, {"run": "a", "at": "q.hands", "touched": "x", "band": None,
                                  "answers": {"hands": "often"}, "lost": None, "review": False,
                                  "done": None},
])
def test_a_garbled_state_is_treated_as_no_checklist(flow: ScreenFlow, garbage: object) -> None:
    state = {KEY: garbage}
    assert not flow.is_open(state) and flow.resume(state) is None
    assert "earlier checklist" in checked(flow.press(("a", "q.hands", "a", "often"), state,
                                                     NOW))[0].text
    flow.expire(state, NOW)
    assert KEY not in state
    assert "Signs checklist" in checked(flow.start(state, NOW))[0].text


def test_a_state_from_an_older_screen_yaml_is_repaired(flow: ScreenFlow) -> None:
    parent = Parent(flow).start().press("Start", "3 to 5 years", RARELY)
    parent.state[KEY]["answers"]["gone"] = {"a": "often"}
    parent.state[KEY]["answers"]["textures"] = {"a": "a-removed-option"}
    parent.state[KEY]["at"] = "q.gone"
    parent.state[KEY]["band"] = "old-band"
    parent.replies = checked([flow.resume(parent.state)])
    parent.press("Continue the checklist")
    assert "Question 1 of 8" in parent.text and "✓ Rarely or never" in parent.labels()
    parent.press(RARELY)
    assert set(parent.state[KEY]["answers"]) == {"hands"}
    assert parent.state[KEY]["band"] is None


def test_many_parents_never_share_anything(flow: ScreenFlow) -> None:
    options = ["Often", "Sometimes", RARELY, "Not sure"]
    parents = [Parent(flow).start().press("Start", "3 to 5 years") for _ in range(12)]
    for step in range(3):
        for index, parent in enumerate(parents):
            option = options[(index + step) % 4]
            parent.press(option)
            if option in ("Often", "Sometimes"):
                parent.press("Yes" if index % 2 else "No", "No")
    items = ["hands", "textures", "meltdowns"]
    for index, parent in enumerate(parents):
        given = parent.state[KEY]["answers"]
        assert [given[i]["a"] for i in items] == [
            ["often", "sometimes", "rarely", "unsure"][(index + step) % 4] for step in range(3)]
    assert len({parent.state[KEY]["run"] for parent in parents}) == len(parents)
    # A button of one parent pressed on another's state does nothing there.
    first, second = parents[0], parents[1]
    before = json.dumps(second.state)
    callback = decode(first.data("Often"))
    assert "earlier checklist" in flow.press(callback.args, second.state, NOW)[0].text
    assert json.dumps(second.state) == before


def test_the_state_keeps_only_ids_answers_and_timestamps(flow: ScreenFlow) -> None:
    parent = complete(flow, answers=(("Often", "Yes", "No"), *[RARELY] * 7))
    kept = parent.state[KEY]
    assert set(kept) == {"run", "at", "touched", "band", "answers", "lost", "review", "done"}
    assert len(json.dumps(kept)) < 600
    assert datetime.fromisoformat(kept["done"]) == NOW


def summary_of(parent: Parent) -> list[Reply]:
    return parent.press_data(parent.data("Summary for the doctor"))


def test_the_summary_for_the_doctor(flow: ScreenFlow) -> None:
    parent = complete(flow, band="6 to 8 years", answers=(
        ("Often", "Yes", "Yes"), RARELY, "Not sure", "Skip", RARELY, RARELY,
        ("Sometimes", "No", "Not sure"), RARELY), lost="No")
    message, file = summary_of(parent)
    text = visible_text(message.text)
    assert not message.edit and message.document is None
    assert "Date: 2026-03-01" in text and "Child's age: 6 to 8 years" in text
    assert ("1. Using their hands: Often; Gets in the way of everyday life: yes; "
            "Parent is worried: yes") in text
    assert "3. Noise, light and busy places: Not sure" in text
    assert "4. Drawing and writing: Skipped" in text
    assert "7. Talking and social skills: Sometimes; Gets in the way of everyday life: no; " \
           "Parent is worried: not sure" in text
    assert "Lost a skill: No" in text
    areas = text.split("Areas to discuss")[1].split("Questions to ask")[0]
    assert "Self-care: worth discussing" in areas and "Gross motor" not in areas
    assert "hearing" in text.split("Questions to ask")[1]
    assert "not a diagnosis" in text.splitlines()[-1]
    assert file.document is not None and file.text
    assert file.document.filename == "ot-checklist-2026-03-01.pdf"
    pdf = file.document.content
    assert pdf.startswith(b"%PDF")
    for words in (b"Using their hands: Often", b"Date: 2026-03-01", b"Self-care",
                  b"not a diagnosis"):
        assert words in pdf


def test_the_summary_falls_back_to_text_without_fpdf2(flow: ScreenFlow,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    parent = complete(flow, answers=(("Often", "Yes", "Yes"), *[RARELY] * 7))
    monkeypatch.setitem(sys.modules, "fpdf", None)  # makes `import fpdf` fail
    document = summary_of(parent)[-1].document
    assert document is not None and document.filename.endswith(".txt")
    content = document.content.decode("utf-8")
    assert "1. Using their hands: Often" in content
    assert "<b>" not in content and "- Self-care: worth discussing" in content


def test_the_pdf_replaces_what_a_core_font_cannot_show(flow: ScreenFlow, screen: Screen,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fancy = dataclasses.replace(screen, summary={**screen.summary,
                                                 "intro": "“Quotes” — dash… ✓ 日本 café"})
    monkeypatch.setattr(flow, "screen", fancy)
    parent = complete(flow)
    pdf = summary_of(parent)[-1].document.content
    assert b'"Quotes" - dash... * ?? caf\xe9' in pdf


def test_expire_after_the_retention_period(flow: ScreenFlow) -> None:
    assert flow.retention == timedelta(days=30)
    finished = complete(flow)
    flow.expire(finished.state, NOW + timedelta(days=29))
    assert KEY in finished.state
    flow.expire(finished.state, NOW + timedelta(days=31))
    assert KEY not in finished.state
    idle = Parent(flow).start().press("Start", "3 to 5 years")
    flow.expire(idle.state, NOW + timedelta(days=29))
    assert KEY in idle.state
    flow.expire(idle.state, NOW + timedelta(days=30, seconds=1))
    assert KEY not in idle.state
    naive = Parent(flow, now=NOW.replace(tzinfo=None)).start()
    flow.expire(naive.state, NOW + timedelta(days=31))
    assert KEY not in naive.state
    empty: dict = {}
    flow.expire(empty, NOW)
    assert empty == {}


def test_a_shorter_retention_is_honoured_and_announced(kb: KnowledgeBase) -> None:
    flow = ScreenFlow(kb, timedelta(days=7))
    parent = Parent(flow).start()
    assert "7 days" in parent.text
    flow.expire(parent.state, NOW + timedelta(days=8))
    assert KEY not in parent.state


def test_a_press_keeps_an_open_checklist_alive(flow: ScreenFlow) -> None:
    parent = Parent(flow).start().press("Start")
    parent.now = NOW + timedelta(days=20)
    parent.press("3 to 5 years")
    flow.expire(parent.state, NOW + timedelta(days=40))
    assert KEY in parent.state


def test_every_message_of_a_long_run_fits_telegram(flow: ScreenFlow, screen: Screen) -> None:
    for band in screen.bands:
        parent = Parent(flow).start().press("Start", band.label)
        while "One last question" not in parent.text:
            parent.press("Often", "Yes", "Yes")
        parent.press("Not sure", "See my results")
        assert len(parent.replies) == 1  # the worst case still fits in one message
        details(parent)
        checked(summary_of(parent))
