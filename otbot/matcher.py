"""Decide what to do with a message: answer, offer choices, admit no answer, urgent, small talk."""

from __future__ import annotations

from dataclasses import dataclass

import bm25s
import numpy as np
from rapidfuzz import fuzz, process

from otbot.knowledge import KnowledgeBase
from otbot.smalltalk import SmallTalkDetector
from otbot.text import Analyzer, words
from otbot.urgent import UrgentDetector

MAX_INPUT = 2000  # characters looked at: a 20,000-character message is not 10x more question
FUZZY_POOL = 40  # entries whose wordings get the (costlier) fuzzy comparison


@dataclass(frozen=True)
class Thresholds:
    """Where scores turn into decisions; calibrated on eval/dev.yaml (see `otbot eval`)."""

    # Answer only if the best topic accounts for this share of what the message is about
    # (its words weighted by rarity) and leads the runner-up by `margin`.
    answer_coverage: float = 0.5
    margin: float = 0.06
    # Offer choices only if this share of the message is vocabulary the knowledge base
    # knows at all; below it the message is about something else ("best stroller").
    clarify_domain: float = 0.7


@dataclass(frozen=True)
class Candidate:
    """A topic, how well the message matches it (0..1), and the share of it it covers."""

    topic: str
    score: float
    coverage: float = 0.0


@dataclass(frozen=True)
class Decision:
    """What the bot should do with one message."""

    kind: str  # answer | clarify | fallback | urgent | smalltalk
    topic: str | None = None
    candidates: tuple[Candidate, ...] = ()
    score: float = 0.0
    detail: str | None = None  # the urgent rule or small-talk kind that fired
    domain: float = 0.0  # share of the message the knowledge base has words for

    @property
    def options(self) -> tuple[str, ...]:
        """The topics offered as buttons for a clarify decision (the three best)."""
        return tuple(c.topic for c in self.candidates)


@dataclass(frozen=True)
class Ranking:
    """Every topic scored for one message, best first, and how in-domain the message is."""

    candidates: list[Candidate]
    domain: float


class Matcher:
    """An index over one knowledge base, and the decision rules."""

    def __init__(self, kb: KnowledgeBase, thresholds: Thresholds | None = None) -> None:
        self.kb = kb
        self.thresholds = thresholds or Thresholds()
        self.urgent = UrgentDetector(kb.urgent)
        self.smalltalk = SmallTalkDetector(kb.smalltalk)
        self.topics = list(kb.entries)
        vocabulary = {w for e in kb.entries.values()
                      for text in (*e.sentences(), *e.keywords) for w in words(text)}
        self.analyzer = Analyzer(kb.synonyms, vocabulary)
        documents = [self._document(topic) for topic in self.topics]
        self._bm25 = bm25s.BM25()
        self._bm25.index([doc or [""] for doc in documents], show_progress=False)
        self._doc_terms = [set(doc) for doc in documents]
        self._vocabulary = set().union(*self._doc_terms)
        self._sentences: list[str] = []
        self._owner: list[int] = []
        for index, topic in enumerate(self.topics):
            for sentence in kb.entries[topic].sentences():
                self._sentences.append(" ".join(self.analyzer.terms(sentence)))
                self._owner.append(index)
        self._by_owner = _group(self._owner, len(self.topics))

    def _document(self, topic: str) -> list[str]:
        entry = self.kb.entries[topic]
        return [t for text in (*entry.sentences(), *entry.keywords)
                for t in self.analyzer.terms(text)]

    def decide(self, text: str) -> Decision:
        """The decision for one message; never raises on any text."""
        text = text[:MAX_INPUT]
        rule = self.urgent.detect(text)
        if rule is not None:
            return Decision("urgent", detail=rule.id)
        kind = self.smalltalk.detect(text)
        if kind is not None:
            return Decision("smalltalk", detail=kind.id)
        ranking = self.rank(text)
        return choose(tuple(ranking.candidates[:3]), ranking.domain, self.thresholds)

    def rank(self, text: str) -> Ranking:
        """Every topic scored for the message, best first (ties in knowledge-base order).

        The score mixes BM25 (relative to the best) and whole-string fuzzy similarity, the
        hybrid measured best in shared notes; coverage weighs words by how rare they are.
        """
        weighted = self.analyzer.weighted_terms(text[:MAX_INPUT], fix_typos=True)
        terms = [term for term, _ in weighted]
        total = sum(weight for _, weight in weighted)
        if not terms or not total:
            return Ranking([Candidate(topic, 0.0) for topic in self.topics], 0.0)
        domain = sum(w for t, w in weighted if t in self._vocabulary) / total
        bm25 = self._bm25.get_scores(terms)
        pool = _top_indices(bm25, FUZZY_POOL)
        fuzzy = self._fuzzy(" ".join(terms), pool)
        top_bm25 = float(bm25.max()) or 1.0
        scored = {
            i: Candidate(self.topics[i],
                         round(0.5 * float(bm25[i]) / top_bm25 + 0.5 * fuzzy[i], 4),
                         round(sum(w for t, w in weighted if t in self._doc_terms[i]) / total, 4))
            for i in pool
        }
        order = sorted(range(len(self.topics)),
                       key=lambda i: (-(scored[i].score if i in scored else 0.0), i))
        return Ranking([scored.get(i) or Candidate(self.topics[i], 0.0) for i in order],
                       round(domain, 4))

    def _fuzzy(self, query: str, pool: list[int]) -> dict[int, float]:
        """Best whole-string similarity (0..1) of the query to each pooled entry's wordings."""
        indices = [s for i in pool for s in self._by_owner[i]]
        if not indices:
            return {}
        choices = [self._sentences[s] for s in indices]
        sort = process.cdist([query], choices, scorer=fuzz.token_sort_ratio)[0]
        sets = process.cdist([query], choices, scorer=fuzz.token_set_ratio)[0]
        combined = (sort + sets) / 200.0
        best: dict[int, float] = {}
        for s, value in zip(indices, combined, strict=True):
            owner = self._owner[s]
            best[owner] = max(best.get(owner, 0.0), float(value))
        return best


def choose(top3: tuple[Candidate, ...], domain: float, t: Thresholds) -> Decision:
    """Answer a clear winner, offer the best three, or admit there is no answer."""
    best = top3[0] if top3 else Candidate("", 0.0)
    second = top3[1].score if len(top3) > 1 else 0.0
    if best.coverage >= t.answer_coverage and best.score - second >= t.margin:
        return Decision("answer", best.topic, top3, best.score, domain=domain)
    if domain >= t.clarify_domain and best.score > 0:
        return Decision("clarify", None, top3, best.score, domain=domain)
    return Decision("fallback", None, top3, best.score, domain=domain)


def rechoose(decision: Decision, thresholds: Thresholds) -> Decision:
    """The decision the same candidates would get under other thresholds."""
    if decision.kind in ("urgent", "smalltalk"):
        return decision
    return choose(decision.candidates, decision.domain, thresholds)


def _top_indices(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the k highest scores, in descending order, zero scores excluded."""
    part = np.argpartition(-scores, k)[:k] if len(scores) > k else np.arange(len(scores))
    part = part[scores[part] > 0]
    return [int(i) for i in part[np.argsort(-scores[part], kind="stable")]]


def _group(owner: list[int], size: int) -> list[list[int]]:
    groups: list[list[int]] = [[] for _ in range(size)]
    for sentence, topic in enumerate(owner):
        groups[topic].append(sentence)
    return groups
