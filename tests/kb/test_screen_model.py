"""screen.yaml: the shipped one is valid, and each kind of mistake is reported at FILE:LINE."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import otbot.kb.screen as screen_model
from otbot.kb import read_knowledge
from otbot.kb.reader import Reader, default_dir
from otbot.kb.screen import Answer, Answers, read_screen

SHOWN = "knowledge/screen.yaml"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the shipped knowledge folder to break."""
    copy = tmp_path / "knowledge"
    shutil.copytree(default_dir(), copy)
    return copy


def edit(folder: Path, old: str, new: str) -> int:
    """Replace the one occurrence of `old` in screen.yaml; return the line where it starts."""
    file = folder / "screen.yaml"
    text = file.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    file.write_text(text.replace(old, new), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def line_of(folder: Path, needle: str) -> int:
    """The line of the one occurrence of `needle` in screen.yaml."""
    text = (folder / "screen.yaml").read_text(encoding="utf-8")
    assert text.count(needle) == 1, needle
    return text[: text.index(needle)].count("\n") + 1


def problems(folder: Path) -> list[str]:
    """Every problem of the folder, as FILE:LINE: message."""
    kb, found = read_knowledge(folder)
    assert kb is None or not any(p.level == "error" for p in found)
    return [str(p) for p in found]


def assert_reported(folder: Path, line: int, message: str) -> None:
    found = problems(folder)
    assert f"{SHOWN}:{line}: {message}" in found, "\n".join(found)


def test_the_shipped_screen_is_valid() -> None:
    kb, found = read_knowledge(default_dir())
    assert [str(p) for p in found if "screen.yaml" in p.path] == []
    assert kb is not None and len(kb.screen.items) == 8
    assert {area for item in kb.screen.items for area in item.areas} == {
        "fine-motor", "gross-motor", "sensory", "self-care", "social-emotional",
        "cognitive-attention"}


def test_the_item_to_area_mapping_follows_the_notes() -> None:
    kb, _ = read_knowledge(default_dir())
    assert {item.id: set(item.areas) for item in kb.screen.items} == {
        "hands": {"self-care", "fine-motor"}, "textures": {"sensory", "self-care"},
        "meltdowns": {"sensory", "social-emotional"}, "pencil": {"fine-motor"},
        "clumsy": {"gross-motor"}, "attention": {"cognitive-attention"},
        "speech": {"social-emotional"}, "routines": {"self-care"}}


def test_a_folder_without_screen_yaml_uses_the_shipped_one(folder: Path) -> None:
    (folder / "screen.yaml").unlink()
    kb, found = read_knowledge(folder)
    assert kb is not None and kb.screen is not None
    assert not [p for p in found if "screen" in p.path]


def test_no_screen_anywhere_is_an_error(folder: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (folder / "screen.yaml").unlink()
    monkeypatch.setattr(screen_model, "default_dir", lambda: tmp_path / "nowhere")
    reader = Reader(folder)
    assert read_screen(reader, {}) is None
    assert [p.message for p in reader.problems] == [
        "no checklist: add screen.yaml (copy the shipped one to start)"]


def test_yaml_syntax(folder: Path) -> None:
    line = edit(folder, "  open: You already", "  open: [You already")
    assert problems(folder) == [
        f"{SHOWN}:{line}: a list in [ ] or a mapping in {{ }} is not closed properly: check the "
        "brackets and put texts that contain commas or colons in quotes"]


def test_unknown_field(folder: Path) -> None:
    line = edit(folder, "    strength: coping with different textures",
                "    strenght: coping with different textures")
    assert_reported(folder, line, "unknown field 'strenght' in an item (did you mean 'strength'?)")


def test_missing_field(folder: Path) -> None:
    edit(folder, "    strength: moving and balancing\n", "")
    assert_reported(folder, line_of(folder, "  - id: clumsy"), "missing field 'strength'")


def test_missing_text(folder: Path) -> None:
    edit(folder, "  picked_up: Here is where you left off.\n", "")
    assert_reported(folder, line_of(folder, "  intro: |"), "missing field 'picked_up'")


def test_unknown_area_in_an_item(folder: Path) -> None:
    line = edit(folder, "    areas: [gross-motor]", "    areas: [gross-motr]")
    found = problems(folder)
    assert any(p.startswith(f"{SHOWN}:{line}: unknown area 'gross-motr' in 'areas'")
               for p in found), found


def test_unknown_area_in_areas(folder: Path) -> None:
    line = edit(folder, "  - id: gross-motor\n    name:", "  - id: big-motor\n    name:")
    assert_reported(folder, line, "unknown area 'big-motor'; known areas: fine-motor, "
                                  "gross-motor, sensory, self-care, social-emotional, "
                                  "cognitive-attention")
    assert_reported(folder, line_of(folder, "\nareas:") + 1, "missing area(s): gross-motor")


def test_an_area_no_item_touches(folder: Path) -> None:
    edit(folder, "    areas: [gross-motor]", "    areas: [fine-motor]")
    assert_reported(folder, line_of(folder, "\nitems:") + 1,
                    "no item touches the area 'gross-motor', so it can never be flagged")


def test_unknown_faq_topic(folder: Path) -> None:
    line = edit(folder, "    topic: sensory-processing", "    topic: sensory-stuff")
    assert_reported(folder, line,
                    "unknown FAQ topic 'sensory-stuff' (did you mean 'sensory-diet'?)")


def test_unknown_topic_in_a_link(folder: Path) -> None:
    line = edit(folder, "      - topic: wait-and-see", "      - topic: just-wait")
    assert_reported(folder, line, "unknown FAQ topic 'just-wait'")


def test_unknown_band_in_examples_and_not_expected(folder: Path) -> None:
    line = edit(folder, "    not_expected: [under-1]\n    areas: [fine-motor]",
                "    not_expected: [under-2]\n    areas: [fine-motor]")
    assert_reported(folder, line, "unknown age band 'under-2' in 'not_expected'; known: 1-2, "
                                  "13-up, 2-3, 3-5, 6-8, 9-12, under-1")
    line = edit(folder, "      13-up: handwriting", "      teen: handwriting")
    assert_reported(folder, line, "unknown field 'teen' in examples")


def test_every_band_where_an_item_is_asked_needs_an_example(folder: Path) -> None:
    edit(folder, "      2-3: at 2 or older, not yet scribbling", "      #2-3: at 2 or older")
    assert_reported(folder, line_of(folder, "    examples:\n      default: a very tight"),
                    "item 'pencil' has no example for the age band '2-3'")


def test_an_item_not_expected_at_any_age(folder: Path) -> None:
    line = edit(folder, "    not_expected: [under-1]\n    areas: [fine-motor]",
                "    not_expected: [under-1, 1-2, 2-3, 3-5, 6-8, 9-12, 13-up]\n"
                "    areas: [fine-motor]")
    assert_reported(folder, line, "item 'pencil' is not expected at any age, so it can never count")


def test_ids(folder: Path) -> None:
    line = edit(folder, "  - id: attention", "  - id: attention-and-focus")
    assert_reported(folder, line, "'id' must be 1-12 characters of a-z, 0-9 and '-', starting "
                                  "with a letter or digit")


def test_duplicate_id(folder: Path) -> None:
    first = line_of(folder, "  - id: clumsy")
    line = edit(folder, "  - id: attention", "  - id: clumsy")
    assert_reported(folder, line, f"duplicate id 'clumsy' (first at line {first})")


def test_reserved_item_id(folder: Path) -> None:
    line = edit(folder, "  - id: routines", "  - id: lost")
    assert_reported(folder, line, "'lost' is reserved; name the item otherwise")


def test_invalid_html(folder: Path) -> None:
    line = edit(folder, "  progress: <b>Question {n} of {total}</b>",
                "  progress: <b>Question {n} of {total}")
    assert_reported(folder, line, "'progress': <b> is never closed")
    line = edit(folder, "    tip: play dough", "    tip: <u>play</u> dough & beads,")
    assert_reported(folder, line, "'tip': a bare & must be written &amp;")


def test_unknown_placeholder(folder: Path) -> None:
    line = edit(folder, "  progress: <b>Question {n} of {total}</b>",
                "  progress: <b>Question {number} of {total}</b>")
    assert_reported(folder, line, "'progress': unknown placeholder {number} (known here: {n}, "
                                  "{total})")
    line = edit(folder, "  skipped: Skipped", "  skipped: Skipped {")
    assert_reported(folder, line, "'skipped': a brace that is not a {placeholder} must be "
                                  "doubled")


def test_labels_and_texts_within_limits(folder: Path) -> None:
    line = edit(folder, "  results: See my results", "  results: " + "See all of my results " * 3)
    assert_reported(folder, line, "'results' is 65 characters; keep it under 30")
    line = edit(folder, "  disclaimer: <i>This", "  disclaimer: <i>" + "word " * 900 + "This")
    found = [p.split(": ", 1)[1] for p in problems(folder) if p.startswith(f"{SHOWN}:{line}:")]
    assert any(p.startswith("'disclaimer' is ") and p.endswith("; keep it under 500")
               for p in found), found
    assert any(p.startswith("'disclaimer': the text is ") and p.endswith("over Telegram's 4096")
               for p in found), found


def test_verdict_words_in_labels(folder: Path) -> None:
    line = edit(folder, "    label: worth watching", "    label: at risk")
    assert_reported(folder, line, "'label': do not use 'risk' in a label; say what to do, not "
                                  "what the child has")
    line = edit(folder, "    title: Nothing stood out", "    title: Normal development")
    assert_reported(folder, line, "'title': do not use 'Normal' in a label; say what to do, "
                                  "not what the child has")


def test_sign_rule_with_an_unknown_option(folder: Path) -> None:
    line = edit(folder, "    - {answer: rarely, sign: none}", "    - {answer: rarly, sign: none}")
    # One mistake, one error: the rules are not also reported as leaving 'rarely' uncovered.
    assert problems(folder) == [
        f"{SHOWN}:{line}: unknown option 'rarly'; known: often, sometimes, rarely, unsure"]


def test_sign_rule_with_an_unknown_condition(folder: Path) -> None:
    line = edit(folder, "    - {answer: often, impact: yes, sign: strong}",
                "    - {answer: often, impakt: yes, sign: strong}")
    assert_reported(folder, line, "unknown field 'impakt' in a sign rule (did you mean 'impact'?)")


def test_every_answer_needs_a_sign(folder: Path) -> None:
    edit(folder, "    - {answer: sometimes, sign: light}\n", "")
    assert_reported(folder, line_of(folder, "  signs:"),
                    "no sign rule applies to the answer 'sometimes' (expected: yes, impact: no, "
                    "worry: yes)")


def test_a_sign_rule_that_never_applies(folder: Path) -> None:
    edit(folder, "    - {answer: often, sign: mild}\n", "")
    line = edit(folder, "    - {answer: often, impact: yes, sign: strong}\n",
                "    - {answer: often, sign: mild}\n    - {answer: often, impact: yes, "
                "sign: strong}\n")
    assert_reported(folder, line + 1, "this rule never applies: the rules above it already "
                                      "catch every answer it covers")


def test_count_rules_reference_known_results_and_marks(folder: Path) -> None:
    line = edit(folder, "    - {result: watch, marks: [mild, light]}",
                "    - {result: wach, marks: [mild, lite]}")
    found = problems(folder)
    assert f"{SHOWN}:{line}: unknown result 'wach'; known: discuss, watch, clear, young, " \
           "unanswered" \
        in found
    assert any(p.startswith(f"{SHOWN}:{line}: unknown mark 'lite' in 'marks'") for p in found)
    rules = line_of(folder, "  areas:\n    - {result")
    assert f"{SHOWN}:{rules}: no rule of 'areas' gives the result 'watch', so it can never be " \
           "reached" in found


def test_tier_rules_reference_known_tiers(folder: Path) -> None:
    line = edit(folder, "    - {tier: watch, marks: [mild, light]}",
                "    - {tier: soon, marks: [mild, light]}")
    assert_reported(folder, line_of(folder, "  tiers:\n    - {tier"),
                    "no rule of 'tiers' gives the tier 'watch', so it can never be reached")
    line = edit(folder, "    - {tier: prompt, lost_skill: yes}", "    - {tier: urgent, "
                                                                 "lost_skill: yes}")
    assert_reported(folder, line, "unknown tier 'urgent'; known: prompt, soon, watch, unclear, "
                                  "clear")


def test_the_last_rule_is_a_fallback(folder: Path) -> None:
    line = edit(folder, "    - {tier: clear}", "    - {tier: clear, marks: [none]}")
    assert_reported(folder, line, "the last rule of 'tiers' must have no conditions, so that "
                                  "every case gets a result")


def test_a_rule_after_the_fallback_never_applies(folder: Path) -> None:
    line = edit(folder, "    - {result: unanswered}",
                "    - {result: unanswered}\n    - {result: clear, marks: [none]}")
    assert_reported(folder, line + 1, "this rule never applies: a rule above it has no "
                                      "conditions")


def test_lost_skill_only_in_tier_rules_and_counts_are_numbers(folder: Path) -> None:
    line = edit(folder, "    - {result: discuss, marks: [mild], at_least: 2}",
                "    - {result: discuss, marks: [mild], at_least: two, lost_skill: yes}")
    found = problems(folder)
    assert f"{SHOWN}:{line}: 'at_least' must be a whole number, 0 or more" in found
    assert any(p.startswith(f"{SHOWN}:{line}: unknown field 'lost_skill' in a rule of 'areas'")
               for p in found)


def test_rules_are_data_a_clinician_can_change(folder: Path) -> None:
    answers = Answers("3-5", {"hands": Answer("sometimes", {"impact": "n", "worry": "n"}),
                              "textures": Answer("sometimes", {"impact": "n", "worry": "n"})})
    kb, _ = read_knowledge(folder)
    assert kb.screen.evaluate(answers).tier == "watch"
    edit(folder, "    - {tier: soon, marks: [mild], at_least: 2}",
         "    - {tier: soon, marks: [mild, light], at_least: 2}")
    kb, _ = read_knowledge(folder)
    assert kb.screen.evaluate(answers).tier == "soon"


def test_evaluate_marks_and_areas() -> None:
    kb, _ = read_knowledge(default_dir())
    screen = kb.screen
    outcome = screen.evaluate(Answers("under-1", {
        "hands": Answer("often", {"impact": "y", "worry": "n"}),
        "pencil": Answer("often", {"impact": "y", "worry": "n"}),
        "clumsy": Answer("sometimes", {"impact": "u", "worry": "y"}),
        "speech": Answer("rarely"), "attention": Answer("unsure"),
        "routines": Answer("no-such-option")}, "n"))
    # Under 12 months, handwriting, attention and routines are not expected yet: whatever
    # the answer (or none), they are "not yet", never a strength and never a gap.
    assert outcome.signs == {"hands": "strong", "textures": "skipped", "meltdowns": "skipped",
                             "pencil": "not-yet", "clumsy": "light", "attention": "not-yet",
                             "speech": "none", "routines": "not-yet"}
    assert outcome.marks["clumsy"] == {"light", "worry"}
    assert outcome.areas == {"fine-motor": "discuss", "gross-motor": "discuss",
                             "sensory": "unanswered", "self-care": "discuss",
                             "social-emotional": "clear", "cognitive-attention": "young"}
    assert outcome.tier == "soon"
    assert outcome.having(screen.rules.strengths) == ("speech",)
