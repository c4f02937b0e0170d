"""`otbot report`: one self-contained HTML page for maintainers.

Questions per day by decision, 👍/👎 per topic, the biggest groups of misses, the evaluation's
threshold sweep and the knowledge base's health. Charts are inline SVG drawn by pygal; the page
loads nothing from anywhere and runs no script. Every chart's figures are also in a table
(readable without the chart, and what the tests check against the database).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from otbot.kb import KnowledgeBase
from otbot.kb.yamlfile import Problem
from otbot.tools.misses import KindGroup

DECISION_KINDS = ("answer", "clarify", "fallback", "declined", "urgent", "smalltalk")
MISS_KINDS = ("fallback", "declined", "clarify", "unhelpful", "followup")
SWEEP_FIGURES = (("answered_right", "answered right"),
                 ("answered_or_offered", "answered or offered"),
                 ("answered_wrong", "answered wrong"),
                 ("out_of_scope_rejected", "out of scope rejected"))
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)


@dataclass
class ReportData:
    """Everything the page shows, gathered by the command from the store, the KB and eval."""

    generated: str
    folder: str
    decisions: list[tuple[str, str, int]] = field(default_factory=list)  # day, kind, count
    misses_per_day: list[tuple[str, str, int]] = field(default_factory=list)  # day, kind, n
    votes: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # answered, 👍, 👎
    groups: list[KindGroup] = field(default_factory=list)
    sweep: list[dict[str, Any]] = field(default_factory=list)
    eval_file: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    drafts: list[tuple[str, str]] = field(default_factory=list)  # id, where
    unreviewed: list[tuple[str, str]] = field(default_factory=list)
    overlaps: list[Problem] = field(default_factory=list)
    common_words: list[Problem] = field(default_factory=list)
    entries: int = 0


def misses_per_day(rows: Iterable[Any]) -> list[tuple[str, str, int]]:
    """(day, kind, count) of stored misses (rows with .day and .kind), by day then kind."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        counts[(row.day, row.kind)] += 1
    return [(d, k, n) for (d, k), n in sorted(counts.items())]


def health(kb: KnowledgeBase, report: ReportData) -> None:
    """Fill in the knowledge base's health: drafts, unreviewed, overlaps, common words."""
    from otbot.tools.checks import unreviewed_entries
    from otbot.tools.overlaps import common_word_problems, overlap_problems

    report.entries = len(kb.entries)
    report.drafts = [(d.id, f"{d.path}:{d.line}") for d in kb.drafts.values()]
    report.unreviewed = [(e.id, f"{e.path}:{e.line}") for e in unreviewed_entries(kb)]
    report.overlaps = overlap_problems(kb)
    report.common_words = common_word_problems(kb)


# --- the page ----------------------------------------------------------------------------------


def render(report: ReportData) -> str:
    """The whole page, as one string."""
    sections = [
        _section("per-day", "Questions per day, by decision", _per_day(report)),
        _section("votes", "Helpful and unhelpful votes per topic", _votes(report)),
        _section("misses", "The biggest groups of misses", _misses(report)),
        _section("sweep", "Evaluation: threshold sweep", _sweep(report)),
        _section("health", "Knowledge base health", _health(report)),
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>otbot report {html.escape(report.generated)}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<h1>otbot report</h1><p class=\"meta\">Made {html.escape(report.generated)} from the "
        f"knowledge folder <code>{html.escape(report.folder)}</code>. Nothing on this page "
        "says who asked: the bot keeps questions anonymously, for a limited time.</p>"
        + "".join(sections) + "</body></html>\n")


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#222;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2.5rem}
.meta,.note{color:#666}table{border-collapse:collapse;margin:1rem 0;font-size:.92rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}
.chart svg{max-width:100%;height:auto}details{margin:.5rem 0}
.figures{display:flex;gap:1rem;flex-wrap:wrap}.figure{border:1px solid #ddd;border-radius:6px;
padding:.5rem 1rem}.figure b{display:block;font-size:1.6rem}
"""


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{body}</section>'


def _chart(svg: str) -> str:
    """pygal's SVG, inline: its tooltip script and comments removed (no script on the page)."""
    return f'<div class="chart">{_COMMENT.sub("", _SCRIPT.sub("", svg))}</div>'


def _pygal_config(**extra: Any) -> dict[str, Any]:
    return {"js": [], "disable_xml_declaration": True, "width": 1000, "height": 380,
            "legend_at_bottom": True, "truncate_legend": -1, "print_values": False,
            "show_minor_x_labels": True, "x_label_rotation": 30, **extra}


def _table(table_id: str, head: Sequence[str], rows: Iterable[Sequence[Any]],
           numeric: Sequence[bool] | None = None) -> str:
    numeric = numeric or [False] * len(head)
    cells = "".join(f'<th class="{"n" if n else ""}">{html.escape(h)}</th>'
                    for h, n in zip(head, numeric, strict=True))
    body = "".join(
        "<tr>" + "".join(
            f'<td class="n">{_number(v)}</td>' if n else f"<td>{html.escape(str(v))}</td>"
            for v, n in zip(row, numeric, strict=True)) + "</tr>"
        for row in rows)
    return f'<table id="{table_id}"><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>'


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def _pivot(rows: Sequence[tuple[str, str, int]], kinds: Sequence[str]
           ) -> tuple[list[str], list[str], dict[tuple[str, str], int]]:
    """Days (sorted), kinds present (in the given order, then others), counts."""
    counts = {(day, kind): n for day, kind, n in rows}
    days = sorted({day for day, _, _ in rows})
    present = {kind for _, kind, _ in rows}
    ordered = [k for k in kinds if k in present] + sorted(present - set(kinds))
    return days, ordered, counts


def _stacked(title: str, rows: Sequence[tuple[str, str, int]], kinds: Sequence[str],
             table_id: str) -> str:
    import pygal

    days, ordered, counts = _pivot(rows, kinds)
    chart = pygal.StackedBar(**_pygal_config(title=title))
    chart.x_labels = days
    for kind in ordered:
        chart.add(kind, [counts.get((day, kind), 0) for day in days])
    table = _table(table_id, ["day", *ordered, "total"],
                   [[day, *(counts.get((day, k), 0) for k in ordered),
                     sum(counts.get((day, k), 0) for k in ordered)] for day in days],
                   [False, *([True] * (len(ordered) + 1))])
    return _chart(chart.render(is_unicode=True)) + f"<details><summary>The figures</summary>" \
        f"{table}</details>"


def _per_day(report: ReportData) -> str:
    parts = []
    if report.decisions:
        total = sum(n for _, _, n in report.decisions)
        parts.append(f"<p>{total} message(s) handled over "
                     f"{len({d for d, _, _ in report.decisions})} day(s).</p>")
        parts.append(_stacked("Messages per day, by what the bot decided", report.decisions,
                              DECISION_KINDS, "decisions"))
    else:
        parts.append('<p class="note">No per-day decision counts recorded yet (the bot counts '
                     "them from this version on).</p>")
    if report.misses_per_day:
        parts.append("<h3>What went wrong, per day</h3>")
        parts.append(_stacked("Questions that went wrong per day, by kind",
                              report.misses_per_day, MISS_KINDS, "misses-per-day"))
    else:
        parts.append('<p class="note">No misses recorded.</p>')
    return "".join(parts)


def _votes(report: ReportData) -> str:
    import pygal

    voted = {t: c for t, c in report.votes.items() if c[1] or c[2]}
    rows = sorted(report.votes.items(), key=lambda item: (-item[1][2], -item[1][0], item[0]))
    table = _table("votes-table", ["topic", "answered", "👍", "👎"],
                   [[t, a, h, u] for t, (a, h, u) in rows], [False, True, True, True])
    if not voted:
        return '<p class="note">No votes yet.</p>' + (table if rows else "")
    shown = sorted(voted.items(), key=lambda item: (-(item[1][1] + item[1][2]), item[0]))[:25]
    chart = pygal.HorizontalStackedBar(**_pygal_config(
        title="Votes per topic (the 25 most voted)", height=max(300, 28 * len(shown) + 120),
        x_label_rotation=0))
    chart.x_labels = [t for t, _ in shown]
    chart.add("👍 helpful", [c[1] for _, c in shown])
    chart.add("👎 not helpful", [c[2] for _, c in shown])
    return _chart(chart.render(is_unicode=True)) + table


def _misses(report: ReportData) -> str:
    if not report.groups:
        return '<p class="note">No misses recorded.</p>'
    rows = [[g.kind, g.group.count, g.group.wording, " | ".join(g.group.others),
             f"{g.group.first} to {g.group.last}" if g.group.first != g.group.last
             else g.group.first,
             f"{g.group.nearest.topic} ({g.group.nearest.coverage:.0%})" if g.group.nearest
             else "none", g.action] for g in report.groups]
    return ("<p>Similar wordings grouped, most asked first, with the nearest entry (and how "
            "much of the question it covers) and a suggested action. <code>otbot misses</code> "
            "shows every group.</p>"
            + _table("misses-table", ["kind", "asked", "wording", "also", "seen",
                                      "nearest entry", "action"], rows,
                     [False, True, False, False, False, False, False]))


def _sweep(report: ReportData) -> str:
    import pygal

    if not report.sweep:
        return '<p class="note">No evaluation file given (<code>--eval FILE</code>).</p>'
    parts = [f"<p>From <code>{html.escape(report.eval_file)}</code>: the figures if one "
             "threshold were moved, the others as they are (* marks the current setting).</p>"]
    if report.metrics:
        parts.append('<div class="figures">' + "".join(
            f'<div class="figure" data-metric="{key}"><b>{report.metrics[key]:.3f}</b>'
            f"{html.escape(label)}</div>" for key, label in SWEEP_FIGURES) + "</div>")
    for threshold in dict.fromkeys(row["threshold"] for row in report.sweep):
        rows = [row for row in report.sweep if row["threshold"] == threshold]
        chart = pygal.Line(**_pygal_config(title=f"Moving {threshold}", range=(0, 1),
                                           x_label_rotation=0, dots_size=3))
        chart.x_labels = [f"{row['value']:.2f}{' *' if row['current'] else ''}" for row in rows]
        for key, label in SWEEP_FIGURES:
            chart.add(label, [row[key] for row in rows])
        parts.append(_chart(chart.render(is_unicode=True)))
        parts.append(_table(f"sweep-{threshold}", ["value", *(label for _, label in
                                                               SWEEP_FIGURES)],
                            [[f"{row['value']:.2f}{' *' if row['current'] else ''}",
                              *(row[key] for key, _ in SWEEP_FIGURES)] for row in rows],
                            [False, True, True, True, True]))
    return "".join(parts)


def _health(report: ReportData) -> str:
    figures = [("entries", "published entries", report.entries),
               ("drafts", "drafts", len(report.drafts)),
               ("unreviewed", "without a review", len(report.unreviewed)),
               ("overlaps", "overlap warnings", len(report.overlaps)),
               ("common-words", "common-word keywords", len(report.common_words))]
    parts = ['<div class="figures">' + "".join(
        f'<div class="figure" data-health="{key}"><b>{value}</b>{html.escape(label)}</div>'
        for key, label, value in figures) + "</div>"]
    for table_id, title, rows in (
            ("drafts-table", "Drafts (parents never see them)", report.drafts),
            ("unreviewed-table", "Entries without a review", report.unreviewed)):
        if rows:
            parts.append(f"<details><summary>{html.escape(title)} ({len(rows)})</summary>"
                         + _table(table_id, ["entry", "where"], rows) + "</details>")
    for table_id, title, problems in (
            ("overlaps-table", "Wordings that collide", report.overlaps),
            ("common-words-table", "Keywords and synonyms that are common words",
             report.common_words)):
        if problems:
            parts.append(f"<details><summary>{html.escape(title)} ({len(problems)})</summary>"
                         + _table(table_id, ["where", "warning"],
                                  [[f"{p.path}:{p.line}", p.message] for p in problems])
                         + "</details>")
    return "".join(parts)


def today() -> str:
    """The generation time shown on the page."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
