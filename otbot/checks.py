"""`otbot kb check`: every problem of a knowledge folder, errors and warnings."""

from __future__ import annotations

from pathlib import Path

from otbot.knowledge import read_knowledge
from otbot.yamlfile import Problem


def check_folder(folder: Path) -> list[Problem]:
    """All problems, sorted by file and line."""
    _, problems = read_knowledge(folder)
    return sorted(problems)
