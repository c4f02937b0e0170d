"""The checklist by age band: questions and examples, what is left out, next steps, tiers."""

from __future__ import annotations

import re

import pytest
from test_screen import RARELY, Parent, answer, checked, details, summary_of

from otbot.dialog.checklist import ScreenFlow
from otbot.kb import KnowledgeBase, default_dir, load_knowledge
from otbot.kb.markup import utf16_length, visible_text
from otbot.kb.screen import LABEL_WORDS

KB = load_knowledge(default_dir())
SCREEN = KB.screen
BANDS = [band.id for band in SCREEN.bands]
# Each band's ages in months, lowest and highest.
MONTHS = {"under-1": (0, 12), "1-2": (12, 24), "2-3": (24, 36), "3-5": (36, 72),
          "6-8": (72, 108), "9-12": (108, 156), "13-up": (156, 240)}
YOUNG, SCHOOL = {"under-1", "1-2", "2-3"}, {"6-8", "9-12", "13-up"}
# The first band at which most children have a skill (CDC milestones; AAP and NHS for the
# toilet): an example for a younger band may not expect it.
SKILLS = {"scribbl": "1-2", "crayon": "1-2", "spoon": "1-2", "word": "1-2", "walk": "1-2",
          "fork": "3-5", "button": "3-5", "zipper": "6-8", "toilet": "3-5", "hop": "3-5",
          "catch": "3-5", "circle": "3-5", "letters": "6-8", "writ": "6-8", "knife": "6-8",
          "laces": "6-8", "bike": "6-8", "homework": "9-12"}
TEEN_UNFIT = ("toddler", "crayon", "preschool", "nappies", "diaper", "sofa", "picture book")


def label(band: str) -> str:
    found = SCREEN.band(band)
    assert found is not None
    return found.label


@pytest.fixture
def flow(kb: KnowledgeBase) -> ScreenFlow:
    return ScreenFlow(kb)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KB


def asked(band: str) -> list[str]:
    return [item.id for item in SCREEN.items if item.expected(band)]


def worded(band: str) -> list[tuple[str, str]]:
    """(item, text) of every question and example a parent of this band can be shown."""
    return [(item.id, visible_text(text)) for item in SCREEN.items if item.expected(band)
            for text in (item.example(band), item.question_for(band))]


def test_the_bands_are_the_ones_parents_think_in() -> None:
    assert BANDS == ["under-1", "1-2", "2-3", "3-5", "6-8", "9-12", "13-up"]
    assert [b.label for b in SCREEN.bands] == [
        "Under 12 months", "1 to 2 years", "2 to 3 years", "3 to 5 years", "6 to 8 years",
        "9 to 12 years", "13 or older"]


@pytest.mark.parametrize("band", BANDS)
def test_every_question_asked_has_an_example_written_for_the_band(band: str) -> None:
    for item in SCREEN.items:
        if item.expected(band):
            assert band in item.examples, (item.id, band)
            assert item.examples[band] != item.examples["default"]


def test_teenagers_get_examples_of_their_own() -> None:
    for item in SCREEN.items:
        example = item.examples["13-up"]
        assert example not in (item.examples["default"], item.examples.get("6-8"))
        assert not any(word in example for word in TEEN_UNFIT), (item.id, example)


def test_babies_are_asked_about_babies() -> None:
    for item_id in asked("under-1"):
        item = SCREEN.item(item_id)
        assert item is not None and "baby" in item.question_for("under-1"), item_id


@pytest.mark.parametrize("band", BANDS)
def test_an_age_named_in_an_example_is_an_age_of_the_band(band: str) -> None:
    low, high = MONTHS[band]
    for item, text in worded(band):
        for number, months in re.findall(r"\b(?:by|after|at|around) (?:about |around )?(\d+)"
                                         r"( months)?", text):
            age = int(number) * (1 if months else 12)
            assert low <= age <= high, (band, item, text)


@pytest.mark.parametrize("band", BANDS)
def test_no_example_expects_a_skill_before_most_children_have_it(band: str) -> None:
    for item, text in worded(band):
        for skill, first in SKILLS.items():
            if re.search(rf"\b{skill}", text.lower()):
                assert BANDS.index(first) <= BANDS.index(band), (band, item, skill, text)


def test_scribbling_follows_the_milestone() -> None:
    pencil = SCREEN.item("pencil")
    assert pencil is not None
    assert not pencil.expected("under-1")  # a baby is not asked about pencils
    assert "18 months" in pencil.example("1-2")  # most children scribble by about 18 months
    assert "scribbl" in pencil.example("2-3")  # not scribbling at 2 or older is worth noting


@pytest.mark.parametrize("band", BANDS)
def test_the_questions_asked_are_the_ones_expected_at_the_age(flow: ScreenFlow, band: str
                                                               ) -> None:
    parent = Parent(flow).start().press("Start", label(band))
    shown = []
    while "One last question" not in parent.text:
        item = next(i for i in SCREEN.items if i.question_for(band) in parent.text)
        assert f"of {len(asked(band))}</b>" in parent.text
        assert SCREEN.item(item.id).example(band) in parent.text  # type: ignore[union-attr]
        shown.append(item.id)
        parent.press(RARELY)
    assert shown == asked(band)
    parent.press("No")
    for number, item in enumerate(SCREEN.items, 1):
        if item.id not in shown:
            assert f"{number}. {item.title}: <i>Not yet at this age</i>" in parent.text
    parent.press("See my results")
    strengths = visible_text(details(parent)).split("What is going well")[1].split("\n\n")[0]
    for item in SCREEN.items:
        assert (item.strength in strengths) == (item.id in shown), (band, item.id)


def first_asked(band: str, reply_to: str | tuple[str, str, str]) -> tuple:
    return (reply_to, *[RARELY] * (len(asked(band)) - 1))


TIERS = {
    "clear": ("Nothing stood out", lambda band: (RARELY,) * len(asked(band)), "No"),
    "soon": ("Worth talking to a professional soon",
             lambda band: first_asked(band, ("Often", "Yes", "No")), "No"),
    "worry": ("Worth talking to a professional soon",
              lambda band: first_asked(band, ("Sometimes", "No", "Yes")), "No"),
    "watch": ("Keep an eye on it and try activities",
              lambda band: first_asked(band, ("Sometimes", "No", "No")), "No"),
    "unclear": ("Not enough answers to go on", lambda band: ("Not sure",) * len(asked(band)),
                "Not sure"),
    "prompt": ("Contact your child's doctor promptly",
               lambda band: (RARELY,) * len(asked(band)), "Yes"),
}


def finish(flow: ScreenFlow, band: str, answers: tuple, lost: str) -> Parent:
    parent = Parent(flow).start().press("Start", label(band))
    answer(parent, *answers)
    assert "One last question" in parent.text
    return parent.press(lost, "See my results")


@pytest.mark.parametrize("band", BANDS)
@pytest.mark.parametrize("case", list(TIERS))
def test_each_tier_in_each_band(flow: ScreenFlow, band: str, case: str) -> None:
    title, answers, lost = TIERS[case]
    parent = finish(flow, band, answers(band), lost)
    text = visible_text(parent.text)
    assert [t.title for t in SCREEN.tiers if t.title in text] == [title]
    assert text.index(title) < text.index("Next steps") < text.index("not a diagnosis")
    assert "standard developmental screening" in text  # every result, every age
    assert "This checklist is not a test and not a diagnosis" in text
    assert utf16_length(text) <= 1000, (band, case, utf16_length(text))
    assert LABEL_WORDS.search(text.replace("not a diagnosis", "")) is None


@pytest.mark.parametrize("band", BANDS)
def test_next_steps_fit_the_age(flow: ScreenFlow, band: str) -> None:
    parent = finish(flow, band, first_asked(band, ("Often", "Yes", "Yes")), "No")
    steps = visible_text(parent.text).split("Next steps")[1]
    assert ("early intervention" in steps.lower()) == (band in YOUNG)
    assert ("teacher" in steps.lower()) == (band in SCHOOL)
    topics = {b.data for r in parent.replies for row in r.buttons for b in row}
    assert any("early-intervention" in data for data in topics) == (band in YOUNG)


def test_the_worst_case_still_fits_one_phone_screen(flow: ScreenFlow) -> None:
    for band in BANDS:
        parent = finish(flow, band, (("Often", "Yes", "Yes"),) * len(asked(band)), "Not sure")
        assert len(parent.replies) == 1
        assert utf16_length(visible_text(parent.text)) <= 1000, band
    skipped = Parent(flow).start().press("Start", "Skip")
    answer(skipped, *(("Often", "Yes", "Yes"),) * 8)
    skipped.press("Not sure", "See my results")
    assert utf16_length(visible_text(skipped.text)) <= 1000


@pytest.mark.parametrize(("item", "check"), [
    ("speech", "hearing check"), ("pencil", "vision check"), ("clumsy", "vision check"),
    ("attention", "vision check")])
def test_hearing_and_vision_checks_where_relevant(flow: ScreenFlow, item: str, check: str
                                                  ) -> None:
    index = asked("6-8").index(item)
    answers = [RARELY] * 8
    answers[index] = ("Sometimes", "No", "No")  # type: ignore[call-overload]
    noticed = finish(flow, "6-8", tuple(answers), "No")
    assert check in noticed.text
    quiet = finish(flow, "6-8", (RARELY,) * 8, "No")
    assert "hearing check" not in quiet.text and "vision check" not in quiet.text


def test_a_new_checklist_from_the_results_leaves_the_results_in_place(flow: ScreenFlow) -> None:
    parent = finish(flow, "3-5", (RARELY,) * 8, "No")
    results = parent.text
    parent.press("Start a new checklist")
    assert all(not reply.edit for reply in parent.replies)  # a new message
    assert "How old is your child?" in parent.text and "How old" not in results
    parent.press("Skip")
    assert "Question 1 of 8" in parent.text and parent.replies[0].edit  # then it goes on


def test_the_details_come_as_a_new_message_and_can_be_opened_again(flow: ScreenFlow) -> None:
    parent = finish(flow, "9-12", first_asked("9-12", ("Often", "Yes", "No")), "No")
    first, again = details(parent), details(parent)
    assert first == again and "Things to try at home" in first


@pytest.mark.parametrize("band", BANDS)
def test_ideas_to_try_fit_the_age(flow: ScreenFlow, band: str) -> None:
    parent = finish(flow, band, (("Often", "Yes", "Yes"),) * len(asked(band)), "No")
    ideas = visible_text(details(parent)).split("Things to try at home")[1]
    if band == "under-1":
        assert "scooter" not in ideas and "play dough" not in ideas and "tummy time" in ideas
    if band == "13-up":
        assert "playdates" not in ideas and "picture chart" not in ideas


@pytest.mark.parametrize("band", [None, *BANDS])
def test_the_summary_keeps_everything(flow: ScreenFlow, band: str | None) -> None:
    parent = Parent(flow).start().press("Start", label(band) if band else "Skip")
    count = len(asked(band)) if band else 8
    answer(parent, ("Often", "Yes", "No"), "Not sure", *[RARELY] * (count - 2))
    parent.press("No", "See my results")
    results = visible_text(parent.text)
    message, file = checked(summary_of(parent))
    text = visible_text(message.text)
    assert f"Child's age: {label(band) if band else 'not given'}" in text
    tier = next(t.title for t in SCREEN.tiers if t.title in results)
    assert f"What the answers suggest: {tier}" in text
    for number, item in enumerate(SCREEN.items, 1):
        line = next(row for row in text.splitlines()
                    if row.startswith(f"{number}. {item.title}: "))
        if band and not item.expected(band):
            assert line.endswith("not expected yet at this age"), line
        else:
            assert "Skipped" not in line, line
    assert "Lost a skill: No" in text and "Areas to discuss" in text
    strengths = text.split("What is going well")[1].split("The signs and the answers")[0]
    assert "talking and getting along with others" in strengths  # answered "rarely"
    assert "Ideas the parent was given to try at home" in text
    assert "vision and hearing" in text
    assert "not a diagnosis" in text.splitlines()[-1]
    assert file.document is not None



@pytest.mark.parametrize("band", [None, *BANDS])
def test_the_longest_summary_prints_on_one_page(flow: ScreenFlow, band: str | None) -> None:
    parent = Parent(flow).start().press("Start", label(band) if band else "Skip")
    answer(parent, *(("Often", "Yes", "Yes"),) * (len(asked(band)) if band else 8))
    parent.press("Yes", "See my results")
    document = summary_of(parent)[-1].document
    assert document is not None and document.filename.endswith(".pdf")
    assert len(re.findall(rb"/Type /Page\b", document.content)) == 1
