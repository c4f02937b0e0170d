"""`otbot misses`: every way parents' questions went wrong, by kind, similar wordings grouped,
each group with its nearest entry and what a maintainer could do about it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otbot.config import data_folder
from otbot.effects import NONE_OF_THESE, MissKind
from otbot.kb import KnowledgeBase
from otbot.store import SqliteStore
from otbot.understanding.grouping import MissGroup, clusters, group_misses
from otbot.understanding.matcher import Matcher
from otbot.understanding.text import STOPWORDS, english_words, words

DATABASE = "otbot.sqlite3"
# The nearest entry covers this share of a question: the entry is right, a wording is missing.
ALTERNATE_COVERAGE = 0.6
# Below that but above this, with words the knowledge base never uses: maybe a synonym.
SYNONYM_COVERAGE = 0.3
KIND_TITLES = {
    MissKind.FALLBACK: "no answer found",
    MissKind.DECLINED: "declined on purpose (decline.yaml)",
    MissKind.CLARIFY: "\"did you mean\" offered",
    MissKind.UNHELPFUL: "answer voted 👎",
    MissKind.FOLLOWUP: "follow-up the bot could not place",
}
_DAYS = re.compile(r"^(\d{1,4})d$")


@dataclass(frozen=True)
class MissRow:
    """One stored miss: normalised text, day, kind, topic (taken or answered), offered topics."""

    text: str
    day: str
    kind: str = MissKind.FALLBACK.value
    topic: str | None = None
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class KindGroup:
    """A group of similar wordings of one kind of miss, with what to do about it."""

    kind: str
    group: MissGroup
    action: str = ""
    topics: dict[str, int] = field(default_factory=dict)  # CLARIFY: taken; UNHELPFUL: answered
    offered: tuple[str, ...] = ()  # CLARIFY: the topics offered most often


def database_path(data_dir: str | None) -> Path:
    """The bot's database: in --data, else $OTBOT_DATA_DIR, else ./data."""
    return data_folder(data_dir) / DATABASE


def since_day(text: str, today: dt.date | None = None) -> str:
    """`--since`: a day (2026-01-31) or a number of days back (30d); ValueError otherwise."""
    days = _DAYS.match(text.strip())
    if days:
        return ((today or dt.date.today()) - dt.timedelta(days=int(days.group(1)))).isoformat()
    return dt.date.fromisoformat(text.strip()).isoformat()


def read_misses(path: Path, since: str | None = None) -> list[MissRow] | None:
    """Every stored miss from day `since` on, or None if there is no database."""
    if not path.is_file():  # opening would create an empty database where none belongs
        return None
    store = SqliteStore(path)
    try:
        return [MissRow(*row) for row in store.miss_details(since)]
    finally:
        store.close()


def group_by_kind(rows: Iterable[MissRow]) -> dict[str, list[KindGroup]]:
    """Each kind's similar wordings grouped, most asked first; kinds in MissKind's order."""
    by_kind: dict[str, list[MissRow]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row)
    order = [k.value for k in MissKind] + sorted(set(by_kind) - {k.value for k in MissKind})
    return {kind: _groups(kind, by_kind[kind]) for kind in order if kind in by_kind}


def _groups(kind: str, rows: list[MissRow]) -> list[KindGroup]:
    """Greedy grouping as group_misses does it, keeping every member for the topic counts."""
    result = []
    for members in clusters(Counter(r.text for r in rows)):
        mine = [r for r in rows if r.text in members]
        [group] = group_misses((r.text, r.day) for r in mine)  # the same leader and others
        topics = Counter(r.topic or "" for r in mine) if kind in (
            MissKind.CLARIFY.value, MissKind.UNHELPFUL.value) else Counter[str]()
        offered = Counter(o for r in mine for o in r.options)
        result.append(KindGroup(kind, group, topics=dict(topics.most_common()),
                                offered=tuple(t for t, _ in offered.most_common(3))))
    return sorted(result, key=lambda g: (-g.group.count, g.group.wording))


def with_actions(groups: dict[str, list[KindGroup]], matcher: Matcher, limit: int
                 ) -> dict[str, list[KindGroup]]:
    """The `limit` most asked groups of each kind, with nearest entry and suggested action."""
    result = {}
    known = kb_words(matcher.kb)
    for kind, kind_groups in groups.items():
        shown = []
        for item in kind_groups[:limit]:
            ranked = matcher.rank(item.group.wording).candidates
            best = ranked[0] if ranked and ranked[0].score > 0 else None
            group = dataclasses.replace(item.group, nearest=best)
            shown.append(dataclasses.replace(item, group=group,
                                             action=suggest(item, group, known)))
        result[kind] = shown
    return result


def suggest(item: KindGroup, group: MissGroup, known: frozenset[str]) -> str:
    """What a maintainer could do: an alternate for entry X, a synonym, a new topic, ..."""
    nearest = group.nearest
    kind = item.kind
    if kind == MissKind.CLARIFY.value:
        taken = {t: n for t, n in item.topics.items() if t and t != NONE_OF_THESE}
        if taken:
            topic = max(taken, key=lambda t: taken[t])
            return (f"add an alternate to '{topic}': parents chose it from the offer, so "
                    "the bot should answer it directly")
        return ("none of the offered topics was taken: add alternates to the right entry, "
                "or a new topic if none fits")
    if kind == MissKind.UNHELPFUL.value:
        answered = [t for t in item.topics if t]
        topic = answered[0] if answered else (nearest.topic if nearest else "")
        return (f"review the answer of '{topic}': does it answer this question? If the "
                "question is about something else, a new topic" if topic else "a new topic")
    if kind == MissKind.DECLINED.value:
        return ("declined on purpose: if parents keep asking, give the decline a kinder reply "
                "or answer it with an entry")
    if kind == MissKind.FOLLOWUP.value:
        return ("a follow-up the bot could not place: an alternate to the topic it follows"
                + (f" (nearest: '{nearest.topic}')" if nearest else "") + ", or a new topic")
    if nearest is not None and nearest.coverage >= ALTERNATE_COVERAGE:
        return f"add an alternate to '{nearest.topic}': it covers most of the question"
    unknown = [w for w in words(group.wording)
               if w not in known and w not in STOPWORDS and len(w) > 2 and w in english_words()]
    if nearest is not None and nearest.coverage >= SYNONYM_COVERAGE and unknown:
        return (f"a synonym: if '{unknown[0]}' means a word the knowledge base uses, add it to "
                f"synonyms.yaml; else an alternate to '{nearest.topic}'")
    return "a new topic: no entry covers this question"


def kb_words(kb: KnowledgeBase) -> frozenset[str]:
    """Every word the knowledge base uses: wordings, keywords, synonyms."""
    texts = [t for e in kb.entries.values() for t in (*e.sentences(), *e.keywords)]
    texts += [t for term, variants in kb.synonyms.items() for t in (term, *variants)]
    return frozenset(w for t in texts for w in words(t))


def as_json(groups: dict[str, list[KindGroup]], total: int) -> dict[str, Any]:
    """The report for machines: {"total", "groups": [...]}, each group with its kind."""
    items = [item for kind_groups in groups.values() for item in kind_groups]
    return {"total": total, "groups": [_group_json(item) for item in items]}


def _group_json(item: KindGroup) -> dict[str, Any]:
    g = item.group
    return {"kind": item.kind, "count": g.count, "wording": g.wording, "others": list(g.others),
            "first": g.first, "last": g.last,
            "nearest": {"id": g.nearest.topic, "score": g.nearest.score,
                        "coverage": g.nearest.coverage} if g.nearest else None,
            "topics": item.topics, "offered": list(item.offered), "action": item.action}


def as_text(groups: dict[str, list[KindGroup]], total: int, counts: dict[str, tuple[int, int]]
            ) -> str:
    """The report for maintainers: a section per kind, a block per group, most asked first.

    `counts`: per kind, the questions and the groups there are (shown or not).
    """
    lines = [f"{total} question(s) that went wrong, in "
             f"{sum(c[1] for c in counts.values())} group(s)."]
    for kind, kind_groups in groups.items():
        asked, grouped = counts[kind]
        title = KIND_TITLES.get(MissKind(kind), kind) if kind in set(MissKind) else kind
        lines += ["", f"== {kind}: {title}: {asked} question(s) in {grouped} group(s); the "
                      f"{len(kind_groups)} most asked:"]
        for item in kind_groups:
            g = item.group
            lines += ["", f"{g.count:>4}  {g.wording}"]
            if g.others:
                lines.append("      also: " + " | ".join(g.others))
            seen = g.first if g.first == g.last else f"{g.first} to {g.last}"
            # Coverage, not the score, says how much of the question that entry speaks to: the
            # score is relative to the best match, so even a poor best match scores high.
            nearest = (f"{g.nearest.topic} (covers {g.nearest.coverage:.0%} of the question)"
                       if g.nearest else "none")
            lines.append(f"      seen {seen}; nearest entry: {nearest}")
            if item.offered:
                taken = ", ".join(f"{t or 'ignored'} {n}" for t, n in item.topics.items())
                lines.append(f"      offered: {', '.join(item.offered)}; taken: {taken}")
            elif item.topics:
                lines.append("      answered: " + ", ".join(
                    f"{t} {n}" for t, n in item.topics.items() if t))
            lines.append(f"      action: {item.action}")
    return "\n".join(lines)
