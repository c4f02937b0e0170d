"""`otbot kb check`: every problem of a knowledge folder, errors, warnings and notes."""

from __future__ import annotations

from pathlib import Path

from otbot.kb import Entry, KnowledgeBase, read_knowledge
from otbot.kb.yamlfile import Problem


def check_folder(folder: Path, *, unreviewed: bool = False) -> list[Problem]:
    """All problems, sorted by file and line; overlap warnings only for a folder without errors.

    Drafts are listed as notes; with `unreviewed`, so is every published entry without a
    review (a `reviewed` date and a `reviewed_by` role).
    """
    return check(folder, unreviewed=unreviewed)[1]


def check(folder: Path, *, unreviewed: bool = False
          ) -> tuple[KnowledgeBase | None, list[Problem]]:
    """The knowledge base (None on errors) and what check_folder reports."""
    kb, problems = read_knowledge(folder)
    if kb is not None:  # the matcher needs a whole knowledge base
        from otbot.tools.overlaps import common_word_problems, overlap_problems

        problems = [*problems, *overlap_problems(kb), *common_word_problems(kb),
                    *draft_notes(kb)]
        if unreviewed:
            problems += [Problem(e.path, e.line, f"'{e.id}' is not reviewed: once a therapist "
                                 "has checked the answer, add reviewed: DATE and reviewed_by: "
                                 "ROLE", "note") for e in unreviewed_entries(kb)]
    return kb, sorted(problems)


def draft_notes(kb: KnowledgeBase) -> list[Problem]:
    """A note per draft: loaded and checked, never shown to parents."""
    return [Problem(d.path, d.line, f"'{d.id}' is a draft: parents never see it; after review, "
                    "remove 'draft: true' to publish it", "note") for d in kb.drafts.values()]


def unreviewed_entries(kb: KnowledgeBase) -> list[Entry]:
    """Published entries without both a review date and who reviewed them."""
    return [e for e in kb.entries.values() if e.reviewed is None or not e.reviewed_by]
