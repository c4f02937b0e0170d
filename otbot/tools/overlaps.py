"""Warnings for entries the matcher confuses: wordings that reach another entry, look-alikes."""

from __future__ import annotations

import functools
import itertools
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from otbot.kb import Entry, KnowledgeBase
from otbot.kb.yamlfile import MarkedDict, MarkedList, Problem, YamlError, load_yaml
from otbot.understanding.matcher import Decision, DecisionKind, Matcher, choose
from otbot.understanding.text import Analyzer, english_words, normalize

# Two entries whose wordings share this much (TF-IDF cosine of all their stemmed words) get a
# warning. On the shipped knowledge base the pairs above it are exactly those whose own
# wordings the matcher already sends to each other; the next pairs down are not confused.
ALIKE_ENTRIES = 0.35
# A keyword or synonym variant among this many most frequent English words ("when", "find",
# "down") is in half of all messages: it pulls unrelated questions to its topic.
COMMON_WORDS = 200


@dataclass(frozen=True)
class Wording:
    """One question or alternate of an entry, and the line it is written on."""

    entry: Entry
    kind: str  # question | alternate
    text: str
    line: int

    def __str__(self) -> str:
        """As warnings name it: alternate "..." of 'id'."""
        return f'{self.kind} "{self.text}" of \'{self.entry.id}\''


def overlap_problems(kb: KnowledgeBase) -> list[Problem]:
    """Warnings for wordings the matcher sends elsewhere and for entries worded alike."""
    matcher = Matcher(kb)
    return [*misrouted(matcher, wordings(kb)), *alike_pairs(kb, matcher.analyzer)]


def wordings(kb: KnowledgeBase) -> list[Wording]:
    """Every question and alternate, with its line, in knowledge-base order."""
    files: dict[str, list[Any]] = {}
    result = []
    for entry in kb.entries.values():
        question, alternates = _lines(kb.folder, entry, files)
        result.append(Wording(entry, "question", entry.question, question))
        result.extend(Wording(entry, "alternate", text, line)
                      for text, line in zip(entry.alternates, alternates, strict=True))
    return result


def _lines(folder: Path, entry: Entry, files: dict[str, list[Any]]) -> tuple[int, list[int]]:
    """The line of the entry's question and of each alternate, from its file read again."""
    # The loaded Entry keeps only the line where it starts; warnings belong on the wording.
    if entry.path not in files:
        try:  # entry.path is shown relative to the folder's parent (or absolute)
            data = load_yaml(folder.parent / entry.path, entry.path)
        except YamlError:
            data = None
        files[entry.path] = data if isinstance(data, list) else []
    raw = next((item for item in files[entry.path]
                if isinstance(item, MarkedDict) and item.get("id") == entry.id), None)
    if raw is None:  # the file changed since it was loaded: the entry's first line will do
        return entry.line, [entry.line] * len(entry.alternates)
    items = raw.get("alternates")
    if isinstance(items, MarkedList) and len(items) == len(entry.alternates):
        return raw.line_of("question"), items.item_lines
    return raw.line_of("question"), [raw.line_of("alternates")] * len(entry.alternates)


def misrouted(matcher: Matcher, all_wordings: Sequence[Wording]) -> Iterator[Problem]:
    """A warning for each wording that, sent as a message, does not get its own entry."""
    for wording in all_wordings:
        fault = _fault(_decide(matcher, wording.text), wording.entry.id)
        if fault:
            yield Problem(wording.entry.path, wording.line, f"{wording} {fault}", "warning")


def _decide(matcher: Matcher, text: str) -> Decision:
    """Matcher.decide without the urgent rules."""
    # Those rules take two thirds of decide's time, enough to double `kb check`; and no FAQ
    # wording is meant to sound like an emergency.
    chat = matcher.small_talk(text)
    if chat is not None:
        return chat
    ranking = matcher.rank(text)
    return choose(tuple(ranking.candidates[:3]), ranking.domain, matcher.thresholds,
                  ranking.elsewhere)


def _fault(decision: Decision, own: str) -> str:
    """What goes wrong when a parent types an entry's own wording, or "" if nothing does."""
    if decision.kind is DecisionKind.SMALLTALK:
        return f"is taken for small talk ('{decision.detail}')"
    best = decision.candidates[0] if decision.candidates else None
    if best is None or best.score <= 0:
        return "matches no entry: the matcher ignores all its words as too common"
    if decision.kind is DecisionKind.ANSWER and decision.topic != own:
        return f"goes to '{decision.topic}'"
    if best.topic != own:
        outcome = "offers a choice" if decision.kind is DecisionKind.CLARIFY else "gives no answer"
        return f"ranks '{best.topic}' first (the bot {outcome})"
    return ""


def alike_pairs(kb: KnowledgeBase, analyzer: Analyzer) -> Iterator[Problem]:
    """A warning for each pair of entries whose wordings, taken together, are too alike."""
    entries = list(kb.entries.values())
    terms = [[analyzer.terms(text) for text in entry.sentences()] for entry in entries]
    idf = _idf([{t for sentence in sentences for t in sentence} for sentences in terms])
    vectors = _vectors([[t for sentence in sentences for t in sentence] for sentences in terms],
                       idf)
    similarity = vectors @ vectors.T
    for a, b in itertools.combinations(range(len(entries)), 2):
        if similarity[a, b] >= ALIKE_ENTRIES:
            first, second = _closest_wordings(entries[a], entries[b], terms[a], terms[b], idf)
            other = entries[b]
            yield Problem(entries[a].path, entries[a].line,
                          f"'{entries[a].id}' and '{other.id}' ({other.path}:{other.line}) are "
                          "worded alike "
                          f"(similarity {similarity[a, b]:.2f}), so parents may get the wrong "
                          f'one; closest wordings: "{first}" and "{second}"', "warning")


def _idf(documents: list[set[str]]) -> dict[str, float]:
    """Smoothed inverse document frequency: a word every entry uses still counts a little."""
    counts = Counter(t for document in documents for t in document)
    n = len(documents)
    return {t: math.log((1 + n) / (1 + df)) + 1 for t, df in sorted(counts.items())}


def _vectors(documents: list[list[str]], idf: dict[str, float]) -> np.ndarray:
    """One unit-length TF-IDF row per document (a row of zeros for an empty one)."""
    column = {t: i for i, t in enumerate(idf)}
    matrix = np.zeros((len(documents), len(idf)))
    for row, document in enumerate(documents):
        for term, count in Counter(document).items():
            matrix[row, column[term]] = (1 + math.log(count)) * idf[term]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def _closest_wordings(a: Entry, b: Entry, terms_a: list[list[str]], terms_b: list[list[str]],
                      idf: dict[str, float]) -> tuple[str, str]:
    """The wording of each entry that is most like one of the other's (first in file order)."""
    similarity = _vectors(terms_a, idf) @ _vectors(terms_b, idf).T
    i, j = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
    return a.sentences()[i], b.sentences()[j]


@functools.cache
def common_words() -> frozenset[str]:
    """The COMMON_WORDS most frequent words of general English."""
    frequency = english_words()
    return frozenset(sorted(frequency, key=lambda word: (-frequency[word], word))[:COMMON_WORDS])


def common_word_problems(kb: KnowledgeBase) -> list[Problem]:
    """Warnings for keywords and synonym variants that are very common words, and for
    keywords that several entries share (a keyword should point to one topic)."""
    common = common_words()
    problems = []
    owners: dict[str, list[Entry]] = {}
    files: dict[str, list[Any]] = {}
    for entry in kb.entries.values():
        line = _field_line(kb.folder, entry, "keywords", files)
        for keyword in entry.keywords:
            key = normalize(keyword)
            owners.setdefault(key, []).append(entry)
            if key in common:
                problems.append(Problem(entry.path, line, f"keyword '{keyword}' of '{entry.id}' "
                                        "is one of the most common English words: it appears in "
                                        "many unrelated questions; use a word typical of this "
                                        "topic only, or an alternate", "warning"))
    for key, entries in owners.items():
        if len({e.id for e in entries}) > 1:
            first, *others = entries
            problems.append(Problem(first.path, _field_line(kb.folder, first, "keywords", files),
                                    f"keyword '{key}' is given to several entries ('{first.id}', "
                                    + ", ".join(f"'{e.id}'" for e in others)
                                    + "): a keyword should belong to one topic; keep it where "
                                    "it fits best", "warning"))
    problems += _common_synonyms(kb, common)
    return problems


def _common_synonyms(kb: KnowledgeBase, common: frozenset[str]) -> list[Problem]:
    path = kb.folder / "synonyms.yaml"
    if not kb.synonyms or not path.is_file():
        return []
    shown = f"{kb.folder.name}/synonyms.yaml"
    try:
        data = load_yaml(path, shown)
    except YamlError:
        data = None
    problems = []
    for term, variants in kb.synonyms.items():
        line = data.line_of(term) if isinstance(data, MarkedDict) else 1
        for variant in variants:
            read = normalize(variant)
            if read in common:
                as_read = f" (read as '{read}')" if read != variant.casefold() else ""
                problems.append(Problem(shown, line, f"synonym '{variant}'{as_read} of '{term}' "
                                        "is one of "
                                        "the most common English words: every message with it "
                                        f"is read as '{term}'; use a longer phrase", "warning"))
    return problems


def _field_line(folder: Path, entry: Entry, key: str, files: dict[str, list[Any]]) -> int:
    """The line of an entry's field, from its file read again (the entry's line if gone)."""
    if entry.path not in files:
        try:
            data = load_yaml(folder.parent / entry.path, entry.path)
        except YamlError:
            data = None
        files[entry.path] = data if isinstance(data, list) else []
    raw = next((item for item in files[entry.path]
                if isinstance(item, MarkedDict) and item.get("id") == entry.id), None)
    return raw.line_of(key) if raw is not None else entry.line
