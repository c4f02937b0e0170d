"""`otbot report`: one self-contained page, whose figures are the database's."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sqlite3
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from paths import ROOT

from otbot.cli import main
from otbot.effects import Answered, Decided, Miss, MissKind, Vote
from otbot.kb import default_dir
from otbot.store import SqliteStore
from otbot.tools.evaluation import evaluate, read_items
from otbot.tools.misses import DATABASE
from otbot.understanding.matcher import Matcher

START = dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC)
DEV = ROOT / "eval" / "dev.yaml"


class Page(HTMLParser):
    """The page's tables (by id: rows of cell texts), tags and attributes seen."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.figures: dict[str, str] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._figure: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]
        found = dict(attrs)
        if tag == "table":
            self._table = found.get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "div" and (found.get("data-health") or found.get("data-metric")):
            self._figure = found.get("data-health") or found.get("data-metric")
        elif tag == "b" and self._figure:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "b" and self._figure and self._cell is not None:
            self.figures[self._figure] = "".join(self._cell)
            self._cell, self._figure = None, None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def body(self, table: str) -> list[list[str]]:
        """A table's rows without its header."""
        return self.tables[table][1:]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Page, str]:
    """A database with a week of traffic, a folder with a draft, and the page made from them."""
    tmp = tmp_path_factory.mktemp("report")
    folder = tmp / "knowledge"
    shutil.copytree(default_dir(), folder)
    (folder / "faq" / "drafts.yaml").write_text(
        "- id: wobble-boards\n  question: Are wobble boards good?\n  alternates: [wobble]\n"
        "  answer: Often.\n  draft: true\n", encoding="utf-8")
    data = tmp / "data"
    store = SqliteStore(data / DATABASE)
    for n in range(7):
        day = START + dt.timedelta(days=n)
        effects = [Decided("answer")] * (n + 2) + [Decided("fallback")] * (n % 3) + [
            Decided("clarify"), Answered("insurance"), Vote("insurance", n % 2 == 0),
            Miss("best stroller for twins"), Miss("is a stroller good for twins"),
            Miss("how much is it", MissKind.UNHELPFUL, "cost")]
        if n % 2:
            effects.append(Miss("is ot covered", MissKind.CLARIFY, "insurance",
                                ("insurance", "school-ot")))
            effects.append(Vote("sensory-processing", False))
        store.commit(n, {}, effects, None, day)
    store.close()
    output = tmp / "page.html"
    assert main(["report", "--knowledge", str(folder), "--data", str(data), "--eval", str(DEV),
                 "--output", str(output)]) == 0
    text = output.read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    return folder, data / DATABASE, page, text


def test_the_page_is_self_contained(made: tuple[Path, Path, Page, str]) -> None:
    """No script, no stylesheet or image from elsewhere: it opens offline."""
    _, _, page, text = made
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    for tag, name, value in page.attributes:
        if name in ("src", "href", "xlink:href", "action"):
            assert not re.match(r"^\s*(https?:|//)", value), (tag, name, value)
    assert "@import" not in text and "url(http" not in text
    svgs = re.findall(r"<svg\b.*?</svg>", text, re.S)
    assert len(svgs) >= 5  # per day, misses per day, votes, two sweeps
    for svg in svgs:
        ET.fromstring(svg)  # well-formed inline SVG


def test_questions_per_day_are_the_stored_counts(made: tuple[Path, Path, Page, str]) -> None:
    _, database, page, _ = made
    with sqlite3.connect(database) as db:
        stored = {(day, kind): n for day, kind, n in db.execute(
            "SELECT day, kind, count FROM decision_counts")}
        missed = {(day, kind): n for day, kind, n in db.execute(
            "SELECT day, kind, COUNT(*) FROM misses GROUP BY day, kind")}
    for table, expected in (("decisions", stored), ("misses-per-day", missed)):
        head, *rows = page.tables[table]
        shown = {(row[0], kind): int(value) for row in rows
                 for kind, value in zip(head[1:-1], row[1:-1], strict=True) if int(value)}
        assert shown == expected
        assert all(int(row[-1]) == sum(map(int, row[1:-1])) for row in rows)
    assert len(page.body("decisions")) == 7


def test_votes_per_topic_are_the_stored_counts(made: tuple[Path, Path, Page, str]) -> None:
    _, database, page, _ = made
    with sqlite3.connect(database) as db:
        stored = {topic: [a, h, u] for topic, a, h, u in db.execute(
            "SELECT topic, answered, helpful, unhelpful FROM topic_counts")}
    assert {row[0]: list(map(int, row[1:])) for row in page.body("votes-table")} == stored
    assert stored["insurance"] == [7, 4, 3]


def test_the_biggest_groups_of_misses(made: tuple[Path, Path, Page, str]) -> None:
    _, _, page, _ = made
    rows = page.body("misses-table")
    assert [(row[0], int(row[1]), row[2]) for row in rows] == [
        ("fallback", 14, "best stroller for twins"), ("unhelpful", 7, "how much is it"),
        ("clarify", 3, "is ot covered")]
    assert rows[0][3] == "is a stroller good for twins"
    assert rows[0][6] == "a new topic: no entry covers this question"
    assert rows[2][6].startswith("add an alternate to 'insurance'")


def test_the_sweep_is_the_evaluation(made: tuple[Path, Path, Page, str]) -> None:
    folder, _, page, _ = made
    from otbot.kb import load_knowledge

    metrics = evaluate(Matcher(load_knowledge(folder)), read_items(DEV)).metrics
    for threshold in ("answer_coverage", "clarify_domain"):
        rows = page.body(f"sweep-{threshold}")
        assert len(rows) == 9
        [current] = [row for row in rows if row[0].endswith("*")]
        assert [float(v) for v in current[1:]] == [
            round(metrics[key], 3) for key in ("answered_right", "answered_or_offered",
                                               "answered_wrong", "out_of_scope_rejected")]
    assert float(page.figures["answered_right"]) == round(metrics["answered_right"], 3)


def test_the_knowledge_base_health(made: tuple[Path, Path, Page, str]) -> None:
    folder, _, page, _ = made
    from otbot.kb import load_knowledge
    from otbot.tools.checks import unreviewed_entries
    from otbot.tools.overlaps import common_word_problems, overlap_problems

    kb = load_knowledge(folder)
    assert page.figures["drafts"] == "1"
    assert page.body("drafts-table") == [["wobble-boards", "knowledge/faq/drafts.yaml:1"]]
    assert int(page.figures["entries"]) == len(kb.entries)
    assert int(page.figures["unreviewed"]) == len(unreviewed_entries(kb))
    assert int(page.figures["overlaps"]) == len(overlap_problems(kb))
    assert int(page.figures["common-words"]) == len(common_word_problems(kb))


def test_without_a_database_the_page_still_shows_the_knowledge_base(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "page.html"
    assert main(["report", "--data", str(tmp_path / "none"), "--no-eval",
                 "--output", str(output)]) == 0
    assert "no database at" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
    page = Page()
    page.feed(output.read_text(encoding="utf-8"))
    assert "entries" in page.figures and "script" not in page.tags
