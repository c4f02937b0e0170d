"""`otbot misses`: the unanswered questions asked most often, similar wordings grouped."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from otbot.matcher import Candidate, Matcher
from otbot.store import SqliteStore

DATABASE = "otbot.sqlite3"
# Two wordings are one question from this similarity (0-100) on. It is the mean of
# token_set_ratio and token_sort_ratio: token_set alone gives 100 whenever one wording's words
# are all in the other, so a short frequent miss ("ot") would swallow every question about OT.
SIMILAR = 80.0
MAX_OTHERS = 3


@dataclass(frozen=True)
class MissGroup:
    """Unanswered messages that ask the same thing, most common wording first."""

    count: int
    wording: str
    others: tuple[str, ...]  # up to MAX_OTHERS other wordings, most common first
    first: str  # day first seen, YYYY-MM-DD
    last: str
    nearest: Candidate | None = None  # the entry that comes closest, if any does


def database_path(data_dir: str | None) -> Path:
    """The bot's database: in --data, else $OTBOT_DATA_DIR, else ./data."""
    folder = data_dir or os.environ.get("OTBOT_DATA_DIR", "").strip() or "data"
    return Path(folder) / DATABASE


def read_misses(path: Path) -> list[tuple[str, str]] | None:
    """Every stored miss as (normalised text, day), or None if there is no database."""
    if not path.is_file():  # opening would create an empty database where none belongs
        return None
    store = SqliteStore(path)
    try:
        return store.misses()
    finally:
        store.close()


def group_misses(rows: Iterable[tuple[str, str]]) -> list[MissGroup]:
    """Similar wordings grouped greedily, most frequent first: each leads a group of the rest."""
    counts: Counter[str] = Counter()
    days: dict[str, list[str]] = {}
    for text, day in rows:
        counts[text] += 1
        days.setdefault(text, []).append(day)
    pending = sorted(counts, key=lambda text: (-counts[text], text))
    groups = []
    while pending:
        leader, rest = pending[0], pending[1:]
        alike = _similarity(leader, rest)
        members = [leader, *(text for text, score in zip(rest, alike, strict=True)
                             if score >= SIMILAR)]
        pending = [text for text, score in zip(rest, alike, strict=True) if score < SIMILAR]
        seen = [day for text in members for day in days[text]]
        groups.append(MissGroup(sum(counts[t] for t in members), leader,
                                tuple(members[1 : 1 + MAX_OTHERS]), min(seen), max(seen)))
    return sorted(groups, key=lambda g: (-g.count, g.wording))


def _similarity(text: str, others: list[str]) -> list[float]:
    """How alike `text` is to each of `others`, 0-100."""
    if not others:
        return []
    sets = process.cdist([text], others, scorer=fuzz.token_set_ratio)[0]
    sorts = process.cdist([text], others, scorer=fuzz.token_sort_ratio)[0]
    return [float(value) for value in (sets + sorts) / 2]


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
