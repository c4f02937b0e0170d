"""Measure the matcher on a labelled file of messages (the format of eval/dev.yaml)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from otbot.kb import KnowledgeBase
from otbot.kb.yamlfile import MarkedDict, Problem, YamlError, load_yaml
from otbot.understanding.matcher import Decision, DecisionKind, Matcher, rechoose

SPECIAL = ("none", "urgent", "smalltalk")


@dataclass(frozen=True)
class Item:
    """One labelled message."""

    q: str
    expect: tuple[str, ...]
    line: int = 0

    @property
    def in_scope(self) -> bool:
        """True if the message should get an FAQ topic."""
        return not set(self.expect) & set(SPECIAL)


@dataclass(frozen=True)
class Outcome:
    """An item with the decision the matcher took."""

    item: Item
    decision: Decision

    @property
    def correct(self) -> bool:
        """Right by the quality bar's rules (clarify counts if the topic is offered)."""
        d, expect = self.decision, self.item.expect
        if self.item.in_scope:
            return (d.kind is DecisionKind.ANSWER and d.topic in expect) or (
                d.kind is DecisionKind.CLARIFY and bool(set(d.options) & set(expect)))
        kind = "fallback" if expect[0] == "none" else expect[0]
        return d.kind == kind

    @property
    def top1(self) -> bool:
        """The best-scoring topic is an expected one."""
        candidates = self.decision.candidates
        return bool(candidates) and candidates[0].topic in self.item.expect

    @property
    def top3(self) -> bool:
        """An expected topic is among the three best-scoring."""
        return bool(set(self.decision.options) & set(self.item.expect))


@dataclass
class Report:
    """All outcomes of a run and the figures of the quality bar."""

    outcomes: list[Outcome]
    metrics: dict[str, float] = field(default_factory=dict)

    def misses(self) -> list[Outcome]:
        """Outcomes a parent would experience as wrong."""
        return [o for o in self.outcomes if not o.correct]


def labelled(path: Path) -> list[tuple[Any, int]]:
    """The items of a labelled file (`items:` list) with their lines, or YamlError."""
    data = load_yaml(path, str(path))
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise YamlError(Problem(str(path), 1, "an eval file needs a list under 'items'"))
    return list(zip(items, getattr(items, "item_lines", [1] * len(items)), strict=True))


def read_items(path: Path) -> list[Item]:
    """Read an eval file; raise YamlError naming the file and line of the first bad item."""
    result = []
    for raw, line in labelled(path):
        if not isinstance(raw, MarkedDict) or not isinstance(raw.get("q"), str):
            raise YamlError(Problem(str(path), line, "each item needs a text 'q'"))
        expect = raw.get("expect")
        expect = [expect] if isinstance(expect, str) else expect
        if not (isinstance(expect, list) and expect and all(isinstance(e, str) for e in expect)):
            raise YamlError(Problem(str(path), line, "'expect' must be an id or a list of ids"))
        result.append(Item(raw["q"], tuple(expect), line))
    return result


def evaluate(matcher: Matcher, items: list[Item]) -> Report:
    """Decide every item and compute the metrics."""
    report = Report([Outcome(item, matcher.decide(item.q)) for item in items])
    report.metrics = metrics(report.outcomes)
    return report


def _share(hits: int, total: int) -> float:
    return round(hits / total, 4) if total else 1.0


def metrics(outcomes: list[Outcome]) -> dict[str, float]:
    """The figures of the quality bar, as shares from 0 to 1 (1.0 where nothing was asked)."""
    scoped = [o for o in outcomes if o.item.in_scope]
    def of(kind: str) -> list[Outcome]:
        return [o for o in outcomes if o.item.expect[0] == kind]

    answers = [o for o in scoped if o.decision.kind is DecisionKind.ANSWER]
    answered_right = sum(o.decision.topic in o.item.expect for o in answers)
    answered_wrong = len(answers) - answered_right
    not_urgent = [o for o in outcomes if o.item.expect[0] != "urgent"]
    return {
        "in_scope": len(scoped),
        "answered_right": _share(answered_right, len(scoped)),
        "answered_or_offered": _share(sum(o.correct for o in scoped), len(scoped)),
        "answered_wrong": _share(answered_wrong, len(scoped)),
        "top1": _share(sum(o.top1 for o in scoped), len(scoped)),
        "top3": _share(sum(o.top3 for o in scoped), len(scoped)),
        "out_of_scope_rejected": _share(sum(o.correct for o in of("none")), len(of("none"))),
        "urgent_recognised": _share(sum(o.correct for o in of("urgent")), len(of("urgent"))),
        "false_urgent": sum(o.decision.kind is DecisionKind.URGENT for o in not_urgent),
        "smalltalk_recognised": _share(sum(o.correct for o in of("smalltalk")),
                                       len(of("smalltalk"))),
    }


SWEPT = ("answer_coverage", "clarify_domain")


def sweep(matcher: Matcher, report: Report, steps: int = 9) -> list[dict[str, float]]:
    """The metrics if one threshold were moved (the others as they are), for each threshold."""
    base = matcher.thresholds
    rows = []
    for name in SWEPT:
        for k in range(steps):
            value = round(getattr(base, name) - 0.2 + 0.4 * k / (steps - 1), 3)
            other = dataclasses.replace(base, **{name: value})
            outcomes = [Outcome(o.item, rechoose(o.decision, other)) for o in report.outcomes]
            rows.append({"threshold": name, "value": value,
                         "current": value == getattr(base, name), **metrics(outcomes)})
    return rows


# The bars `otbot eval` can be held to: option (and thresholds-file key) -> metric, direction.
GATES = {
    "min_top1": ("answered_right", ">="),  # in-scope answered with the right topic
    "min_reach": ("answered_or_offered", ">="),  # right topic answered or offered
    "max_wrong": ("answered_wrong", "<="),  # in-scope answered with a wrong topic
    "min_oos": ("out_of_scope_rejected", ">="),  # out-of-scope messages rejected
}


def read_thresholds(path: Path) -> dict[str, float]:
    """A thresholds file: `min_top1: 0.9`, ... (the keys of GATES), each a number 0-1."""
    data = load_yaml(path, str(path))
    if not isinstance(data, MarkedDict):
        raise YamlError(Problem(str(path), 1, "a thresholds file maps bars to numbers, like "
                                              "min_top1: 0.90"))
    result = {}
    for key, value in data.items():
        if key not in GATES:
            hint = process.extractOne(key, list(GATES), scorer=fuzz.ratio, score_cutoff=60)
            raise YamlError(Problem(str(path), data.line_of(key), f"unknown bar '{key}'"
                                    + (f" (did you mean '{hint[0]}'?)" if hint else "")
                                    + f"; known: {', '.join(GATES)}"))
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise YamlError(Problem(str(path), data.line_of(key),
                                    f"'{key}' must be a number from 0 to 1, like 0.90"))
        result[key] = float(value)
    return result


def failed_gates(metrics: dict[str, float], thresholds: dict[str, float]) -> list[str]:
    """A sentence for each bar the metrics do not meet (empty: all met)."""
    failures = []
    for key, bar in thresholds.items():
        metric, direction = GATES[key]
        value = metrics[metric]
        if (value < bar) if direction == ">=" else (value > bar):
            word = "below" if direction == ">=" else "above"
            failures.append(f"{metric} is {value:.3f}, {word} the bar "
                            f"--{key.replace('_', '-')} {bar:.3f}")
    return failures


def unknown_expectations(items: list[Item], kb: KnowledgeBase, path: Path) -> list[Problem]:
    """An error for each expected id that is no published entry (a typo measures nothing)."""
    known = set(kb.entries)
    problems = []
    for item in items:
        for expected in item.expect:
            if expected in known or expected in SPECIAL:
                continue
            if expected in kb.drafts:
                why = f"'{expected}' is a draft, which the bot never answers with"
            else:
                hint = process.extractOne(expected, sorted(known), scorer=fuzz.ratio,
                                          score_cutoff=60)
                why = f"unknown topic '{expected}'" + (f" (did you mean '{hint[0]}'?)"
                                                      if hint else "")
            problems.append(Problem(str(path), item.line, f"expect: {why}; use an entry id or "
                                                          "none, urgent, smalltalk"))
    return problems
