"""The learnt topic model beside the ranking: what it adds, how it is made, how it goes stale."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from paths import ROOT

from otbot.cli import main
from otbot.kb import KnowledgeBase, load_knowledge, read_knowledge
from otbot.kb.loader import TOPIC_MODEL
from otbot.tools.training import TOPICS, fingerprint
from otbot.understanding.matcher import Matcher

# What the shipped model was learnt from (knowledge/README.md); never a held-out set.
TRAINED_ON = sorted(ROOT.glob("eval/dev*.yaml"))
TOPIC_SET = """\
items:
- {q: "my boy cannot hold a pencil properly", expect: handwriting}
- {q: "how do I bake bread", expect: none}
- {q: "hello", expect: smalltalk}
"""


@pytest.fixture(scope="module")
def ranking_only(shipped_kb: KnowledgeBase) -> Matcher:
    """The shipped knowledge base without its topic model."""
    return Matcher(dataclasses.replace(shipped_kb, topic_model=None))


@pytest.fixture(scope="module")
def matcher(shipped_kb: KnowledgeBase) -> Matcher:
    """The shipped knowledge base and its topic model."""
    return Matcher(shipped_kb)


@pytest.mark.parametrize(("text", "topic"), [
    ("my teenager is 15 and still cannot tie laces or use a knife and fork, is it too late",
     "teenagers"),
    ("he hates having his hair brushed and cries when his teeth get cleaned",
     "sensory-processing"),
])
def test_the_model_answers_what_the_wordings_leave_unsure(
        ranking_only: Matcher, matcher: Matcher, text: str, topic: str) -> None:
    assert (ranking_only.decide(text).kind, ranking_only.decide(text).topic) != (
        "answer", topic)
    assert (matcher.decide(text).kind, matcher.decide(text).topic) == ("answer", topic)


@pytest.mark.parametrize("text", ["asdfghjkl qwerty zxcvb", "should i buy bitcoin now or wait",
                                  "my child has some problems"])
def test_no_guess_on_gibberish_elsewhere_or_vague(matcher: Matcher, text: str) -> None:
    """Words the knowledge base does not know, or too few, get no answer from the model."""
    assert matcher.decide(text).kind != "answer"


def test_the_shipped_model_is_learnt_from_the_files_and_wordings(
        shipped_kb: KnowledgeBase) -> None:
    # A wording or tuning file changed without `otbot kb train-topics` fails here.
    assert shipped_kb.topic_model is not None
    assert shipped_kb.topic_model.trained_on == fingerprint(TRAINED_ON, TOPICS, shipped_kb)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the shipped knowledge folder, without its topic model."""
    copy = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", copy)
    (copy / TOPIC_MODEL).unlink()
    return copy


def test_a_folder_without_a_model_keeps_the_ranking(folder: Path) -> None:
    kb = load_knowledge(folder)
    assert kb.topic_model is None
    assert Matcher(kb).decide("does insurance cover OT").topic == "insurance"


def test_a_maintainer_trains_and_checks_the_model(folder: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    examples = tmp_path / "topics.yaml"
    examples.write_text(TOPIC_SET, encoding="utf-8")
    assert main(["kb", "train-topics", "--knowledge", str(folder), str(examples)]) == 0
    assert "topic-model.npz: learnt from 1 file(s)" in capsys.readouterr().out
    kb = load_knowledge(folder)
    assert kb.topic_model is not None
    assert kb.topic_model.outputs == (*kb.entries, "none")
    assert kb.topic_model.trained_on == fingerprint([examples], TOPICS, kb)
    assert main(["kb", "check", "--knowledge", str(folder)]) == 0


def test_an_unknown_topic_is_refused(folder: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    examples = tmp_path / "topics.yaml"
    examples.write_text(TOPIC_SET.replace("handwriting", "penmanship"), encoding="utf-8")
    assert main(["kb", "train-topics", "--knowledge", str(folder), str(examples)]) == 1
    assert f"{examples}:2: no such entry: penmanship" in capsys.readouterr().err
    assert not (folder / TOPIC_MODEL).exists()


def test_a_model_older_than_the_entries_is_a_warning(folder: Path) -> None:
    shutil.copy(ROOT / "knowledge" / TOPIC_MODEL, folder / TOPIC_MODEL)
    faq = folder / "faq" / "basics.yaml"
    faq.write_text(faq.read_text(encoding="utf-8") + """
- id: brand-new-topic
  question: Is this a brand new topic?
  alternates: [a brand new topic]
  answer: |
    This is a new topic. Ask your child's OT what fits your family.
  related: [what-is-ot]
  source: "general: AOTA"
""", encoding="utf-8")
    kb, problems = read_knowledge(folder)
    assert kb is not None and kb.topic_model is not None
    stale = [p for p in problems if TOPIC_MODEL in p.path]
    assert [(p.level, p.line) for p in stale] == [("warning", 1)]
    assert "not learnt: brand-new-topic" in str(stale[0])
    assert "otbot kb train-topics" in str(stale[0])


def test_a_broken_model_file_is_named(folder: Path) -> None:
    (folder / TOPIC_MODEL).write_bytes(b"not a zip file")
    kb, problems = read_knowledge(folder)
    assert kb is None
    assert [str(p).split(" (")[0] for p in problems] == [
        f"knowledge/{TOPIC_MODEL}:1: cannot read the learnt topic model"]
    assert "otbot kb train-topics" in str(problems[0])
