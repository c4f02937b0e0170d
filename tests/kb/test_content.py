"""Every answer (and its "more" text) is short, plain and ends with a next step; none copies
the founding article."""

from __future__ import annotations

import re
import statistics

import pytest
import textstat
from paths import ROOT

from otbot.kb import KnowledgeBase
from otbot.kb.markup import visible_text
from otbot.understanding.text import words

MAX_CHARS = 900
MAX_GRADE, MAX_MEDIAN_GRADE = 8.0, 6.5
COPIED_RUN = 10  # words in a row shared with the article
# Where an answer points the parent next: a command, or whom to ask.
NEXT_STEP = re.compile(r"/screen|/topics|/help|/privacy|/forget|doctor|pediatrician|"
                       r"paediatrician|\bGP\b|health visitor|therapist|\bOT\b|teacher|school|"
                       r"nurse|call|ask|contact",
                       re.IGNORECASE)


def plain(answer: str) -> str:
    """An answer as a reader sees it, each list item a sentence of its own."""
    return visible_text(answer).replace("•", "\n")


def texts(kb: KnowledgeBase) -> dict[str, str]:
    """What parents read, by "id" for answers and "id (more)" for what "tell me more" shows."""
    shown = {e.id: plain(e.answer) for e in kb.entries.values()}
    shown.update({f"{e.id} (more)": plain(e.more) for e in kb.entries.values() if e.more})
    return shown


def test_every_answer_fits_a_phone(shipped_kb: KnowledgeBase) -> None:
    long = {k: len(t) for k, t in texts(shipped_kb).items() if len(t) > MAX_CHARS}
    assert long == {}


def test_answers_are_plain_reading(shipped_kb: KnowledgeBase) -> None:
    grades = {k: textstat.flesch_kincaid_grade(t) for k, t in texts(shipped_kb).items()}
    assert {k: g for k, g in grades.items() if g > MAX_GRADE} == {}
    assert statistics.median(grades.values()) <= MAX_MEDIAN_GRADE


def test_every_answer_ends_with_a_next_step(shipped_kb: KnowledgeBase) -> None:
    missing = [k for k, t in texts(shipped_kb).items()
               if not NEXT_STEP.search(t.strip().split("\n")[-1])]
    assert missing == []


def test_no_answer_opens_with_a_verdict(shipped_kb: KnowledgeBase) -> None:
    assert [k for k, t in texts(shipped_kb).items()
            if re.match(r"\s*(yes|no)\b\s*[.,!;:]", t, re.IGNORECASE)] == []


@pytest.fixture(scope="module")
def article_runs() -> set[tuple[str, ...]]:
    """Every run of COPIED_RUN words of the founding article."""
    text = words((ROOT / "eval" / "ot-for-children.md").read_text(encoding="utf-8"))
    return {tuple(text[i : i + COPIED_RUN]) for i in range(len(text) - COPIED_RUN + 1)}


def test_no_answer_copies_the_article(shipped_kb: KnowledgeBase,
                                      article_runs: set[tuple[str, ...]]) -> None:
    copied = []
    for key, shown in texts(shipped_kb).items():
        text = words(shown)
        copied += [(key, " ".join(text[i : i + COPIED_RUN]))
                   for i in range(len(text) - COPIED_RUN + 1)
                   if tuple(text[i : i + COPIED_RUN]) in article_runs]
    assert copied == []
