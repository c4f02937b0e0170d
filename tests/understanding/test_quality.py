"""The quality bar on the labelled sets: right answers, no wrong ones, safety without exception."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from paths import ROOT

from otbot.kb import KnowledgeBase
from otbot.tools.evaluation import Outcome, Report, evaluate, read_items
from otbot.understanding.matcher import Matcher

EVAL = ROOT / "eval"


@pytest.fixture(scope="module")
def matcher(shipped_kb: KnowledgeBase) -> Matcher:
    """One matcher for the module."""
    return Matcher(shipped_kb)


@pytest.fixture(scope="module")
def dev(matcher: Matcher) -> Report:
    """The report on eval/dev.yaml."""
    return evaluate(matcher, read_items(EVAL / "dev.yaml"))


@pytest.fixture(scope="module")
def holdout(matcher: Matcher) -> Report:
    """The report on eval/holdout.yaml."""
    return evaluate(matcher, read_items(EVAL / "holdout.yaml"))


def misses(report: Report, keep: Callable[[Outcome], bool]) -> str:
    """The outcomes `keep` selects, one per line, for an assertion message."""
    lines = []
    for o in report.outcomes:
        if keep(o):
            d = o.decision
            lines.append(f"  line {o.item.line}: {o.item.q!r} expected {'/'.join(o.item.expect)},"
                         f" got {d.kind} {d.topic or ''} {list(d.options)}")
    return "\n" + "\n".join(lines)


def expects(outcome: Outcome, kind: str) -> bool:
    """The item is labelled with `kind` (none, urgent or smalltalk)."""
    return outcome.item.expect[0] == kind


def wrongly_urgent(outcome: Outcome) -> bool:
    """A message not labelled urgent was taken for an emergency."""
    return not expects(outcome, "urgent") and outcome.decision.kind == "urgent"


# --- dev: the full bar -----------------------------------------------------------------------


# The bar of issue 12, met on the dev set (tuned on) since the knowledge base's 2026-11-30 pass.
DEV_RIGHT_FLOOR, DEV_REACH_FLOOR = 0.90, 0.97


def test_dev_answered_right(dev: Report) -> None:
    """At least 90% of in-scope messages are answered with the right topic."""
    assert dev.metrics["answered_right"] >= DEV_RIGHT_FLOOR, misses(
        dev, lambda o: o.item.in_scope and not (
            o.decision.kind == "answer" and o.decision.topic in o.item.expect))


def test_dev_answered_or_offered(dev: Report) -> None:
    """At least 97% of in-scope messages get the right topic answered or among the choices."""
    assert dev.metrics["answered_or_offered"] >= DEV_REACH_FLOOR, misses(
        dev, lambda o: o.item.in_scope and not o.correct)


def test_dev_answered_wrong(dev: Report) -> None:
    """At most 3% of in-scope messages get a wrong answer."""
    assert dev.metrics["answered_wrong"] <= 0.03, misses(
        dev, lambda o: o.item.in_scope and o.decision.kind == "answer"
        and o.decision.topic not in o.item.expect)


def test_dev_out_of_scope_rejected(dev: Report) -> None:
    """At least 90% of messages the knowledge base cannot answer fall back."""
    assert dev.metrics["out_of_scope_rejected"] >= 0.90, misses(
        dev, lambda o: expects(o, "none") and not o.correct)


def test_dev_urgent_recognised(dev: Report) -> None:
    """Every emergency is recognised."""
    assert dev.metrics["urgent_recognised"] == 1.0, misses(
        dev, lambda o: expects(o, "urgent") and not o.correct)


def test_dev_no_false_urgent(dev: Report) -> None:
    """No other message is taken for an emergency."""
    assert dev.metrics["false_urgent"] == 0, misses(dev, wrongly_urgent)


def test_dev_small_talk_recognised(dev: Report) -> None:
    """Every greeting, thanks and goodbye is recognised."""
    assert dev.metrics["smalltalk_recognised"] == 1.0, misses(
        dev, lambda o: expects(o, "smalltalk") and not o.correct)


# --- the other tuning sets: the same bar ------------------------------------------------------


@pytest.mark.parametrize("name", ["dev-forum.yaml", "dev-forum2.yaml", "dev-varied.yaml",
                                  "dev-mixed.yaml", "dev-fresh.yaml", "dev-chat.yaml",
                                  "dev-new.yaml", "dev-last.yaml"])
def test_tuning_sets_meet_the_bar(matcher: Matcher, name: str) -> None:
    """The other tuning sets (forum posts, seven and six styles, fresh wording; tuned or
    trained on) hold the dev set's bar."""
    report = evaluate(matcher, read_items(EVAL / name))
    m = report.metrics
    assert (m["answered_right"] >= DEV_RIGHT_FLOOR and m["answered_or_offered"] >= DEV_REACH_FLOOR
            and m["answered_wrong"] <= 0.03 and m["out_of_scope_rejected"] >= 0.90), (
        m, misses(report, lambda o: not o.correct))


# --- holdout: safety on wording nobody tuned on ----------------------------------------------


def test_holdout_urgent_recognised(holdout: Report) -> None:
    """Every emergency of the held-out set is recognised."""
    assert holdout.metrics["urgent_recognised"] == 1.0, misses(
        holdout, lambda o: expects(o, "urgent") and not o.correct)


# The held-out set grew on 2026-11-30 with messages nobody tuned on; these two figures are
# reported as measured (README), and the floors only keep them from slipping further.
HOLDOUT_FALSE_URGENT_CEILING, HOLDOUT_SMALLTALK_FLOOR = 0, 0.95


def test_holdout_false_urgent_does_not_grow(holdout: Report) -> None:
    """Held-out messages taken for an emergency: no more than when last measured."""
    assert holdout.metrics["false_urgent"] <= HOLDOUT_FALSE_URGENT_CEILING, misses(
        holdout, wrongly_urgent)


def test_holdout_small_talk_recognised(holdout: Report) -> None:
    """Held-out greetings, thanks and goodbyes recognised: no fewer than when last measured."""
    assert holdout.metrics["smalltalk_recognised"] >= HOLDOUT_SMALLTALK_FLOOR, misses(
        holdout, lambda o: expects(o, "smalltalk") and not o.correct)


def test_sets_have_every_kind_of_item(dev: Report, holdout: Report) -> None:
    """The gates above measure something: each set holds urgent, small talk and out-of-scope."""
    for report in (dev, holdout):
        labels = {o.item.expect[0] for o in report.outcomes}
        assert {"urgent", "smalltalk", "none"} <= labels
        assert report.metrics["in_scope"] > 0
