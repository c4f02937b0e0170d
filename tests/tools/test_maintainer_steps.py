"""The maintainer's steps of knowledge/README.md on a copy of the repository: edits take effect;
imported entries are drafts that parents never see; reviews name a reviewer."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from paths import ROOT

from otbot.cli import main
from otbot.kb import read_knowledge
from otbot.tools import importer
from otbot.tools.checks import check_folder
from otbot.understanding.matcher import Matcher

MARK = "wobbleboards"  # a word no shipped entry uses


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repository's knowledge/ and eval/, as the current folder."""
    for name in ("knowledge", "eval"):
        shutil.copytree(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OTBOT_KNOWLEDGE_DIR", raising=False)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code: object = main(list(argv))
    except SystemExit as exited:
        code = exited.code
    out, err = capsys.readouterr()
    assert isinstance(code, int)
    return code, out, err


def edit_an_entry(clone: Path) -> None:
    """The README's example: add an alternate in parents' words to an existing entry."""
    path = clone / "knowledge" / "faq" / "about.yaml"
    text = path.read_text(encoding="utf-8")
    assert "  alternates:\n" in text
    path.write_text(text.replace("  alternates:\n", f"  alternates:\n    - {MARK}\n", 1),
                    encoding="utf-8")


def test_an_edit_in_the_clone_is_seen_by_ask_check_and_eval(
        clone: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit_an_entry(clone)
    code, out, err = run(capsys, "ask", "--json", MARK)
    assert code == 0
    assert err.splitlines()[0] == f"otbot: knowledge folder {clone / 'knowledge'}"
    assert json.loads(out)["topic"] == "about-bot"

    code, out, err = run(capsys, "kb", "check")
    assert code == 0, out
    assert err.splitlines()[0] == f"otbot: knowledge folder {clone / 'knowledge'}"

    (clone / "eval" / "mine.yaml").write_text(
        f"items:\n  - q: {MARK}\n    expect: about-bot\n", encoding="utf-8")
    code, out, err = run(capsys, "eval", "eval/mine.yaml", "--json")
    assert code == 0
    assert json.loads(out)["items"][0]["topic"] == "about-bot"


def test_a_broken_edit_in_the_clone_is_reported_by_every_command(
        clone: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = clone / "knowledge" / "faq" / "about.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("- id: about-bot", "- id: About",
                                                             1), encoding="utf-8")
    for argv in (["ask", "hi"], ["kb", "check"], ["eval", "eval/dev.yaml"]):
        code, out, err = run(capsys, *argv)
        assert code == 1
        assert "knowledge/faq/about.yaml:1: 'id' must be" in out + err


# --- drafts ------------------------------------------------------------------------------------

CSV = f"question,answer,alternates\nAre {MARK} good for balance?,They can be.,{MARK} balance\n"


def test_import_writes_drafts_into_the_local_folder_and_parents_never_see_them(
        clone: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (clone / "faq.csv").write_text(CSV, encoding="utf-8")
    code, out, err = run(capsys, "kb", "import", "faq.csv")
    assert code == 0, err
    assert err.splitlines()[0] == "otbot: knowledge folder knowledge"
    written = clone / "knowledge" / "faq" / "imported.yaml"
    assert "draft: true" in written.read_text(encoding="utf-8")
    umask = os.umask(0)
    os.umask(umask)
    assert written.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600
    assert "drafts" in out

    kb, _ = read_knowledge(clone / "knowledge")
    assert kb is not None
    draft = f"are-{MARK}-good-for-balance"
    assert draft in kb.drafts and draft not in kb.entries
    assert all(draft not in theme.entry_ids for theme in kb.themes)
    decision = Matcher(kb).decide(f"are {MARK} good for balance")
    assert draft not in [c.topic for c in decision.candidates]

    code, out, err = run(capsys, "kb", "check")
    assert code == 0
    assert (f"knowledge/faq/imported.yaml:6: note: '{draft}' is a draft: parents never see it; "
            "after review, remove 'draft: true' to publish it") in out.splitlines()
    assert "1 draft(s)" in err

    # Published by removing the mark after review: now parents get it.
    written.write_text(written.read_text(encoding="utf-8").replace("  draft: true\n", ""),
                       encoding="utf-8")
    kb, _ = read_knowledge(clone / "knowledge")
    assert kb is not None and draft in kb.entries
    assert Matcher(kb).decide(f"are {MARK} good for balance").topic == draft


def test_import_creates_the_local_folder_when_there_is_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OTBOT_KNOWLEDGE_DIR", raising=False)
    (tmp_path / "faq.csv").write_text(CSV, encoding="utf-8")
    code, _, err = run(capsys, "kb", "import", "faq.csv")
    assert code == 0
    assert "knowledge did not exist: it is now a copy of the shipped knowledge base" in err
    assert (tmp_path / "knowledge" / "faq" / "imported.yaml").is_file()
    # Whole: the shipped entries, published, and the new draft; commands here read it.
    code, out, err = run(capsys, "kb", "check")
    assert code == 0, out
    assert err.splitlines()[0] == f"otbot: knowledge folder {tmp_path / 'knowledge'}"
    kb, _ = read_knowledge(tmp_path / "knowledge")
    assert kb is not None and "about-bot" in kb.entries
    assert list(kb.drafts) == [f"are-{MARK}-good-for-balance"]


def test_import_refuses_to_write_into_the_installed_package(
        clone: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    package = clone / "site-packages" / "otbot"
    (package / "knowledge" / "faq").mkdir(parents=True)
    monkeypatch.setattr(importer, "installed_package", lambda: package)
    (clone / "faq.csv").write_text(CSV, encoding="utf-8")
    code, _, err = run(capsys, "kb", "import", "faq.csv", "--knowledge",
                       str(package / "knowledge"))
    assert code == 1
    assert "inside the installed otbot package" in err
    assert list((package / "knowledge" / "faq").iterdir()) == []


def test_a_link_to_a_draft_is_an_error(clone: Path) -> None:
    (clone / "knowledge" / "faq" / "new.yaml").write_text(
        "- id: new-topic\n  question: New?\n  alternates: [new]\n  answer: New.\n"
        "  draft: true\n"
        "- id: old-topic\n  question: Old?\n  alternates: [old]\n  answer: Old.\n"
        "  related: [new-topic]\n", encoding="utf-8")
    errors = [str(p) for p in check_folder(clone / "knowledge") if p.level == "error"]
    assert errors == [
        "knowledge/faq/new.yaml:6: 'old-topic' is related to 'new-topic': 'new-topic' is a "
        "draft, which parents never see: publish it (remove 'draft: true' after review) or link "
        "to another entry"]


def test_draft_must_be_true_or_false(clone: Path) -> None:
    (clone / "knowledge" / "faq" / "new.yaml").write_text(
        "- id: new-topic\n  question: New?\n  alternates: [new]\n  answer: New.\n"
        "  draft: yes please\n", encoding="utf-8")
    assert [str(p) for p in check_folder(clone / "knowledge") if p.level == "error"] == [
        "knowledge/faq/new.yaml:5: 'draft' must be true or false"]


# --- reviews -----------------------------------------------------------------------------------

ENTRY = "- id: new-topic\n  question: New?\n  alternates: [new]\n  answer: New.\n"


def test_unreviewed_lists_entries_without_a_date_and_a_reviewer(
        clone: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (clone / "knowledge" / "faq" / "new.yaml").write_text(
        ENTRY + "  reviewed: 2026-01-31\n  reviewed_by: paediatric occupational therapist\n"
        + ENTRY.replace("new-topic", "other-topic").replace("[new]", "[other]"),
        encoding="utf-8")
    code, out, _ = run(capsys, "kb", "check", "--unreviewed")
    assert code == 0
    notes = [line for line in out.splitlines() if "faq/new.yaml" in line and "note:" in line]
    assert notes == ["knowledge/faq/new.yaml:7: note: 'other-topic' is not reviewed: once a "
                     "therapist has checked the answer, add reviewed: DATE and reviewed_by: ROLE"]
    kb, _ = read_knowledge(clone / "knowledge")
    assert kb is not None
    assert kb.entries["new-topic"].reviewed_by == "paediatric occupational therapist"


def test_a_reviewer_without_a_date_is_a_warning(clone: Path) -> None:
    (clone / "knowledge" / "faq" / "new.yaml").write_text(
        ENTRY + "  reviewed_by: paediatric occupational therapist\n", encoding="utf-8")
    assert "knowledge/faq/new.yaml:5: warning: 'reviewed_by' without 'reviewed': add the date " \
           "of the review, like reviewed: 2026-01-31" in map(str, check_folder(
               clone / "knowledge"))


def test_chat_in_the_clone_answers_from_the_edit(
        clone: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from otbot.kb import load_knowledge
    from otbot.kb.markup import visible_text

    edit_an_entry(clone)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{MARK}\n"))
    code, out, err = run(capsys, "chat")
    assert code == 0
    assert err.splitlines()[0] == f"otbot: knowledge folder {clone / 'knowledge'}"
    answer = visible_text(load_knowledge(clone / "knowledge").entries["about-bot"].answer)
    assert answer.splitlines()[0] in out


@pytest.mark.parametrize("argv", [
    ["ask", "hi"], ["kb", "check"], ["eval", "eval/dev.yaml", "--no-sweep"], ["chat"],
    ["misses", "--data", "nowhere"], ["health"],
    ["report", "--no-eval", "--data", "nowhere", "-o", "page.html"],
    ["kb", "import", "faq.csv"]])
def test_every_maintainers_command_says_its_folder_first(
        clone: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        argv: list[str]) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.setenv("OTBOT_DATA_DIR", str(clone / "data"))
    (clone / "faq.csv").write_text(CSV, encoding="utf-8")
    _, _, err = run(capsys, *argv)
    assert err.splitlines()[0] in (f"otbot: knowledge folder {clone / 'knowledge'}",
                                   "otbot: knowledge folder knowledge")
