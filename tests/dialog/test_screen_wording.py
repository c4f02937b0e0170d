"""The checklist's wording: plain (about reading grade 8 or lower), never a verdict word."""

from __future__ import annotations

import re

import pytest
from test_screen import Parent, details, summary_of

from otbot.dialog.checklist import ScreenFlow
from otbot.kb import KnowledgeBase, default_dir, load_knowledge
from otbot.kb.markup import visible_text
from otbot.kb.screen import LABEL_WORDS

GRADE = 8.0


def syllables(word: str) -> int:
    """An English word's syllables, estimated: groups of vowels, less a silent ending."""
    word = word.lower().strip("'\u2019")
    if len(word) <= 3:
        return 1
    word = re.sub(r"(?:[^laeiouy]es|ed|[^laeiouy]e)$", "", word)
    word = re.sub(r"^y", "", word)
    return max(1, len(re.findall(r"[aeiouy]{1,2}", word)))


def grade(html: str) -> float:
    """The Flesch-Kincaid grade of a message, a list line or heading counting as a sentence."""
    text = visible_text(html)
    sentences = max(1, len(re.findall(r"[.!?:;]+(?:\s|$)|\n+(?<![.!?:;]\n)", text.strip())))
    words = re.findall(r"[A-Za-z][A-Za-z'\u2019-]*", text)
    count = sum(syllables(word) for word in words)
    return 0.39 * len(words) / sentences + 11.8 * count / len(words) - 15.59


def test_the_estimate_tells_plain_from_hard() -> None:
    assert grade("Does your child find it hard to hold a spoon? Ask the doctor.") < 4
    assert grade("Occupational therapists administer standardized developmental evaluations "
                 "incorporating comprehensive observational methodologies.") > 14


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge(default_dir())


def messages(kb: KnowledgeBase) -> list[tuple[str, str]]:
    """(where, text) of every message of a run in each band, worst case answers."""
    flow = ScreenFlow(kb)
    shown = []
    for band in kb.screen.bands:
        parent = Parent(flow).start()
        shown.append(("intro", parent.text))
        parent.press("Start")
        shown.append(("age", parent.text))
        parent.press(band.label)
        while "One last question" not in parent.text:
            shown.append((f"{band.id} question", parent.text))
            parent.press("Often")
            shown.append((f"{band.id} follow-up", parent.text))
            parent.press("Yes", "Yes")
        shown.append(("lost", parent.text))
        parent.press("Not sure")
        shown.append(("review", parent.text))
        parent.press("See my results")
        shown += [(f"{band.id} results", parent.text), (f"{band.id} details", details(parent))]
        shown.append((f"{band.id} summary", summary_of(parent)[0].text))
    for tier_case in ("Rarely or never", "Not sure"):
        parent = Parent(flow).start().press("Start", "3 to 5 years")
        while "One last question" not in parent.text:
            parent.press(tier_case)
        parent.press("Yes" if tier_case == "Not sure" else "No", "See my results")
        shown.append((f"results: {tier_case}", parent.text))
    return shown


def test_every_message_reads_at_grade_8_or_lower(kb: KnowledgeBase) -> None:
    hard = [(round(grade(text), 1), where) for where, text in messages(kb)
            if where != "review" and grade(text) > GRADE]  # the review is a list of titles
    assert hard == []


def test_no_message_labels_the_child(kb: KnowledgeBase) -> None:
    for where, text in messages(kb):
        plain = visible_text(text).replace("not a diagnosis", "")
        assert LABEL_WORDS.search(plain) is None, where


def test_every_result_says_what_to_do_next(kb: KnowledgeBase) -> None:
    results = [text for where, text in messages(kb) if "results" in where]
    assert len(results) == len(kb.screen.bands) + 2
    for text in results:
        assert "Next steps" in visible_text(text) and "Ask your child's doctor" in text
