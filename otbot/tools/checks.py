"""`otbot kb check`: every problem of a knowledge folder, errors and warnings."""

from __future__ import annotations

from pathlib import Path

from otbot.kb import read_knowledge
from otbot.kb.yamlfile import Problem


def check_folder(folder: Path) -> list[Problem]:
    """All problems, sorted by file and line; overlap warnings only for a folder without errors."""
    kb, problems = read_knowledge(folder)
    if kb is not None:  # the matcher needs a whole knowledge base
        from otbot.tools.overlaps import overlap_problems

        problems = [*problems, *overlap_problems(kb)]
    return sorted(problems)
