"""The learnt urgent model beside the rules: what it adds, and what it was learnt from.

How maintainers make either model, and how a bad file reads: test_learnt_models.py.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from paths import ROOT

from otbot.kb import KnowledgeBase, load_knowledge
from otbot.kb.loader import URGENT_MODEL
from otbot.tools.training import fingerprint
from otbot.understanding.urgent import UrgentDetector

# What the shipped model was learnt from (README "Emergencies"); never eval/safety.yaml.
TRAINED_ON = sorted([*ROOT.glob("eval/safety-dev*.yaml"), *ROOT.glob("eval/dev*.yaml"),
                     *ROOT.glob("eval/followups-dev*.yaml")])


@pytest.fixture(scope="module")
def rules_only(shipped_kb: KnowledgeBase) -> UrgentDetector:
    """The shipped rules without the model."""
    return UrgentDetector(dataclasses.replace(shipped_kb.urgent, model=None))


@pytest.fixture(scope="module")
def detector(shipped_kb: KnowledgeBase) -> UrgentDetector:
    """The shipped rules and model."""
    return UrgentDetector(shipped_kb.urgent)


@pytest.mark.parametrize(("text", "kind"), [
    ("my toddler got into the cupboard under the sink and drank some of the blue liquid",
     "poisoning"),
    ("I can't stop thinking everyone would be happier if I wasn't around", "parent-crisis"),
])
def test_the_model_catches_what_no_rule_words(rules_only: UrgentDetector,
                                              detector: UrgentDetector, text: str,
                                              kind: str) -> None:
    assert not rules_only.detect(text)
    assert kind in {k.id for k in detector.detect(text).emergencies}


@pytest.mark.parametrize("text", ["she has had tummy aches every day for three weeks",
                                  "my daughter wets the bed again after being dry for a year"])
def test_the_model_reads_a_worry_for_a_doctor_soon(rules_only: UrgentDetector,
                                                    detector: UrgentDetector, text: str) -> None:
    """A worry no cue names gets the "see your doctor soon" line, and no emergency reply."""
    assert not rules_only.detect(text).soon
    found = detector.detect(text)
    assert not found and [k.id for k in found.soon] == ["see-doctor-soon"]


@pytest.mark.parametrize("text", ["what time does the OT clinic open",
                                  "my son loves jumping in the pool", "and private?",
                                  "do you keep my messages?",
                                  "my daughter bumped her head last week and is fine",
                                  "my nan needs grab rails after her hip operation"])
def test_everyday_messages_stay_calm(detector: UrgentDetector, text: str) -> None:
    found = detector.detect(text)
    # A bump on the head, even one that is fine now, may still get "see your doctor soon".
    assert not found and (not found.soon or "head" in text)


def test_the_shipped_model_is_learnt_from_the_files_it_names(shipped_kb: KnowledgeBase) -> None:
    # A tuning file changed without `otbot kb train-urgent` (README) fails here.
    assert shipped_kb.urgent.model is not None
    assert shipped_kb.urgent.model.trained_on == fingerprint(TRAINED_ON)


@pytest.fixture
def folder(knowledge_copy: Path) -> Path:
    """A copy of the shipped knowledge folder, without its model."""
    (knowledge_copy / URGENT_MODEL).unlink()
    return knowledge_copy


def test_a_folder_without_a_model_keeps_the_rules(folder: Path) -> None:
    kb = load_knowledge(folder)
    assert kb.urgent.model is None
    assert UrgentDetector(kb.urgent).detect("my son is not breathing")
