"""Plain-text and JSON views of decisions and evaluation reports, for the command line."""

from __future__ import annotations

from typing import Any

from otbot.kb import KnowledgeBase
from otbot.kb.markup import visible_text
from otbot.tools.evaluation import Outcome, Report
from otbot.understanding.matcher import Decision, DecisionKind, Thresholds
from otbot.understanding.urgent import UrgentDetector

METRIC_LABELS = {
    "answered_right": ("in-scope answered with the right topic", ">= 0.90"),
    "answered_or_offered": ("in-scope right topic answered or offered", ">= 0.97"),
    "answered_wrong": ("in-scope answered with a wrong topic", "<= 0.03"),
    "top1": ("in-scope best-scoring topic right (top-1)", ""),
    "top3": ("in-scope right topic among the best three (top-3)", ""),
    "out_of_scope_rejected": ("out-of-scope messages rejected", ">= 0.90"),
    "urgent_recognised": ("urgent messages recognised", "= 1.00"),
    "false_urgent": ("other messages taken for urgent (count)", "= 0"),
    "smalltalk_recognised": ("small talk recognised", "= 1.00"),
}


def _candidates(decision: Decision) -> str:
    return ", ".join(f"{c.topic} {c.score:.2f}" for c in decision.candidates)


def describe_decision(kb: KnowledgeBase, decision: Decision) -> str:
    """What `otbot ask` prints: the decision, its scores and what the parent would read."""
    head = f"{decision.kind}"
    if decision.kind is DecisionKind.ANSWER and decision.topic:
        head += f": {decision.topic} (score {decision.score:.2f})"
        body = visible_text(kb.entries[decision.topic].answer)
    elif decision.kind is DecisionKind.CLARIFY:
        body = "Did you mean:\n" + "\n".join(
            f"  {n}. {kb.entries[c.topic].question} [{c.topic}]"
            for n, c in enumerate(decision.candidates, 1))
    elif decision.kind is DecisionKind.URGENT:
        head += f" ({', '.join(decision.urgent)})"
        body = visible_text(UrgentDetector(kb.urgent).reply(decision.urgent, decision.language))
    elif decision.kind is DecisionKind.SMALLTALK:
        head += f" ({decision.detail})"
        body = visible_text(kb.smalltalk.kind(str(decision.detail)).reply)
    elif decision.detail:
        head += f" (declined: {decision.detail})"
        body = visible_text(kb.declines[decision.detail].reply or kb.message("fallback"))
    else:
        body = "No good answer in the knowledge base."
    lines = [head, body]
    if decision.candidates:
        lines.append(f"candidates: {_candidates(decision)}")
    return "\n".join(lines)


def _metric_rows(metrics: dict[str, float]) -> list[str]:
    rows = [f"{'metric':<52} {'value':>7}  bar"]
    for key, (label, bar) in METRIC_LABELS.items():
        value = metrics[key]
        shown = f"{value:d}" if isinstance(value, int) else f"{value:.3f}"
        rows.append(f"{label:<52} {shown:>7}  {bar}")
    return rows


def _miss(outcome: Outcome) -> str:
    d = outcome.decision
    decided = f"{d.kind} {d.topic}" if d.topic else d.kind
    return (f"  line {outcome.item.line}: {outcome.item.q!r}\n"
            f"    expected {' or '.join(outcome.item.expect)}; decided {decided}"
            + (f"; candidates {_candidates(d)}" if d.candidates else ""))


def eval_text(report: Report, sweep_rows: list[dict[str, float]]) -> str:
    """The readable evaluation report: metrics, misses, threshold sweep."""
    m = report.metrics
    lines = [f"{len(report.outcomes)} messages, {m['in_scope']} in scope", ""]
    lines += _metric_rows(m)
    misses = report.misses()
    lines += ["", f"misses ({len(misses)}):"] + [_miss(o) for o in misses]
    if sweep_rows:
        lines += ["", "threshold sweep: the figures if one threshold moved (* = current)",
                  f"  {'threshold':<16} {'value':>6} {'right':>6} {'offered':>8} {'wrong':>6} "
                  f"{'rejected':>9}"]
        lines += [f"  {r['threshold']:<16} {r['value']:>6.2f} {r['answered_right']:>6.3f} "
                  f"{r['answered_or_offered']:>8.3f} {r['answered_wrong']:>6.3f} "
                  f"{r['out_of_scope_rejected']:>9.3f}{' *' if r['current'] else ''}"
                  for r in sweep_rows]
    return "\n".join(lines)


def eval_json(report: Report) -> dict[str, Any]:
    """`otbot eval --json`: every item with its decision, and the summary."""
    return {
        "items": [{
            "q": o.item.q, "expect": list(o.item.expect), "kind": o.decision.kind,
            "topic": o.decision.topic, "candidates": list(o.decision.options),
        } for o in report.outcomes],
        "summary": report.metrics,
    }


def reason(decision: Decision) -> str:
    """One line on why the matcher decided what it did."""
    if decision.kind is DecisionKind.URGENT:
        return "possible emergency: " + ", ".join(decision.urgent)
    if decision.kind is DecisionKind.SMALLTALK:
        return f"small talk ({decision.detail})"
    if decision.kind is DecisionKind.ANSWER and decision.detail is not None:
        return f"a question about the bot in small-talk words ({decision.detail}, smalltalk.yaml)"
    if decision.detail is not None:
        return f"declined on purpose ({decision.detail}, decline.yaml)"
    if decision.light:
        return "the message says too little to read a topic in it (a common word or two)"
    best = decision.candidates[0] if decision.candidates else None
    if best is None:
        return "no word of the message is known to the knowledge base"
    # The answer may be the topic model's pick among near-equal leaders.
    best = next((c for c in decision.candidates if c.topic == decision.topic), best)
    second = max((c.score for c in decision.candidates if c is not best), default=0.0)
    model = f", the topic model gives it {best.chance:.0%}" if best.chance else ""
    elsewhere = f"; the topic model reads no topic ({decision.elsewhere:.0%})" \
        if decision.elsewhere >= Thresholds().elsewhere else ""
    evidence = (f"best '{best.topic}' covers {best.coverage:.0%} of the message, leads by "
                f"{best.score - second:.2f}{model}; {decision.domain:.0%} of the message is "
                f"in-domain{elsewhere}")
    if decision.kind is DecisionKind.ANSWER:
        return "a clear winner: " + evidence
    if decision.kind is DecisionKind.CLARIFY:
        return "no clear winner, so a choice: " + evidence
    if decision.elsewhere >= Thresholds().unasked:
        return "the topic model is sure that no topic is asked about: " + evidence
    return "too little of the message is about the topics: " + evidence
