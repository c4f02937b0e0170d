"""The learnt urgent model beside the rules: what it adds, how it is made, how a bad file reads."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from paths import ROOT

from otbot.cli import main
from otbot.kb import KnowledgeBase, load_knowledge, read_knowledge
from otbot.kb.loader import URGENT_MODEL
from otbot.tools.training import fingerprint
from otbot.understanding.urgent import UrgentDetector

# What the shipped model was learnt from (README "Emergencies"); never eval/safety.yaml.
TRAINED_ON = sorted([*ROOT.glob("eval/safety-dev*.yaml"), *ROOT.glob("eval/dev*.yaml"),
                     *ROOT.glob("eval/followups-dev*.yaml")])
SAFETY = """\
items:
- {q: "she drank the blue stuff from under the sink", kind: poisoning}
- {q: "he swallowed the whole bottle of cough syrup", kind: poisoning}
- {q: "my son loves the blue paint at nursery", kind: calm}
"""


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


@pytest.mark.parametrize("text", ["what time does the OT clinic open",
                                  "my son loves jumping in the pool", "and private?",
                                  "do you keep my messages?",
                                  "my daughter bumped her head last week and is fine",
                                  "my nan needs grab rails after her hip operation"])
def test_everyday_messages_stay_calm(detector: UrgentDetector, text: str) -> None:
    assert not detector.detect(text)


def test_the_shipped_model_is_learnt_from_the_files_it_names(shipped_kb: KnowledgeBase) -> None:
    # A tuning file changed without `otbot kb train-urgent` (README) fails here.
    assert shipped_kb.urgent.model is not None
    assert shipped_kb.urgent.model.trained_on == fingerprint(TRAINED_ON)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the shipped knowledge folder, without its model."""
    copy = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", copy)
    (copy / URGENT_MODEL).unlink()
    return copy


def test_a_folder_without_a_model_keeps_the_rules(folder: Path) -> None:
    kb = load_knowledge(folder)
    assert kb.urgent.model is None
    assert UrgentDetector(kb.urgent).detect("my son is not breathing")


def test_a_maintainer_trains_and_checks_the_model(folder: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    examples = tmp_path / "safety.yaml"
    examples.write_text(SAFETY, encoding="utf-8")
    assert main(["kb", "train-urgent", "--knowledge", str(folder), str(examples)]) == 0
    assert "urgent-model.npz: learnt from 1 file(s)" in capsys.readouterr().out
    model = load_knowledge(folder).urgent.model
    assert model is not None and model.trained_on == fingerprint([examples])
    assert main(["kb", "check", "--knowledge", str(folder)]) == 0


def test_an_unknown_kind_is_refused(folder: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    examples = tmp_path / "safety.yaml"
    examples.write_text(SAFETY.replace("kind: poisoning", "kind: sunburn", 1), encoding="utf-8")
    assert main(["kb", "train-urgent", "--knowledge", str(folder), str(examples)]) == 1
    assert "kinds not in urgent.yaml: sunburn" in capsys.readouterr().err
    assert not (folder / URGENT_MODEL).exists()


def test_a_broken_model_file_is_named(folder: Path) -> None:
    (folder / URGENT_MODEL).write_bytes(b"not a zip file")
    kb, problems = read_knowledge(folder)
    assert kb is None
    assert [str(p).split(" (")[0] for p in problems] == [
        f"knowledge/{URGENT_MODEL}:1: cannot read the learnt urgent model"]
    assert "otbot kb train-urgent" in str(problems[0])
