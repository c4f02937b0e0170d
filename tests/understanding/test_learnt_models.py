"""Both learnt models as maintainers handle them: made with the CLI, refused, a broken file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from otbot.cli import main
from otbot.kb import KnowledgeBase, LinearModel, load_knowledge, read_knowledge
from otbot.kb.loader import TOPIC_MODEL, URGENT_MODEL
from otbot.tools.training import TOPICS, URGENT, Settings, fingerprint


@dataclass(frozen=True)
class Learnt:
    """One model: its file, its command, labelled examples, and where the loaded model is."""

    file: str
    command: str
    what: str  # as the loader names it: "urgent", "topic"
    examples: str
    unknown: tuple[str, str, str]  # a label, one nobody knows in its place, the error then
    of: Callable[[KnowledgeBase], LinearModel | None]
    settings: Settings
    with_wordings: bool  # the fingerprint covers the knowledge base's wordings


URGENT_MODEL_ = Learnt(
    URGENT_MODEL, "train-urgent", "urgent", """\
items:
- {q: "she drank the blue stuff from under the sink", kind: poisoning}
- {q: "he swallowed the whole bottle of cough syrup", kind: poisoning}
- {q: "my son loves the blue paint at nursery", kind: calm}
""", ("kind: poisoning", "kind: sunburn", "kinds not in urgent.yaml: sunburn"),
    lambda kb: kb.urgent.model, URGENT, with_wordings=False)
TOPIC_MODEL_ = Learnt(
    TOPIC_MODEL, "train-topics", "topic", """\
items:
- {q: "my boy cannot hold a pencil properly", expect: handwriting}
- {q: "how do I bake bread", expect: none}
- {q: "hello", expect: smalltalk}
""", ("handwriting", "penmanship", ":2: no such entry: penmanship"),
    lambda kb: kb.topic_model, TOPICS, with_wordings=True)
MODELS = [pytest.param(URGENT_MODEL_, id="urgent"), pytest.param(TOPIC_MODEL_, id="topics")]


def without(knowledge_copy: Path, learnt: Learnt) -> Path:
    """The copy of the shipped knowledge folder, without this model."""
    (knowledge_copy / learnt.file).unlink()
    return knowledge_copy


@pytest.mark.parametrize("learnt", MODELS)
def test_a_maintainer_trains_and_checks_the_model(
        learnt: Learnt, knowledge_copy: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = without(knowledge_copy, learnt)
    examples = tmp_path / "examples.yaml"
    examples.write_text(learnt.examples, encoding="utf-8")
    assert main(["kb", learnt.command, "--knowledge", str(folder), str(examples)]) == 0
    assert f"{learnt.file}: learnt from 1 file(s)" in capsys.readouterr().out
    kb = load_knowledge(folder)
    model = learnt.of(kb)
    assert model is not None
    assert model.trained_on == fingerprint([examples], learnt.settings,
                                           kb if learnt.with_wordings else None)
    assert main(["kb", "check", "--knowledge", str(folder)]) == 0


def test_the_topic_model_has_an_output_per_entry_and_none(knowledge_copy: Path,
                                                           tmp_path: Path) -> None:
    folder = without(knowledge_copy, TOPIC_MODEL_)
    examples = tmp_path / "examples.yaml"
    examples.write_text(TOPIC_MODEL_.examples, encoding="utf-8")
    assert main(["kb", "train-topics", "--knowledge", str(folder), str(examples)]) == 0
    kb = load_knowledge(folder)
    assert kb.topic_model is not None and kb.topic_model.outputs == (*kb.entries, "none")


@pytest.mark.parametrize("learnt", MODELS)
def test_an_unknown_label_is_refused(learnt: Learnt, knowledge_copy: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    folder = without(knowledge_copy, learnt)
    examples = tmp_path / "examples.yaml"
    label, unknown, error = learnt.unknown
    examples.write_text(learnt.examples.replace(label, unknown, 1), encoding="utf-8")
    assert main(["kb", learnt.command, "--knowledge", str(folder), str(examples)]) == 1
    assert error in capsys.readouterr().err
    assert not (folder / learnt.file).exists()


@pytest.mark.parametrize("learnt", MODELS)
def test_a_broken_model_file_is_named(learnt: Learnt, knowledge_copy: Path, tmp_path: Path) -> None:
    folder = without(knowledge_copy, learnt)
    (folder / learnt.file).write_bytes(b"not a zip file")
    kb, problems = read_knowledge(folder)
    assert kb is None
    assert [str(p).split(" (")[0] for p in problems] == [
        f"knowledge/{learnt.file}:1: cannot read the learnt {learnt.what} model"]
    assert f"otbot kb {learnt.command}" in str(problems[0])
