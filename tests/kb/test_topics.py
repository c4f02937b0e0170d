"""The shipped knowledge base keeps its contract: every topic answers, every answer sends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from paths import ROOT

from otbot.kb import KnowledgeBase
from otbot.kb.markup import html_problems, visible_text
from otbot.tools.evaluation import read_items
from otbot.understanding.text import normalize

CONTRACT = ROOT / "eval" / "kb-topics.yaml"
SHARED_CONTRACT = ROOT.parent / "shared" / "spec" / "kb-topics.yaml"
EVAL_SETS = (ROOT / "eval" / "dev.yaml", ROOT / "eval" / "dev-forum.yaml",
             ROOT / "eval" / "dev-forum2.yaml", ROOT / "eval" / "dev-varied.yaml",
             ROOT / "eval" / "dev-mixed.yaml", ROOT / "eval" / "dev-fresh.yaml",
             ROOT / "eval" / "dev-chat.yaml", ROOT / "eval" / "dev-new.yaml",
             ROOT / "eval" / "dev-last.yaml",
             ROOT / "eval" / "holdout.yaml")
PHONE_LENGTH = 900


def topics_of(path: Path) -> list[dict[str, Any]]:
    """The topics listed in a contract file."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))["topics"]


TOPICS = topics_of(CONTRACT)


def test_contract_copy_says_where_it_comes_from() -> None:
    """The copy starts with the line naming its origin, then the original's comments."""
    lines = CONTRACT.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ("# Copied from shared/spec/kb-topics.yaml: the contract of topic ids the "
                        "knowledge base must answer.")
    assert lines[1].startswith("# Topics the shipped knowledge base must answer")


@pytest.mark.parametrize("topic", TOPICS, ids=[t["id"] for t in TOPICS])
def test_contract_topic_is_answered_in_its_group(shipped_kb: KnowledgeBase,
                                                 topic: dict[str, Any]) -> None:
    """Each contract id is an entry, in the FAQ file of its group."""
    entry = shipped_kb.entries.get(topic["id"])
    assert entry is not None, f"no entry '{topic['id']}' (covers: {topic['covers']})"
    assert entry.theme == topic["group"], (
        f"'{entry.id}' is in faq/{entry.theme}.yaml, the contract puts it in "
        f"faq/{topic['group']}.yaml")


def test_contract_copy_matches_the_shared_spec() -> None:
    """The copy lists the same topic ids as ../shared/spec/kb-topics.yaml."""
    if not SHARED_CONTRACT.exists():
        pytest.skip(f"{SHARED_CONTRACT} is not here")
    copy = [t["id"] for t in TOPICS]
    shared = [t["id"] for t in topics_of(SHARED_CONTRACT)]
    assert sorted(copy) == sorted(shared), (
        f"only in the copy: {sorted(set(copy) - set(shared))}; "
        f"only in shared: {sorted(set(shared) - set(copy))}")
    assert len(copy) == len(set(copy)), "an id is listed twice"


def test_every_answer_is_valid_telegram_html(shipped_kb: KnowledgeBase) -> None:
    """No answer would be refused by Telegram's HTML parser."""
    bad = {e.id: html_problems(e.answer) for e in shipped_kb.entries.values()
           if html_problems(e.answer)}
    assert bad == {}


def test_every_answer_fits_a_phone_screen(shipped_kb: KnowledgeBase) -> None:
    """At most 900 visible characters per answer."""
    long = {e.id: len(visible_text(e.answer)) for e in shipped_kb.entries.values()
            if len(visible_text(e.answer)) > PHONE_LENGTH}
    assert long == {}


def test_every_related_topic_exists(shipped_kb: KnowledgeBase) -> None:
    """Each `related` id leads to an entry (a button that goes nowhere is a dead end)."""
    dangling = [(e.id, r) for e in shipped_kb.entries.values() for r in e.related
                if r not in shipped_kb.entries]
    assert dangling == []


def test_no_wording_belongs_to_two_entries(shipped_kb: KnowledgeBase) -> None:
    """No question or alternate of one entry appears (normalised) in another entry."""
    owners: dict[str, set[str]] = {}
    for entry in shipped_kb.entries.values():
        for text in (*entry.sentences(), *entry.keywords):
            owners.setdefault(normalize(text), set()).add(entry.id)
    shared = [(entry.id, sentence, sorted(owners[normalize(sentence)] - {entry.id}))
              for entry in shipped_kb.entries.values() for sentence in entry.sentences()
              if owners[normalize(sentence)] - {entry.id}]
    assert shared == []


def test_no_evaluation_sentence_is_in_the_knowledge_base(shipped_kb: KnowledgeBase) -> None:
    """Evaluation sentences never appear among questions, alternates or keywords."""
    where: dict[str, str] = {}
    for entry in shipped_kb.entries.values():
        for field, texts in (("question", (entry.question,)), ("alternate", entry.alternates),
                             ("keyword", entry.keywords)):
            for text in texts:
                where.setdefault(normalize(text), f"{entry.id} {field}")
    pasted = [f"{path.name}:{item.line}: {item.q!r} is {where[normalize(item.q)]}"
              for path in EVAL_SETS for item in read_items(path) if normalize(item.q) in where]
    assert pasted == [], "\n".join(pasted)

