"""Group similar wordings of what parents asked, most frequent first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from otbot.understanding.matcher import Candidate

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


def group_misses(rows: Iterable[tuple[str, str]]) -> list[MissGroup]:
    """Similar wordings grouped greedily, most frequent first: each leads a group of the rest."""
    counts: Counter[str] = Counter()
    days: dict[str, list[str]] = {}
    for text, day in rows:
        counts[text] += 1
        days.setdefault(text, []).append(day)
    groups = []
    for members in clusters(counts):
        seen = [day for text in members for day in days[text]]
        groups.append(MissGroup(sum(counts[t] for t in members), members[0],
                                tuple(members[1 : 1 + MAX_OTHERS]), min(seen), max(seen)))
    return sorted(groups, key=lambda g: (-g.count, g.wording))


def clusters(counts: Counter[str]) -> list[list[str]]:
    """Wordings in groups of alike ones, greedily: the most frequent left leads each group."""
    pending = sorted(counts, key=lambda text: (-counts[text], text))
    result = []
    while pending:
        leader, rest = pending[0], pending[1:]
        alike = _similarity(leader, rest)
        result.append([leader, *(t for t, score in zip(rest, alike, strict=True)
                                 if score >= SIMILAR)])
        pending = [t for t, score in zip(rest, alike, strict=True) if score < SIMILAR]
    return result


def _similarity(text: str, others: list[str]) -> list[float]:
    """How alike `text` is to each of `others`, 0-100."""
    if not others:
        return []
    sets = process.cdist([text], others, scorer=fuzz.token_set_ratio)[0]
    sorts = process.cdist([text], others, scorer=fuzz.token_sort_ratio)[0]
    return [float(value) for value in (sets + sorts) / 2]
