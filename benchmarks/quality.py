"""Top-1 and top-3 of the matcher beside two plain baselines, clean, with typos, with context.

Run: `python benchmarks/quality.py` (add `--misses` to list the matcher's top-1 misses).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from common import (
    COVID,
    EVAL,
    KNOWLEDGE,
    SEED,
    Bm25Baseline,
    add_typos,
    in_scope,
    revision,
    table,
    verdict,
    with_context,
)
from rapidfuzz import fuzz, process, utils

from otbot.kb import KnowledgeBase, iter_sentences, load_knowledge
from otbot.tools.evaluation import Item
from otbot.understanding.matcher import Matcher

Ranker = Callable[[str], list[str]]  # topic ids, best first, only those scoring above zero

VARIANTS = ("clean", "typos", "context")
TARGET_COVID_TOP1 = 0.77
TARGET_COVID_TOP3 = 0.90
TARGET_MAX_DROP = 5.0  # points of top-1 that typos or context may cost
STEMMER = Stemmer.Stemmer("english")


@dataclass(frozen=True)
class Dataset:
    """A knowledge folder and the in-scope items of an eval file for it."""

    name: str
    knowledge: Path
    items: Path


DATASETS = (
    Dataset("dev", KNOWLEDGE, EVAL / "dev.yaml"),
    Dataset("covid-qa", COVID / "knowledge", COVID / "eval.yaml"),
)


@dataclass(frozen=True)
class Score:
    """Top-1 and top-3 of one ranker on one variant of one dataset."""

    top1: float
    top3: float


def by_score(scores: np.ndarray, topics: list[str]) -> list[str]:
    """Topics with a positive score, best first, ties in knowledge-base order."""
    order = np.argsort(-scores, kind="stable")
    return [topics[i] for i in order if scores[i] > 0]


def ours(kb: KnowledgeBase) -> Ranker:
    """The otbot matcher's ranking (`rank`, since `decide` may stop at urgent or small talk)."""
    matcher = Matcher(kb)
    return lambda text: [c.topic for c in matcher.rank(text).candidates if c.score > 0]


def stemmed_tokens(text: str) -> list[str]:
    """bm25s's tokenizer: lower case, English stop words removed, Snowball stems."""
    return bm25s.tokenize([text], stopwords="en", stemmer=STEMMER, return_ids=False,
                          show_progress=False)[0]


def bm25_stemmed(kb: KnowledgeBase) -> Ranker:
    """Plain BM25 over question + alternates + keywords, stemmed, stop words removed."""
    baseline = Bm25Baseline(kb, stemmed_tokens, keywords=True)
    return lambda text: by_score(baseline.scores(text), baseline.topics)


def token_set(kb: KnowledgeBase) -> Ranker:
    """rapidfuzz token_set_ratio against every question and alternate, best per entry."""
    topics = list(kb.entries)
    pairs = list(iter_sentences(kb))
    choices = [sentence for _, sentence in pairs]
    owner = np.array([topics.index(entry.id) for entry, _ in pairs])
    def rank(text: str) -> list[str]:
        row = process.cdist([text], choices, scorer=fuzz.token_set_ratio,
                            processor=utils.default_process)[0]
        best = np.zeros(len(topics))
        np.maximum.at(best, owner, row)
        return by_score(best, topics)
    return rank


RANKERS: dict[str, Callable[[KnowledgeBase], Ranker]] = {
    "otbot": ours,
    "BM25 stemmed": bm25_stemmed,
    "token_set": token_set,
}


def variants(items: list[Item]) -> dict[str, list[str]]:
    """Each message clean, with two typos (fixed seed), and after the context sentence."""
    rng = random.Random(SEED)
    clean = [item.q for item in items]
    return {"clean": clean, "typos": [add_typos(q, rng) for q in clean],
            "context": [with_context(q) for q in clean]}


def score(ranker: Ranker, texts: list[str], items: list[Item],
          misses: list[str] | None = None) -> Score:
    """Share of items with an expected topic first, and among the first three."""
    top1 = top3 = 0
    for text, item in zip(texts, items, strict=True):
        ranked = ranker(text)
        top1 += bool(ranked) and ranked[0] in item.expect
        top3 += bool(set(ranked[:3]) & set(item.expect))
        if misses is not None and not (ranked and ranked[0] in item.expect):
            misses.append(f"  {text!r}\n    expected {', '.join(item.expect)}; "
                          f"got {', '.join(ranked[:3]) or 'nothing'}")
    return Score(top1 / len(items), top3 / len(items))


def measure(dataset: Dataset, show_misses: bool) -> dict[tuple[str, str], Score]:
    """Every ranker on every variant of one dataset."""
    kb = load_knowledge(dataset.knowledge)
    items = in_scope(dataset.items)
    texts = variants(items)
    results = {}
    for name, build in RANKERS.items():
        ranker = build(kb)
        for variant in VARIANTS:
            misses: list[str] | None = [] if show_misses and name == "otbot" else None
            results[name, variant] = score(ranker, texts[variant], items, misses)
            if misses:
                print(f"\n### otbot top-1 misses: {dataset.name}, {variant} "
                      f"({len(misses)} of {len(items)})\n" + "\n".join(misses))
    return results


def points(value: float) -> str:
    """A change of share as signed points (0.05 -> +5.0)."""
    return f"{100 * value:+.1f}"


def print_tables(all_results: dict[str, dict[tuple[str, str], Score]],
                 sizes: dict[str, int]) -> None:
    """The scores, then the change from clean of each variant."""
    columns = [(r, k) for r in RANKERS for k in ("top1", "top3")]
    labels = [f"{r} top-{k[-1]}" for r, k in columns]
    rows = [[name, variant, sizes[name],
             *(f"{getattr(res[r, variant], k):.3f}" for r, k in columns)]
            for name, res in all_results.items() for variant in VARIANTS]
    print("\n## Top-1 / top-3 on in-scope items\n")
    print(table(["set", "variant", "items", *labels], rows))
    rows = [[name, variant,
             *(points(getattr(res[r, variant], k) - getattr(res[r, "clean"], k))
               for r, k in columns)]
            for name, res in all_results.items() for variant in VARIANTS[1:]]
    print("\n## Change from clean (points)\n")
    print(table(["set", "variant", *labels], rows))


def print_targets(all_results: dict[str, dict[tuple[str, str], Score]]) -> None:
    """PASS/FAIL of the matcher against the targets of issue 7."""
    covid = all_results["covid-qa"]
    rows = [["covid-qa top-1", f">= {TARGET_COVID_TOP1}", f"{covid['otbot', 'clean'].top1:.3f}",
             verdict(covid["otbot", "clean"].top1 >= TARGET_COVID_TOP1)],
            ["covid-qa top-3", f">= {TARGET_COVID_TOP3}", f"{covid['otbot', 'clean'].top3:.3f}",
             verdict(covid["otbot", "clean"].top3 >= TARGET_COVID_TOP3)]]
    for name, res in all_results.items():
        for variant in VARIANTS[1:]:
            change = res["otbot", variant].top1 - res["otbot", "clean"].top1
            rows.append([f"{name}: {variant} cost in top-1", f"<= {TARGET_MAX_DROP:.0f} points",
                         points(change), verdict(-100 * change <= TARGET_MAX_DROP)])
    print("\n## Targets (otbot matcher)\n")
    print(table(["target", "bar", "measured", "verdict"], rows))


def main() -> None:
    """Measure every dataset and print the tables and the verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list the matcher's top-1 misses")
    args = parser.parse_args()
    print(f"# otbot quality benchmark\n\n{dt.datetime.now().isoformat(timespec='minutes')}; "
          f"{revision()}")
    results = {d.name: measure(d, args.misses) for d in DATASETS}
    print_tables(results, {d.name: len(in_scope(d.items)) for d in DATASETS})
    print_targets(results)


if __name__ == "__main__":
    main()
