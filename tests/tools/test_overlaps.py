"""Overlap warnings of `otbot kb check`: wordings that reach another entry, look-alike entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from otbot.cli import main
from otbot.kb import KnowledgeBase, default_dir, load_knowledge
from otbot.tools.checks import check_folder
from otbot.tools.overlaps import _fault, overlap_problems, wordings
from otbot.understanding.matcher import Candidate, Decision, DecisionKind

FAQ = """\
- id: tie-shoes
  question: How can I help my child learn to tie shoelaces?
  alternates:
    - teaching a kid to tie shoes
    - shoelaces keep coming undone
  answer: Practise with <b>thick laces</b> on a shoe held in the lap.
- id: dressing
  question: How can my child learn to get dressed alone?
  alternates:
    - putting on clothes by himself
    - teaching a kid to tie shoes
  answer: Lay the clothes out in order and let your child do the last step.
- id: bedtime
  question: How do I get my child to settle at bedtime?
  alternates:
    - bedtime routine for a toddler
    - settling down at night
  answer: A calm, regular routine helps most children settle.
- id: sleep
  question: How do I get my child to settle at night?
  alternates:
    - bedtime routine ideas
    - won't sleep at night
  answer: Keep the same steps every evening.
"""
SHOWN = "knowledge/faq/a.yaml"


def faq_folder(tmp_path: Path, text: str) -> Path:
    """A knowledge folder in tmp_path whose only file is faq/a.yaml holding `text`."""
    faq = tmp_path / "knowledge" / "faq"
    faq.mkdir(parents=True)
    (faq / "a.yaml").write_text(text, encoding="utf-8")
    return tmp_path / "knowledge"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder whose only FAQ file has an alternate copied into another entry, and look-alikes."""
    return faq_folder(tmp_path, FAQ)


def test_a_copied_alternate_is_named_at_its_line_with_both_entries(folder: Path) -> None:
    found = [str(p) for p in check_folder(folder)]
    assert (f"{SHOWN}:11: warning: alternate \"teaching a kid to tie shoes\" of 'dressing' "
            "ranks 'tie-shoes' first (the bot offers a choice)") in found


def test_look_alike_entries_are_named_with_their_closest_wordings(folder: Path) -> None:
    alike = [str(p) for p in check_folder(folder) if "worded alike" in str(p)]
    assert [line.split(" (similarity ")[0] for line in alike] == [
        f"{SHOWN}:1: warning: 'tie-shoes' and 'dressing' ({SHOWN}:7) are worded alike",
        f"{SHOWN}:13: warning: 'bedtime' and 'sleep' ({SHOWN}:19) are worded alike"]
    assert alike[0].endswith('closest wordings: "teaching a kid to tie shoes" and '
                             '"teaching a kid to tie shoes"')
    assert alike[1].endswith('closest wordings: "How do I get my child to settle at bedtime?" '
                             'and "How do I get my child to settle at night?"')


def test_overlaps_are_only_warnings_and_the_rest_is_quiet(folder: Path) -> None:
    problems = check_folder(folder)
    assert {p.level for p in problems} == {"warning"}
    assert len(problems) == 3  # the three above, nothing about the entries that are fine
    assert main(["kb", "check", "--knowledge", str(folder)]) == 0


TOP = (Candidate("other", 0.9, 0.8), Candidate("own", 0.7, 0.6))


@pytest.mark.parametrize(("decision", "fault"), [
    (Decision(DecisionKind.ANSWER, "own", TOP[::-1], 0.9), ""),
    (Decision(DecisionKind.CLARIFY, None, TOP[::-1], 0.9), ""),
    (Decision(DecisionKind.ANSWER, "other", TOP, 0.9), "goes to 'other'"),
    (Decision(DecisionKind.CLARIFY, None, TOP, 0.9),
     "ranks 'other' first (the bot offers a choice)"),
    (Decision(DecisionKind.FALLBACK, None, TOP, 0.9),
     "ranks 'other' first (the bot gives no answer)"),
    (Decision(DecisionKind.FALLBACK, None, (Candidate("own", 0.0),), 0.0),
     "matches no entry: the matcher ignores all its words as too common"),
    (Decision(DecisionKind.SMALLTALK, detail="thanks"), "is taken for small talk ('thanks')"),
])
def test_each_way_a_wording_can_miss_its_entry_is_said(decision: Decision, fault: str) -> None:
    assert _fault(decision, "own") == fault


def test_question_line_and_alternate_lines_come_from_the_file(folder: Path) -> None:
    kb = load_knowledge(folder)
    lines = {(w.entry.id, w.kind, w.text): w.line for w in wordings(kb)}
    assert lines[("tie-shoes", "question", kb.entries["tie-shoes"].question)] == 2
    assert lines[("sleep", "alternate", "won't sleep at night")] == 23


def test_a_folder_with_errors_gets_no_overlap_warnings(folder: Path) -> None:
    faq = folder / "faq" / "a.yaml"
    faq.write_text(FAQ + "- id: Broken Id\n  question: q\n  alternates: []\n  answer: a\n",
                   encoding="utf-8")
    problems = check_folder(folder)
    assert any(p.level == "error" for p in problems)
    assert [p for p in problems if p.level == "warning"] == []


def test_the_shipped_knowledge_base_has_no_error_and_stable_warnings() -> None:
    first = check_folder(default_dir())
    assert [str(p) for p in first if p.level == "error"] == []
    assert [str(p) for p in check_folder(default_dir())] == [str(p) for p in first]


def test_every_wording_of_the_shipped_base_is_checked(shipped_kb: KnowledgeBase) -> None:
    all_wordings = wordings(shipped_kb)
    assert len(all_wordings) == sum(len(e.sentences()) for e in shipped_kb.entries.values())
    assert all(w.line > w.entry.line or w.kind == "question" for w in all_wordings)
    assert all(p.level == "warning" for p in overlap_problems(shipped_kb))
