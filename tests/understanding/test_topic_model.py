"""The learnt topic model beside the ranking: what it adds, and how it goes stale.

How maintainers make either model, and how a bad file reads: test_learnt_models.py.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from paths import ROOT

from otbot.kb import KnowledgeBase, load_knowledge, read_knowledge
from otbot.kb.loader import TOPIC_MODEL
from otbot.tools.training import TOPICS, fingerprint
from otbot.understanding.matcher import Candidate, DecisionKind, Matcher, Thresholds, choose

# What the shipped model was learnt from (knowledge/README.md); never a held-out set.
TRAINED_ON = sorted(ROOT.glob("eval/dev*.yaml"))


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


@pytest.mark.parametrize(("elsewhere", "kind"), [
    (0.99, DecisionKind.FALLBACK), (0.5, DecisionKind.ANSWER), (0.0, DecisionKind.ANSWER)])
def test_a_clear_topic_is_not_answered_when_the_model_is_sure_none_is_asked(
        elsewhere: float, kind: DecisionKind) -> None:
    """Wordings can make a topic look clear for a question beside it ("a speech therapist's
    pay" and the topic on which therapist): only a near-certain "none" from the model
    withholds the answer, and then no choices are offered either (a fallback, no clarify)."""
    clear = Candidate("which-therapist", 1.0, coverage=0.8, wording=0.8)
    decision = choose((clear, Candidate("find-an-ot", 0.4, coverage=0.3)), 1.0, Thresholds(),
                      elsewhere)
    assert decision.kind is kind


def test_the_shipped_model_is_learnt_from_the_files_and_wordings(
        shipped_kb: KnowledgeBase) -> None:
    # A wording or tuning file changed without `otbot kb train-topics` fails here.
    assert shipped_kb.topic_model is not None
    assert shipped_kb.topic_model.trained_on == fingerprint(TRAINED_ON, TOPICS, shipped_kb)


@pytest.fixture
def folder(knowledge_copy: Path) -> Path:
    """A copy of the shipped knowledge folder, without its topic model."""
    (knowledge_copy / TOPIC_MODEL).unlink()
    return knowledge_copy


def test_a_folder_without_a_model_keeps_the_ranking(folder: Path) -> None:
    kb = load_knowledge(folder)
    assert kb.topic_model is None
    assert Matcher(kb).decide("does insurance cover OT").topic == "insurance"




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
