"""The screen's summary for the pediatrician: a forwardable message and a PDF (or text) file."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

from otbot.dialog.replies import Document
from otbot.kb.markup import visible_text
from otbot.kb.screen import Answer, Answers, Item, Outcome, Screen

# Typography that the PDF core fonts (Latin-1) cannot show, as the nearest plain characters.
PLAIN = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": "'",
                       "\u2019": "'", "\u201a": "'", "\u2013": "-", "\u2014": "-",
                       "\u2026": "...", "\u2022": "-", "\u2713": "*"})
# Sizes that keep the longest summary (every sign noticed, every area's ideas) on one page.
PDF_STYLES = {"title": ("B", 14), "heading": ("B", 11), "text": ("", 10), "bullet": ("", 10),
              "note": ("I", 10)}


@dataclass(frozen=True)
class Line:
    """One line of the summary: how it is set, and its Telegram-HTML text."""

    style: str  # title, heading, text, bullet or note
    html: str

    def plain(self) -> str:
        """The text as a parent sees it, with a dash for a bullet."""
        return ("- " if self.style == "bullet" else "") + visible_text(self.html)


def flagged_areas(screen: Screen, outcome: Outcome) -> list[tuple[str, str]]:
    """(area name, result label) of the flagged areas, most pressing result first."""
    flagged = []
    for result in screen.area_results:
        if result.flagged:
            flagged += [(area.name, result.label) for area in screen.areas
                        if outcome.areas[area.id] == result.id]
    return flagged


def summary_lines(screen: Screen, answers: Answers, outcome: Outcome, day: dt.date
                  ) -> list[Line]:
    """The summary: date, age, result, strengths, each sign and its answer, areas, ideas,
    questions, disclaimer: everything the results and their details said, in one place."""
    lines = [Line("title", screen.summary_text("title")),
             Line("text", screen.summary_text("intro")),
             Line("text", screen.summary_text("date", date=day.isoformat())),
             Line("text", screen.summary_text("age", age=screen.band_label(answers.band))),
             Line("text", screen.summary_text("result", tier=screen.tier(outcome.tier).title))]
    strengths = [item.strength for item in screen.items
                 if item.id in outcome.having(screen.rules.strengths)]
    if strengths:
        lines.append(Line("heading", screen.text("strengths_title")))
        lines += [Line("bullet", strength) for strength in strengths]
    lines.append(Line("heading", screen.summary_text("signs_title")))
    for number, item in enumerate(screen.items, 1):
        answer = _answer_words(screen, item, answers)
        lines.append(Line("text", f"{number}. {item.title}: {answer}"))
    lines.append(Line("text", f"{screen.lost_skill.title}: {screen.yes_no_label(answers.lost)}"))
    areas = flagged_areas(screen, outcome)
    lines.append(Line("heading", screen.summary_text("areas_title")))
    lines += [Line("bullet", f"{name}: {label}") for name, label in areas] or [
        Line("text", screen.summary_text("areas_none"))]
    ideas = [area for area in screen.areas if screen.flagged(outcome, area)]
    if ideas:
        lines.append(Line("heading", screen.summary_text("ideas_title")))
        lines += [Line("bullet", f"{area.name}: {area.tip_for(answers.band)}") for area in ideas]
    lines.append(Line("heading", screen.summary_text("questions_title")))
    lines += [Line("bullet", question) for question in _questions(screen, answers, outcome)]
    lines.append(Line("note", screen.text("disclaimer")))
    return lines


def _answer_words(screen: Screen, item: Item, answers: Answers) -> str:
    """An item's answer with its follow-ups, in words for the doctor."""
    answer: Answer | None = answers.items.get(item.id)
    option = screen.option(answer.option) if answer else None
    expected = item.expected(answers.band)
    words = [option.label] if option else [] if not expected else [screen.text("skipped")]
    if not expected:  # not asked at this age, unless the parent opened it from the review
        words.append(screen.summary_text("not_expected"))
    given = answer.follow if answer else {}
    words += [f"{follow_up.summary}: {screen.yes_no_label(given[follow_up.id]).lower()}"
              for follow_up in screen.follow_ups if follow_up.id in given]
    return "; ".join(words)


def _questions(screen: Screen, answers: Answers, outcome: Outcome) -> list[str]:
    """Questions to ask: a lost skill first, then flagged areas and signs, then the general."""
    asks = [screen.lost_skill.ask] if answers.lost == "y" else []
    asks += [area.ask for area in screen.areas if screen.flagged(outcome, area)]
    asks += [item.ask for item in screen.items if item.ask and screen.noticed(outcome, item)]
    return list(dict.fromkeys([*asks, *screen.questions]))


def summary_html(lines: list[Line]) -> str:
    """The summary as one Telegram-HTML message, to forward to the doctor."""
    parts = []
    for line in lines:
        prefix = "\n" if line.style in ("heading", "note") else ""
        parts.append(prefix + ("• " if line.style == "bullet" else "") + line.html)
    return "\n".join(parts)


def summary_text(lines: list[Line]) -> str:
    """The summary as plain text."""
    return "\n".join(("\n" if line.style in ("heading", "note") else "") + line.plain()
                     for line in lines) + "\n"


def summary_document(lines: list[Line], day: dt.date) -> Document:
    """The summary as a PDF, or as a .txt file where fpdf2 is not installed."""
    name = f"ot-checklist-{day.isoformat()}"
    pdf = _pdf(lines)
    if pdf is None:
        return Document(f"{name}.txt", summary_text(lines).encode("utf-8"))
    return Document(f"{name}.pdf", pdf)


def _pdf(lines: list[Line]) -> bytes | None:
    """A one-page A4 PDF in a core font, or None without fpdf2."""
    try:
        from fpdf import FPDF  # optional, and only needed when a parent asks for the file
    except ImportError:
        return None
    pdf = FPDF(format="A4")
    pdf.set_compression(False)  # one page of text stays small, and stays readable by tools
    pdf.set_margins(16, 14, 16)
    pdf.set_auto_page_break(True, margin=14)
    pdf.add_page()
    for line in lines:
        style, size = PDF_STYLES[line.style]
        pdf.set_font("Helvetica", style, size)
        if line.style in ("heading", "note"):
            pdf.ln(2)
        pdf.multi_cell(0, size * 0.45, core_font(line.plain()), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def core_font(text: str) -> str:
    """The text with every character a PDF core font cannot show replaced by a close one."""
    text = text.translate(PLAIN)
    return "".join(char if ord(char) < 256 else _nearest(char) for char in text)


def _nearest(char: str) -> str:
    """An accented letter without its accent, else '?'."""
    base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
    return base or "?"
