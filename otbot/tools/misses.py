"""`otbot misses`: the unanswered questions asked most often, similar wordings grouped."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from otbot.config import data_folder
from otbot.store import SqliteStore
from otbot.understanding.grouping import MissGroup
from otbot.understanding.matcher import Matcher

DATABASE = "otbot.sqlite3"
def database_path(data_dir: str | None) -> Path:
    """The bot's database: in --data, else $OTBOT_DATA_DIR, else ./data."""
    return data_folder(data_dir) / DATABASE


def read_misses(path: Path) -> list[tuple[str, str]] | None:
    """Every stored miss as (normalised text, day), or None if there is no database."""
    if not path.is_file():  # opening would create an empty database where none belongs
        return None
    store = SqliteStore(path)
    try:
        return store.misses()
    finally:
        store.close()


def with_nearest(groups: Iterable[MissGroup], matcher: Matcher) -> list[MissGroup]:
    """Each group with the existing entry its main wording comes closest to."""
    result = []
    for group in groups:
        best = matcher.rank(group.wording).candidates[0]
        result.append(dataclasses.replace(group, nearest=best if best.score > 0 else None))
    return result


def as_json(groups: list[MissGroup], total: int) -> dict[str, Any]:
    """The report for machines."""
    return {"total": total, "groups": [
        {"count": g.count, "wording": g.wording, "others": list(g.others), "first": g.first,
         "last": g.last,
         "nearest": {"id": g.nearest.topic, "score": g.nearest.score,
                     "coverage": g.nearest.coverage} if g.nearest else None}
        for g in groups]}


def as_text(groups: list[MissGroup], total: int, shown_of: int) -> str:
    """The report for maintainers: a block per group, most asked first."""
    lines = [f"{total} unanswered question(s) in {shown_of} group(s); the {len(groups)} most "
             "asked:"]
    for g in groups:
        lines += ["", f"{g.count:>4}  {g.wording}"]
        if g.others:
            lines.append("      also: " + " | ".join(g.others))
        seen = g.first if g.first == g.last else f"{g.first} to {g.last}"
        # Coverage, not the score, says how much of the question that entry speaks to: the
        # score is relative to the best match, so even a poor best match scores high.
        nearest = (f"{g.nearest.topic} (covers {g.nearest.coverage:.0%} of the question)"
                   if g.nearest else "none")
        lines.append(f"      seen {seen}; nearest entry: {nearest}")
    return "\n".join(lines)
