"""The evaluation report: the threshold sweep agrees with the decisions actually taken."""

from __future__ import annotations

from paths import ROOT

from otbot.kb import KnowledgeBase
from otbot.tools.evaluation import evaluate, read_items, sweep
from otbot.understanding.matcher import Matcher

DEV = ROOT / "eval" / "dev.yaml"


def test_the_sweep_at_the_current_thresholds_reproduces_the_report(
        shipped_kb: KnowledgeBase) -> None:
    matcher = Matcher(shipped_kb)
    report = evaluate(matcher, read_items(DEV))
    current = [row for row in sweep(matcher, report) if row["current"]]
    assert len(current) == 2  # one per swept threshold
    for row in current:
        for key, value in report.metrics.items():
            assert row[key] == value, (row["threshold"], key)


def test_a_stricter_answer_threshold_never_answers_more(shipped_kb: KnowledgeBase) -> None:
    matcher = Matcher(shipped_kb)
    rows = [r for r in sweep(matcher, evaluate(matcher, read_items(DEV)))
            if r["threshold"] == "answer_coverage"]
    answered = [r["answered_wrong"] + r["answered_right"] for r in rows]
    assert answered == sorted(answered, reverse=True)
