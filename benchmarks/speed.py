"""Speed and memory of the matcher, each beside plain baselines in the same run.

Run: `python benchmarks/speed.py` (about a minute and a half on 2 cores).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from common import (
    EVAL,
    KNOWLEDGE,
    SEED,
    Bm25Baseline,
    add_typos,
    median,
    percentile,
    revision,
    table,
    verdict,
    whitespace_tokens,
    with_context,
)
from rapidfuzz import process
from synthetic import Query, queries, write_synthetic

from otbot.dialog.conversation import Conversation, Event, EventKind
from otbot.kb import KnowledgeBase, iter_sentences, load_knowledge
from otbot.telegram_bot.app import settle_memory
from otbot.tools.evaluation import read_items
from otbot.tools.followups import read_dialogues
from otbot.understanding.matcher import Decision, Matcher
from otbot.understanding.text import words

WARMUP = 50  # untimed calls per method before timing (10 on the large base)
SHIPPED_ROUNDS = 2  # each shipped message is timed this many times per method
LARGE_SIZE = 10_000
LARGE_QUERIES = 300
LOAD_SIZE = 1_000
LOAD_RUNS = 5
MEMORY_RUNS = 3
MESSAGE = "my son hates loud noises"
TARGET_SHIPPED_P99_MS = 2.0
TARGET_LARGE_P99_MS = 20.0
TARGET_LOAD_S = 1.0
TARGET_RSS_MB = 100.0
# Runs a command as its only child and prints that child's peak RSS (ru_maxrss).
_PEAK = ("import resource, subprocess, sys; "
         "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")

Method = Callable[[str], object]  # returns the topic picked (or any result)


@dataclass(frozen=True)
class Timing:
    """Per-call times (ms) of one method, and the topic it picked for each message (round 1)."""

    name: str
    times: list[float]
    picks: list[object]

    @property
    def median(self) -> float:
        """Median time of a call, in ms."""
        return median(self.times)

    @property
    def p99(self) -> float:
        """99th-percentile time of a call, in ms."""
        return percentile(self.times, 0.99)


def machine() -> str:
    """Date, cores, Python and load average: what the figures depend on."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{dt.datetime.now().isoformat(timespec='minutes')}; {revision()}; nproc "
            f"{os.cpu_count()}; Python {platform.python_version()} ({platform.machine()}); "
            f"load average {load}")


def first_topic(decision: Decision) -> str | None:
    """The best-scoring topic of a decision (None for urgent and small talk)."""
    return decision.candidates[0].topic if decision.candidates else None


def methods(kb: KnowledgeBase, matcher: Matcher) -> dict[str, Method]:
    """Ours and the two plain baselines, each returning the topic it would pick."""
    bm25 = Bm25Baseline(kb, whitespace_tokens, keywords=False)
    pairs = list(iter_sentences(kb))
    choices = [sentence for _, sentence in pairs]
    def fuzzy(text: str) -> str:
        return pairs[process.extractOne(text, choices)[2]][0].id
    return {
        "otbot Matcher.decide": lambda text: first_topic(matcher.decide(text)),
        "BM25 plain (bm25s, whitespace)": bm25.best,
        "rapidfuzz extractOne (WRatio)": fuzzy,
    }


def time_calls(named: dict[str, Method], messages: Sequence[str], rounds: int,
               warmup: int = WARMUP) -> list[Timing]:
    """Time every method on every message, interleaved so machine noise hits all alike."""
    for message in messages[:warmup]:
        for method in named.values():
            method(message)
    names = list(named)
    times: dict[str, list[float]] = {name: [] for name in names}
    picks: dict[str, list[object]] = {name: [] for name in names}
    for round_ in range(rounds):
        for i, message in enumerate(messages):
            for name in names[i % len(names):] + names[:i % len(names)]:  # rotate who goes first
                start = time.perf_counter_ns()
                pick = named[name](message)
                times[name].append((time.perf_counter_ns() - start) / 1e6)
                if round_ == 0:
                    picks[name].append(pick)
    return [Timing(name, times[name], picks[name]) for name in names]


def timing_rows(timings: list[Timing], ours: Timing,
                expected: Sequence[str] | None = None) -> list[list[str]]:
    """Table rows: calls, median, p99, ratio to ours, and top-1 if the answers are known."""
    rows = []
    for t in timings:
        hit = (f"{sum(p == e for p, e in zip(t.picks, expected, strict=True)) / len(expected):.3f}"
               if expected else "-")
        rows.append([t.name, len(t.times), f"{t.median:.3f}", f"{t.p99:.3f}",
                     f"{t.median / ours.median:.2f}x", hit])
    return rows


TIMING_HEADERS = ["method", "calls", "median ms", "p99 ms", "median vs ours", "top-1"]


def shipped_messages() -> list[str]:
    """Every eval message (dev + holdout), each also with two typos and after a context sentence."""
    plain = [item.q for name in ("dev.yaml", "holdout.yaml") for item in read_items(EVAL / name)]
    rng = random.Random(SEED)
    return [*plain, *(add_typos(q, rng) for q in plain), *(with_context(q) for q in plain)]


def stages(matcher: Matcher) -> dict[str, Method]:
    """The steps of `decide`, each on its own: where our time goes."""
    return {"step of ours: urgent.detect": matcher.urgent.detect,
            "step of ours: smalltalk.detect": matcher.smalltalk.detect,
            "step of ours: rank": matcher.rank}


def bench_shipped() -> list[Timing]:
    """Decision times on the shipped knowledge base, and ours split into its steps."""
    kb = load_knowledge(KNOWLEDGE)
    matcher = Matcher(kb)
    settle_memory()  # as `otbot run` does once the knowledge base is loaded
    messages = shipped_messages()
    timings = time_calls(methods(kb, matcher), messages, SHIPPED_ROUNDS)
    steps = time_calls(stages(matcher), messages, 1)
    print(f"\n## Per-message decision, shipped knowledge base ({len(kb.entries)} entries, "
          f"{len(messages)} messages x {SHIPPED_ROUNDS} rounds; then the steps of ours, 1 "
          "round)\n")
    print(table(TIMING_HEADERS, timing_rows(timings + steps, timings[0])))
    return timings


def bench_followups() -> Timing:
    """Reading a follow-up in the light of the last answer, beside the same text read alone.

    Every two-turn conversation of eval/followups*.yaml: the first message is handled, then
    the follow-up is timed (it may be decided up to three times: alone, without its pointing
    words, and beside the last topic's question).
    """
    kb = load_knowledge(KNOWLEDGE)
    conversation = Conversation(kb)
    settle_memory()
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    turns = []
    for path in sorted(EVAL.glob("followups*.yaml")):
        for dialogue in read_dialogues(path):
            _, state = conversation.handle(Event(EventKind.TEXT, dialogue.first, now=now), {})
            turns.append((dialogue.then, state))
    later = now + dt.timedelta(minutes=1)
    named: dict[str, Method] = {
        "otbot Conversation.understand (follow-up)":
            lambda i: conversation.understand(turns[int(i)][0], turns[int(i)][1], later),
        "the same text, Matcher.decide alone":
            lambda i: conversation.matcher.decide(turns[int(i)][0]),
    }
    timings = time_calls(named, [str(i) for i in range(len(turns))], SHIPPED_ROUNDS * 5)
    print(f"\n## Follow-ups, shipped knowledge base ({len(turns)} two-turn conversations x "
          f"{SHIPPED_ROUNDS * 5} rounds)\n")
    print(table(TIMING_HEADERS, timing_rows(timings, timings[0])))
    return timings[0]


def bench_large(folder: Path) -> list[Timing]:
    """Decision times on a synthetic knowledge base of LARGE_SIZE entries."""
    made = write_synthetic(folder, LARGE_SIZE, SEED)
    start = time.perf_counter()
    kb = load_knowledge(folder)
    loaded = time.perf_counter() - start
    matcher = Matcher(kb)
    indexed = time.perf_counter() - start - loaded
    settle_memory()
    asked: list[Query] = queries(made, LARGE_QUERIES, SEED + 1)
    timings = time_calls(methods(kb, matcher), [q.text for q in asked], 1, warmup=10)
    wordings = [s for e in kb.entries.values() for s in e.sentences()]
    vocabulary = {w for s in wordings for w in words(s)}
    print(f"\n## Per-message decision, synthetic knowledge base ({len(kb.entries)} entries, "
          f"{len(wordings)} wordings, {len(vocabulary)} distinct words; "
          f"load_knowledge {loaded:.1f} s, Matcher {indexed:.1f} s)\n")
    print(table(TIMING_HEADERS, timing_rows(timings, timings[0], [q.topic for q in asked])))
    print("\ntop-1: share of queries whose best topic is the entry the query was drawn from "
          "(a sanity check; each template has ~200 sibling variants sharing half its words).")
    return timings


def bench_load(folder: Path) -> float:
    """Median seconds to load and index LOAD_SIZE entries; prints each part beside plain BM25."""
    write_synthetic(folder, LOAD_SIZE, SEED)
    loads, indexes, baseline = [], [], []
    for _ in range(LOAD_RUNS):
        start = time.perf_counter()
        kb = load_knowledge(folder)
        loads.append(time.perf_counter() - start)
        start = time.perf_counter()
        Matcher(kb)
        indexes.append(time.perf_counter() - start)
        start = time.perf_counter()
        Bm25Baseline(kb, whitespace_tokens, keywords=False)
        baseline.append(time.perf_counter() - start)
    totals = [a + b for a, b in zip(loads, indexes, strict=True)]
    print(f"\n## Load and index, synthetic {LOAD_SIZE} entries ({LOAD_RUNS} runs in one "
          "process; run 1 also reads the English word list)\n")
    rows = [[name, f"{median(values):.3f}", f"{values[0]:.3f}", f"{min(values):.3f}"]
            for name, values in (("load_knowledge", loads), ("Matcher(kb)", indexes),
                                 ("load_knowledge + Matcher", totals),
                                 ("baseline: BM25 plain index", baseline))]
    print(table(["step", "median s", "run 1 s", "best s"], rows))
    return median(totals)


def otbot_command() -> list[str]:
    """The installed `otbot` script, else the package run as a module."""
    found = shutil.which("otbot")
    return [found] if found else [sys.executable, "-m", "otbot"]


def peak_rss_mb(command: list[str]) -> float:
    """Peak resident memory of a command run as a subprocess, in MB."""
    out = subprocess.run([sys.executable, "-c", _PEAK, *command], capture_output=True,
                         text=True, check=True).stdout
    return int(out) / (1024 * 1024 if sys.platform == "darwin" else 1024)


def bench_memory() -> float:
    """Median peak RSS of `otbot ask`, printed beside a bare Python interpreter."""
    rows, result = [], 0.0
    for name, command in ((f'otbot ask "{MESSAGE}"', [*otbot_command(), "ask", MESSAGE]),
                          ('baseline: python -c "pass"', [sys.executable, "-c", "pass"])):
        values = [peak_rss_mb(command) for _ in range(MEMORY_RUNS)]
        result = result or median(values)
        rows.append([name, f"{median(values):.1f}", f"{max(values):.1f}"])
    print(f"\n## Peak memory (max RSS of the subprocess, {MEMORY_RUNS} runs)\n")
    print(table(["command", "median MB", "max MB"], rows))
    return result


def main() -> None:
    """Run every benchmark and print the tables and the verdicts."""
    print(f"# otbot speed benchmark\n\n{machine()}")
    rss = bench_memory()
    with tempfile.TemporaryDirectory() as small, tempfile.TemporaryDirectory() as large:
        load = bench_load(Path(small))
        shipped = bench_shipped()
        followups = bench_followups()
        synthetic = bench_large(Path(large))
    targets = [
        ["decide p99, shipped KB", f"<= {TARGET_SHIPPED_P99_MS} ms", f"{shipped[0].p99:.2f} ms",
         verdict(shipped[0].p99 <= TARGET_SHIPPED_P99_MS)],
        ["follow-up p99, shipped KB", f"<= {TARGET_SHIPPED_P99_MS} ms",
         f"{followups.p99:.2f} ms", verdict(followups.p99 <= TARGET_SHIPPED_P99_MS)],
        [f"decide p99, synthetic {LARGE_SIZE} entries", f"<= {TARGET_LARGE_P99_MS} ms",
         f"{synthetic[0].p99:.2f} ms", verdict(synthetic[0].p99 <= TARGET_LARGE_P99_MS)],
        [f"load + index {LOAD_SIZE} entries (median)", f"<= {TARGET_LOAD_S} s", f"{load:.2f} s",
         verdict(load <= TARGET_LOAD_S)],
        ["peak RSS of otbot ask", f"<= {TARGET_RSS_MB} MB", f"{rss:.1f} MB",
         verdict(rss <= TARGET_RSS_MB)],
    ]
    print("\n## Targets\n")
    print(table(["target", "bar", "measured", "verdict"], targets))


if __name__ == "__main__":
    main()
