"""Helpers shared by the benchmarks: paths, message variants, a BM25 baseline, tables."""

from __future__ import annotations

import math
import random
import re
import statistics
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import bm25s
import numpy as np

from otbot.kb import KnowledgeBase
from otbot.tools.evaluation import Item, read_items

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "knowledge"
EVAL = ROOT / "eval"
COVID = EVAL / "external" / "covid-qa"
CONTEXT = "Sorry if this is a silly question, my friend told me to ask here."
SEED = 20261127
TYPO_MIN_LETTERS = 4
LETTERS = "abcdefghijklmnopqrstuvwxyz"
_WORD = re.compile(r"[A-Za-z]+")

Tokenize = Callable[[str], list[str]]


def revision() -> str:
    """The git commit measured, and whether the code or data differ from it."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--", "otbot", "knowledge", "eval").splitlines()
    return f"commit {commit}" + (f" + {len(changed)} uncommitted changes in otbot/, knowledge/, "
                                 "eval/" if changed else "")


def in_scope(path: Path) -> list[Item]:
    """The items of an eval file that expect FAQ topics (not none/urgent/smalltalk)."""
    return [item for item in read_items(path) if item.in_scope]


def typo(word: str, rng: random.Random) -> str:
    """One typo inside a word: delete, swap adjacent, replace or insert a letter."""
    i = rng.randrange(1, len(word) - 1)  # inside: never the first or last letter
    kind = rng.choice(("delete", "swap", "replace", "insert"))
    if kind == "delete":
        return word[:i] + word[i + 1:]
    if kind == "swap":
        i = min(i, len(word) - 3)  # both swapped letters inside the word
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "replace":
        return word[:i] + rng.choice(LETTERS.replace(word[i].lower(), "")) + word[i + 1:]
    return word[:i] + rng.choice(LETTERS) + word[i:]


def add_typos(text: str, rng: random.Random, count: int = 2) -> str:
    """`count` typos in distinct words of 4+ letters (fewer if the text has fewer such words)."""
    spans = [m.span() for m in _WORD.finditer(text) if len(m.group()) >= TYPO_MIN_LETTERS]
    chosen = sorted(rng.sample(spans, min(count, len(spans))), reverse=True)
    for start, end in chosen:  # right to left, so earlier spans keep their offsets
        text = text[:start] + typo(text[start:end], rng) + text[end:]
    return text


def with_context(text: str) -> str:
    """The message after an apologetic sentence that says nothing about the topic."""
    return f"{CONTEXT} {text}"


class Bm25Baseline:
    """Plain BM25 (bm25s), one document per entry: question + alternates (+ keywords)."""

    def __init__(self, kb: KnowledgeBase, tokenize: Tokenize, *, keywords: bool) -> None:
        self.topics = list(kb.entries)
        self.tokenize = tokenize
        docs = [" ".join((*e.sentences(), *(e.keywords if keywords else ())))
                for e in kb.entries.values()]
        self.index = bm25s.BM25()
        self.index.index([tokenize(doc) or [""] for doc in docs], show_progress=False)

    def scores(self, text: str) -> np.ndarray:
        """BM25 score of every entry, in knowledge-base order."""
        tokens = self.tokenize(text)
        if not tokens:  # bm25s raises on an empty query
            return np.zeros(len(self.topics))
        return self.index.get_scores(tokens)

    def best(self, text: str) -> str:
        """The best-scoring topic (argmax)."""
        return self.topics[int(np.argmax(self.scores(text)))]


def whitespace_tokens(text: str) -> list[str]:
    """Lower-cased whitespace tokens: no stemming, no stop words, punctuation kept."""
    return text.lower().split()


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (share 0..1) of the values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def median(values: Sequence[float]) -> float:
    """The median of the values."""
    return statistics.median(values)


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table with columns padded to their widest cell."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])
