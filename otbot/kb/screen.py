"""The red-flag screen's definition (screen.yaml): read it, validate it, evaluate answers."""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from otbot.kb.markup import MAX_CALLBACK_ANSWER, utf16_length, visible_text
from otbot.kb.reader import AREAS, ID_PATTERN, UNREADABLE, Reader, default_dir, mapping_file
from otbot.kb.yamlfile import MarkedDict, MarkedList

FILE = "screen.yaml"
ID_MAX = 12  # ids of items, bands, options, follow-ups travel in 64-byte button data
ID_LONGEST = 40  # other ids, as in the FAQ
SKIPPED = "skipped"  # the mark of an item with no (known) answer
RESERVED_ITEM_IDS = frozenset({"age", "lost"})  # review targets besides the items
FOLLOW_VALUES: dict[str, bool | None] = {"y": True, "n": False, "u": None}
FOLLOW_BUTTONS = {"y": "yes", "n": "no", "u": "unsure"}  # a yes/no answer -> its button label
LABEL_MAX = 30  # buttons and result labels: short enough for one line on a phone
TITLE_MAX = 40  # item titles and area names, also used on buttons
SHORT_MAX = 500  # pieces of a question message
LONG_MAX = 1500  # paragraphs of the intro and results
# Labels say what to do, not what a child "has": a checklist must not sound like a verdict.
LABEL_WORDS = re.compile(r"risk|normal|disorder|delay|diagnos", re.IGNORECASE)

TOP_FIELDS = {"texts", "buttons", "summary", "bands", "options", "follow_ups",
              "items", "lost_skill", "areas", "area_results", "tiers", "rules"}
# Each text of the dialog: the {placeholders} it may use and its longest visible length.
TEXTS: dict[str, tuple[str, int]] = {
    "intro": ("count days", LONG_MAX), "open": ("", SHORT_MAX), "resume": ("", SHORT_MAX),
    "cancelled": ("", SHORT_MAX), "stale": ("", SHORT_MAX),
    "picked_up": ("", MAX_CALLBACK_ANSWER), "age_question": ("", SHORT_MAX),
    "progress": ("n total", SHORT_MAX), "example": ("example", SHORT_MAX),
    "not_expected": ("", SHORT_MAX), "how_often": ("", SHORT_MAX),
    "follow_up_context": ("title answer", SHORT_MAX), "lost_progress": ("", SHORT_MAX),
    "review_title": ("", SHORT_MAX), "review_hint": ("", SHORT_MAX),
    "review_age": ("age", SHORT_MAX), "skipped": ("", LABEL_MAX),
    "age_not_given": ("", LABEL_MAX), "results_title": ("", SHORT_MAX),
    "strengths_title": ("", SHORT_MAX), "strengths_none": ("", SHORT_MAX),
    "areas_title": ("", SHORT_MAX), "area_line": ("area result", SHORT_MAX),
    "noticed_in": ("items", SHORT_MAX), "not_sure": ("items", SHORT_MAX),
    "try_title": ("", SHORT_MAX), "next_title": ("", SHORT_MAX), "screening": ("", SHORT_MAX),
    "wait_and_see": ("", LONG_MAX), "disclaimer": ("", SHORT_MAX),
    "not_yet": ("", LABEL_MAX), "details_title": ("", SHORT_MAX),
}
BUTTONS = ("start", "cancel", "continue", "start_over", "resume", "back", "skip", "yes", "no",
           "unsure", "results", "summary", "details", "again", "change_age", "change_lost")
SUMMARY_TEXTS: dict[str, tuple[str, int]] = {
    "title": ("", SHORT_MAX), "intro": ("", LONG_MAX), "date": ("date", SHORT_MAX),
    "age": ("age", SHORT_MAX), "result": ("tier", SHORT_MAX),
    "signs_title": ("", SHORT_MAX), "not_expected": ("", SHORT_MAX),
    "ideas_title": ("", SHORT_MAX),
    "areas_title": ("", SHORT_MAX), "areas_none": ("", SHORT_MAX),
    "questions_title": ("", SHORT_MAX), "file_caption": ("", MAX_CALLBACK_ANSWER),
}


@dataclass(frozen=True)
class Link:
    """A button to an FAQ topic."""

    topic: str
    label: str


@dataclass(frozen=True)
class Band:
    """An age range: tunes examples, marks skills not expected yet, adds a next step."""

    id: str
    label: str
    next_step: str = ""
    links: tuple[Link, ...] = ()


@dataclass(frozen=True)
class Option:
    """One answer to a sign (Often, Sometimes, ...); `follow_up` asks the follow-ups."""

    id: str
    label: str
    follow_up: bool = False


@dataclass(frozen=True)
class FollowUp:
    """A yes/no question asked after an answer that has follow-ups."""

    id: str
    question: str
    short: str
    summary: str


@dataclass(frozen=True)
class Item:
    """One of the signs."""

    id: str
    title: str
    question: str
    examples: Mapping[str, str]
    areas: tuple[str, ...]
    strength: str
    not_expected: frozenset[str] = frozenset()
    next_step: str = ""
    ask: str = ""
    questions: Mapping[str, str] = field(default_factory=dict)  # band: the question in its words

    def example(self, band: str | None) -> str:
        """The example for the age band, else the general one."""
        return self.examples.get(band or "", self.examples["default"])

    def question_for(self, band: str | None) -> str:
        """The question in the words of the age band (a baby's own), else the general one."""
        return self.questions.get(band or "", self.question)

    def expected(self, band: str | None) -> bool:
        """Whether most children of the band have this skill yet."""
        return band not in self.not_expected


@dataclass(frozen=True)
class LostSkill:
    """The question about a skill the child has lost."""

    title: str
    question: str
    example: str
    unsure_note: str
    ask: str


@dataclass(frozen=True)
class Area:
    """One of the six skill areas of the article."""

    id: str
    name: str
    topic: str
    tip: str
    ask: str
    tips: Mapping[str, str] = field(default_factory=dict)  # band: ideas fit for that age

    def tip_for(self, band: str | None) -> str:
        """Ideas to try at home for the age band, else the general ones."""
        return self.tips.get(band or "", self.tip)


@dataclass(frozen=True)
class AreaResult:
    """What an area can be marked; flagged ones go to the doctor's list."""

    id: str
    label: str
    flagged: bool = False


@dataclass(frozen=True)
class Tier:
    """The overall result."""

    id: str
    title: str
    text: str
    links: tuple[Link, ...] = ()


@dataclass(frozen=True)
class SignRule:
    """Gives `sign` to an answer when all its conditions hold."""

    sign: str
    answers: frozenset[str] = frozenset()
    expected: bool | None = None
    follow: tuple[tuple[str, bool], ...] = ()
    line: int = field(default=0, compare=False)

    def applies(self, option: str, expected: bool, follow: Mapping[str, bool | None]) -> bool:
        """Whether the answer meets every condition of the rule."""
        return ((not self.answers or option in self.answers)
                and self.expected in (None, expected)
                and all(follow.get(key) is value for key, value in self.follow))


@dataclass(frozen=True)
class CountRule:
    """Gives `result` when `marks` are found on at_least..at_most signs (and lost_skill holds)."""

    result: str
    marks: frozenset[str] = frozenset()
    at_least: int = 1
    at_most: int | None = None
    lost_skill: bool | None = None
    line: int = field(default=0, compare=False)

    @property
    def unconditional(self) -> bool:
        """A fallback rule that always applies."""
        return not self.marks and self.lost_skill is None

    def applies(self, marks: Iterable[frozenset[str]], lost: bool | None) -> bool:
        """Whether the rule holds for the marks of the signs counted."""
        if self.lost_skill is not None and lost is not self.lost_skill:
            return False
        if not self.marks:
            return True
        count = sum(1 for found in marks if found & self.marks)
        return count >= self.at_least and (self.at_most is None or count <= self.at_most)


@dataclass(frozen=True)
class Rules:
    """How answers become signs, area results and the tier."""

    signs: tuple[SignRule, ...]
    noticed: frozenset[str]
    strengths: frozenset[str]
    not_sure: frozenset[str]
    areas: tuple[CountRule, ...]
    tiers: tuple[CountRule, ...]


@dataclass(frozen=True)
class Answer:
    """A parent's answer to one sign: option id and follow-up answers ("y", "n", "u")."""

    option: str
    follow: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answers:
    """Everything a parent answered in one run of the screen."""

    band: str | None
    items: Mapping[str, Answer]
    lost: str | None = None  # "y", "n", "u" or not answered


@dataclass(frozen=True)
class Outcome:
    """What the answers suggest: a sign and marks per item, a result per area, one tier."""

    signs: Mapping[str, str]
    marks: Mapping[str, frozenset[str]]
    areas: Mapping[str, str]
    tier: str

    def having(self, signs: frozenset[str]) -> tuple[str, ...]:
        """The ids of the items whose sign is one of `signs`, in screen order."""
        return tuple(item for item, sign in self.signs.items() if sign in signs)


@dataclass(frozen=True)
class Screen:
    """The whole screen, validated."""

    texts: Mapping[str, str]
    buttons: Mapping[str, str]
    summary: Mapping[str, str]
    questions: tuple[str, ...]
    bands: tuple[Band, ...]
    options: tuple[Option, ...]
    follow_ups: tuple[FollowUp, ...]
    items: tuple[Item, ...]
    lost_skill: LostSkill
    areas: tuple[Area, ...]
    area_results: tuple[AreaResult, ...]
    tiers: tuple[Tier, ...]
    rules: Rules

    def text(self, key: str, **values: object) -> str:
        """A dialog text with its {placeholders} filled in."""
        return self.texts[key].format(**values)

    def summary_text(self, key: str, **values: object) -> str:
        """A text of the summary with its {placeholders} filled in."""
        return self.summary[key].format(**values)

    def item(self, item_id: str) -> Item | None:
        """The item with this id."""
        return _find(self.items, item_id)

    def band(self, band_id: str | None) -> Band | None:
        """The age band with this id."""
        return _find(self.bands, band_id)

    def option(self, option_id: str | None) -> Option | None:
        """The answer option with this id."""
        return _find(self.options, option_id)

    def area_result(self, result_id: str) -> AreaResult:
        """The area result with this id (rules only give known ones)."""
        return _get(self.area_results, result_id)

    def tier(self, tier_id: str) -> Tier:
        """The tier with this id (rules only give known ones)."""
        return _get(self.tiers, tier_id)

    def band_label(self, band_id: str | None) -> str:
        """The age band as the parent chose it, or "not given"."""
        band = self.band(band_id)
        return band.label if band else self.texts["age_not_given"]

    def yes_no_label(self, value: str | None) -> str:
        """A yes/no/not-sure answer as its button says it, or "Skipped"."""
        key = FOLLOW_BUTTONS.get(value or "")
        return self.buttons[key] if key else self.texts["skipped"]

    def flagged(self, outcome: Outcome, area: Area) -> bool:
        """Whether the area's result is one to discuss or watch."""
        return self.area_result(outcome.areas[area.id]).flagged

    def noticed(self, outcome: Outcome, item: Item) -> bool:
        """Whether the parent noticed this sign: a sign that counts, or a follow-up said yes."""
        return bool(outcome.marks[item.id] & (self.rules.noticed
                                               | {f.id for f in self.follow_ups}))

    def evaluate(self, answers: Answers) -> Outcome:
        """Apply the rules: a sign per item, a result per area, and the tier."""
        signs: dict[str, str] = {}
        marks: dict[str, frozenset[str]] = {}
        for item in self.items:
            signs[item.id], marks[item.id] = self._judge(item, answers)
        areas = {area.id: _first(self.rules.areas,
                                 [marks[i.id] for i in self.items if area.id in i.areas], None)
                 for area in self.areas}
        tier = _first(self.rules.tiers, marks.values(), FOLLOW_VALUES.get(answers.lost or ""))
        return Outcome(signs, marks, areas, tier)

    def _judge(self, item: Item, answers: Answers) -> tuple[str, frozenset[str]]:
        """An item's sign, and its marks: the sign plus the follow-ups answered yes."""
        answer = answers.items.get(item.id)
        option = self.option(answer.option) if answer else None
        expected = item.expected(answers.band)
        if answer is None or option is None:
            # Not asked because the skill is not expected yet: the sign of a rule about the
            # age alone (not yet), never a strength and never a gap in the answers.
            sign = None if expected else next(
                (rule.sign for rule in self.rules.signs
                 if not rule.answers and not rule.follow and rule.applies("", False, {})), None)
            return (sign, frozenset({sign})) if sign else (SKIPPED, frozenset({SKIPPED}))
        follow = {f.id: FOLLOW_VALUES.get(answer.follow.get(f.id, "")) if option.follow_up
                  else None for f in self.follow_ups}
        sign = next((rule.sign for rule in self.rules.signs
                     if rule.applies(option.id, expected, follow)), SKIPPED)
        return sign, frozenset({sign} | {key for key, value in follow.items() if value})


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


Thing = TypeVar("Thing", bound=_HasId)


def _find(things: Iterable[Thing], thing_id: str | None) -> Thing | None:
    return next((thing for thing in things if thing.id == thing_id), None)


def _get(things: Iterable[Thing], thing_id: str) -> Thing:
    found = _find(things, thing_id)
    if found is None:
        raise KeyError(thing_id)
    return found


def _first(rules: tuple[CountRule, ...], marks: Iterable[frozenset[str]],
           lost: bool | None) -> str:
    """The result of the first rule that applies; validation makes the last one a fallback."""
    counted = list(marks)
    return next((rule.result for rule in rules if rule.applies(counted, lost)), rules[-1].result)


def read_screen(reader: Reader, entries: Mapping[str, Any]) -> Screen | None:
    """The folder's screen.yaml (else the shipped one), validated; None after an error."""
    if not (reader.folder / FILE).exists() and not (default_dir() / FILE).exists():
        reader.error(reader.shown(reader.folder / FILE), 1,
                     "no checklist: add screen.yaml (copy the shipped one to start)")
        return None
    data, path = mapping_file(reader, FILE)
    if data is UNREADABLE:
        return None
    # The shipped screen links to the shipped FAQ topics; a folder without a screen of its
    # own borrows it, dropping the links its own entries cannot answer.
    own = (reader.folder / FILE).exists()
    return _ScreenReader(reader, path, entries, strict_topics=own).screen(data)


class _ScreenReader:
    """Turns screen.yaml data into a Screen, reporting each problem at its line."""

    def __init__(self, reader: Reader, path: str, entries: Mapping[str, Any], *,
                 strict_topics: bool = True) -> None:
        self.reader = reader
        self.path = path
        self.entries = entries
        self.strict_topics = strict_topics
        self._before = 0  # errors recorded before this screen was read

    def error(self, line: int, message: str) -> None:
        """Record an error in screen.yaml."""
        self.reader.error(self.path, line, message)

    def _errors(self) -> int:
        return sum(p.level == "error" for p in self.reader.problems)

    def screen(self, data: Any) -> Screen | None:
        """The screen, or None if any part of it has an error (all of them reported)."""
        if not isinstance(data, MarkedDict):
            self.error(getattr(data, "line", 1), "screen.yaml must be a mapping of texts, "
                                                 "items and rules")
            return None
        before = self._before = self._errors()
        self.reader.fields(data, TOP_FIELDS, self.path, "screen.yaml")
        bands = self._bands(data)
        areas = self._areas(data, {b.id for b in bands})
        options = self._options(data)
        follow_ups = self._follow_ups(data)
        items = self._items(data, {b.id for b in bands}, {a.id for a in areas})
        area_results = self._area_results(data)
        tiers = self._tiers(data)
        rules = self._rules(data, options, follow_ups, area_results, tiers)
        summary = self._section(data, "summary")
        screen = Screen(
            texts=self._texts(self._section(data, "texts"), TEXTS, "texts"),
            buttons=self._buttons(self._section(data, "buttons")),
            summary=self._texts(summary, SUMMARY_TEXTS, "summary", extra={"questions"}),
            questions=self._list(summary, "questions"),
            bands=bands, options=options, follow_ups=follow_ups, items=items,
            lost_skill=self._lost_skill(data), areas=areas, area_results=area_results,
            tiers=tiers, rules=rules)
        return screen if self._errors() == before else None

    # -- building blocks ---------------------------------------------------------------

    def text(self, data: MarkedDict, key: str, *, limit: int = SHORT_MAX,
             placeholders: str = "", required: bool = True, label: bool = False) -> str:
        """A Telegram-HTML text within `limit`, using only the allowed {placeholders}."""
        value = self.reader.text(data, key, self.path, html=True, required=required)
        if value:
            self._check_text(value, data.line_of(key), key, limit, set(placeholders.split()),
                             label)
        return value

    def _check_text(self, value: str, line: int, key: str, limit: int, allowed: set[str],
                    label: bool) -> None:
        shown = visible_text(value)
        if utf16_length(shown) > limit:
            self.error(line, f"'{key}' is {utf16_length(shown)} characters; keep it under {limit}")
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError:
            self.error(line, f"'{key}': a brace that is not a {{placeholder}} must be doubled")
            return
        for name in sorted(names - allowed):
            known = ", ".join(f"{{{n}}}" for n in sorted(allowed)) or "none"
            self.error(line, f"'{key}': unknown placeholder {{{name}}} (known here: {known})")
        if label and (word := LABEL_WORDS.search(shown)):
            self.error(line, f"'{key}': do not use '{word.group()}' in a label; say what to do, "
                             "not what the child has")

    def label(self, data: MarkedDict, key: str, limit: int = LABEL_MAX) -> str:
        """A short label (a button, a title, a result)."""
        return self.text(data, key, limit=limit, label=True)

    def _section(self, data: MarkedDict, key: str) -> MarkedDict:
        """A mapping field; an empty one (reported) if missing or not a mapping."""
        value = data.get(key)
        if isinstance(value, MarkedDict):
            return value
        if value is None:
            self.error(data.line, f"missing field '{key}'")
        else:
            self.error(data.line_of(key), f"'{key}' must be a mapping")
        empty = MarkedDict()
        empty.line, empty.key_lines, empty.duplicate_keys = data.line_of(key), {}, []
        return empty

    def _records(self, data: MarkedDict, key: str, fields: set[str], what: str,
                 longest: int = ID_LONGEST) -> list[tuple[str, MarkedDict]]:
        """The mappings of a list field with a valid, unique id, each checked for its fields."""
        value = data.get(key)
        if not isinstance(value, MarkedList) or not value:
            self.error(data.line_of(key), f"'{key}' must be a non-empty list" if key in data
                       else f"missing field '{key}'")
            return []
        records: list[tuple[str, MarkedDict]] = []
        seen: dict[str, int] = {}
        for item, line in zip(value, value.item_lines, strict=True):
            if not isinstance(item, MarkedDict):
                self.error(line, f"each of '{key}' must be a mapping with an id")
                continue
            self.reader.fields(item, fields | {"id"}, self.path, what)
            item_id = self.ident(item, what, longest=longest)
            if item_id is None:
                continue
            if item_id in seen:
                self.error(item.line_of("id"), f"duplicate id '{item_id}' (first at line "
                                               f"{seen[item_id]})")
                continue
            seen[item_id] = item.line_of("id")
            records.append((item_id, item))
        return records

    def ident(self, data: MarkedDict, what: str, key: str = "id", longest: int = ID_LONGEST
              ) -> str | None:
        """An id of a-z, 0-9 and '-', at most `longest` characters."""
        value = data.get(key)
        if value is None:
            self.error(data.line, f"missing field '{key}' in {what}")
            return None
        if not isinstance(value, str) or not ID_PATTERN.match(value) or len(value) > longest:
            self.error(data.line_of(key), f"'{key}' must be 1-{longest} characters of a-z, 0-9 "
                                          "and '-', starting with a letter or digit")
            return None
        return value

    def ids(self, data: MarkedDict, key: str, known: Iterable[str], what: str,
            required: bool = False) -> tuple[str, ...]:
        """A list of ids, each one of `known`."""
        values = self.reader.texts(data, key, self.path, required=required)
        known = set(known)
        for value in values:
            if value not in known:
                self.error(data.line_of(key), f"unknown {what} '{value}' in '{key}'; known: "
                                              f"{', '.join(sorted(known))}")
        return tuple(v for v in values if v in known)

    def flag(self, data: MarkedDict, key: str) -> bool | None:
        """A yes/no field; None when absent."""
        value = data.get(key)
        if value is not None and not isinstance(value, bool):
            self.error(data.line_of(key), f"'{key}' must be yes or no")
            return None
        return value

    def _list(self, data: MarkedDict, key: str) -> tuple[str, ...]:
        """A list of HTML texts."""
        values = self.reader.texts(data, key, self.path)
        lines = data[key].item_lines if isinstance(data.get(key), MarkedList) else []
        for value, line in zip(values, lines, strict=False):
            self._check_text(value, line, key, SHORT_MAX, set(), False)
        return values

    def links(self, data: MarkedDict) -> tuple[Link, ...]:
        """Buttons to FAQ topics, each topic an existing entry."""
        value = data.get("links")
        if value is None:
            return ()
        if not isinstance(value, MarkedList):
            self.error(data.line_of("links"), "'links' must be a list of topic and label")
            return ()
        links = []
        for item, line in zip(value, value.item_lines, strict=True):
            if not isinstance(item, MarkedDict):
                self.error(line, "each link needs a topic and a label")
                continue
            self.reader.fields(item, {"topic", "label"}, self.path, "a link")
            topic = self.topic(item)
            label = self.label(item, "label", TITLE_MAX)
            if topic and label:
                links.append(Link(topic, label))
        return tuple(links)

    def topic(self, data: MarkedDict) -> str:
        """An FAQ topic id that exists ("" for a borrowed screen's link to a missing one)."""
        topic = self.reader.text(data, "topic", self.path)
        if topic and topic not in self.entries:
            why = self.reader.unknown_topic(topic) if self.strict_topics else None
            if why:  # None: a borrowed screen, or the entry's own error already says it
                self.error(data.line_of("topic"), why)
            return ""
        return topic

    # -- sections ----------------------------------------------------------------------

    def _texts(self, data: MarkedDict, specs: Mapping[str, tuple[str, int]], what: str,
               extra: set[str] | None = None) -> dict[str, str]:
        self.reader.fields(data, set(specs) | (extra or set()), self.path, what)
        return {key: self.text(data, key, limit=limit, placeholders=names)
                for key, (names, limit) in specs.items()}

    def _buttons(self, data: MarkedDict) -> dict[str, str]:
        self.reader.fields(data, set(BUTTONS), self.path, "buttons")
        return {key: self.label(data, key) for key in BUTTONS}

    def _bands(self, data: MarkedDict) -> tuple[Band, ...]:
        return tuple(
            Band(band_id, self.label(item, "label"),
                 self.text(item, "next_step", required=False), self.links(item))
            for band_id, item in self._records(data, "bands", {"label", "next_step", "links"},
                                               "an age band", ID_MAX))

    def _options(self, data: MarkedDict) -> tuple[Option, ...]:
        records = self._records(data, "options", {"label", "follow_up"}, "an option", ID_MAX)
        return tuple(Option(option_id, self.label(item, "label"),
                            bool(self.flag(item, "follow_up"))) for option_id, item in records)

    def _follow_ups(self, data: MarkedDict) -> tuple[FollowUp, ...]:
        follow_ups = []
        for follow_id, item in self._records(data, "follow_ups", {"question", "short", "summary"},
                                             "a follow-up", ID_MAX):
            if follow_id in {"answer", "expected", "sign"}:
                self.error(item.line_of("id"), f"'{follow_id}' is a rule condition; "
                                               "name the follow-up otherwise")
            follow_ups.append(FollowUp(follow_id, self.text(item, "question"),
                                       self.label(item, "short", TITLE_MAX),
                                       self.text(item, "summary")))
        return tuple(follow_ups)

    def _items(self, data: MarkedDict, bands: set[str], areas: set[str]) -> tuple[Item, ...]:
        fields = {"title", "question", "question_by_age", "examples", "not_expected", "areas",
                  "strength", "next_step", "ask"}
        items = []
        for item_id, item in self._records(data, "items", fields, "an item", ID_MAX):
            if item_id in RESERVED_ITEM_IDS:
                self.error(item.line_of("id"), f"'{item_id}' is reserved; name the item otherwise")
            not_expected = self.ids(item, "not_expected", bands, "age band")
            if bands and set(not_expected) >= bands:
                self.error(item.line_of("not_expected"), f"item '{item_id}' is not expected at "
                                                         "any age, so it can never count")
            examples = self._examples(item, bands)
            for band in sorted(bands - set(not_expected) - set(examples)):
                self.error(item.line_of("examples"), f"item '{item_id}' has no example for the "
                                                     f"age band '{band}'")
            items.append(Item(
                id=item_id, title=self.label(item, "title", TITLE_MAX),
                question=self.text(item, "question"), examples=examples,
                questions=self._by_band(item, "question_by_age", bands),
                areas=self.ids(item, "areas", areas, "area", required=True),
                strength=self.text(item, "strength"), not_expected=frozenset(not_expected),
                next_step=self.text(item, "next_step", required=False),
                ask=self.text(item, "ask", required=False)))
        touched = {area for item in items for area in item.areas}
        for area in sorted(areas - touched):
            self.error(data.line_of("items"), f"no item touches the area '{area}', so it can "
                                              "never be flagged")
        return tuple(items)

    def _by_band(self, item: MarkedDict, key: str, bands: set[str]) -> dict[str, str]:
        """An optional mapping of age band to text."""
        if key not in item:
            return {}
        section = self._section(item, key)
        self.reader.fields(section, bands, self.path, key)
        return {band: text for band in sorted(bands)
                if band in section and (text := self.text(section, band))}

    def _examples(self, item: MarkedDict, bands: set[str]) -> dict[str, str]:
        examples = self._section(item, "examples")
        self.reader.fields(examples, bands | {"default"}, self.path, "examples")
        return {key: self.text(examples, key, required=key == "default")
                for key in ["default", *sorted(bands)] if key == "default" or key in examples}

    def _lost_skill(self, data: MarkedDict) -> LostSkill:
        section = self._section(data, "lost_skill")
        self.reader.fields(section, {"title", "question", "example", "unsure_note", "ask"},
                           self.path, "lost_skill")
        return LostSkill(self.label(section, "title", TITLE_MAX), self.text(section, "question"),
                         self.text(section, "example"), self.text(section, "unsure_note"),
                         self.text(section, "ask"))

    def _areas(self, data: MarkedDict, bands: set[str]) -> tuple[Area, ...]:
        areas = []
        for area_id, item in self._records(data, "areas", {"name", "topic", "tip", "tip_by_age",
                                                           "ask"}, "an area"):
            if area_id not in AREAS:
                self.error(item.line_of("id"), f"unknown area '{area_id}'; known areas: "
                                               f"{', '.join(AREAS)}")
                continue
            areas.append(Area(area_id, self.label(item, "name", TITLE_MAX), self.topic(item),
                              self.text(item, "tip"), self.text(item, "ask"),
                              self._by_band(item, "tip_by_age", bands)))
        missing = [a for a in AREAS if a not in {area.id for area in areas}]
        if missing and isinstance(data.get("areas"), MarkedList):
            self.error(data.line_of("areas"), f"missing area(s): {', '.join(missing)}")
        return tuple(areas)

    def _area_results(self, data: MarkedDict) -> tuple[AreaResult, ...]:
        return tuple(AreaResult(result_id, self.label(item, "label"),
                                bool(self.flag(item, "flagged")))
                     for result_id, item in self._records(data, "area_results",
                                                          {"label", "flagged"}, "an area result"))

    def _tiers(self, data: MarkedDict) -> tuple[Tier, ...]:
        return tuple(Tier(tier_id, self.label(item, "title", TITLE_MAX),
                          self.text(item, "text", limit=LONG_MAX), self.links(item))
                     for tier_id, item in self._records(data, "tiers", {"title", "text", "links"},
                                                        "a tier"))

    # -- rules -------------------------------------------------------------------------

    def _rules(self, data: MarkedDict, options: tuple[Option, ...],
               follow_ups: tuple[FollowUp, ...], results: tuple[AreaResult, ...],
               tiers: tuple[Tier, ...]) -> Rules:
        section = self._section(data, "rules")
        self.reader.fields(section, {"signs", "noticed", "strengths", "not_sure", "areas",
                                     "tiers"}, self.path, "rules")
        signs = self._sign_rules(section, options, follow_ups)
        sign_ids = {rule.sign for rule in signs}
        marks = sign_ids | {f.id for f in follow_ups} | {SKIPPED}
        return Rules(
            signs=signs,
            noticed=frozenset(self.ids(section, "noticed", sign_ids, "sign", required=True)),
            strengths=frozenset(self.ids(section, "strengths", sign_ids, "sign", required=True)),
            not_sure=frozenset(self.ids(section, "not_sure", sign_ids, "sign", required=True)),
            areas=self._count_rules(section, "areas", "result", results, marks),
            tiers=self._count_rules(section, "tiers", "tier", tiers, marks))

    def _rule_list(self, section: MarkedDict, key: str) -> list[MarkedDict]:
        value = section.get(key)
        if not isinstance(value, MarkedList) or not value:
            self.error(section.line_of(key), f"rules '{key}' must be a non-empty list of rules")
            return []
        rules = []
        for item, line in zip(value, value.item_lines, strict=True):
            if isinstance(item, MarkedDict):
                rules.append(item)
            else:
                self.error(line, f"each rule of '{key}' must be a mapping")
        return rules

    def _sign_rules(self, section: MarkedDict, options: tuple[Option, ...],
                    follow_ups: tuple[FollowUp, ...]) -> tuple[SignRule, ...]:
        follow_ids = [f.id for f in follow_ups]
        rules = []
        for item in self._rule_list(section, "signs"):
            self.reader.fields(item, {"answer", "expected", "sign", *follow_ids}, self.path,
                               "a sign rule")
            sign = self.ident(item, "a sign rule", "sign")
            answers = item.get("answer", [])
            answers = [answers] if isinstance(answers, str) else answers
            if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
                self.error(item.line_of("answer"), "'answer' must be an option id or a list")
                answers = []
            for answer in answers:
                if _find(options, answer) is None:
                    self.error(item.line_of("answer"), f"unknown option '{answer}'; known: "
                                                       f"{', '.join(o.id for o in options)}")
            follow = tuple((key, value) for key in follow_ids
                           if (value := self.flag(item, key)) is not None)
            if sign:
                rules.append(SignRule(sign, frozenset(answers), self.flag(item, "expected"),
                                      follow, item.line))
        self._check_sign_coverage(section, tuple(rules), options, follow_ids)
        return tuple(rules)

    def _check_sign_coverage(self, section: MarkedDict, rules: tuple[SignRule, ...],
                             options: tuple[Option, ...], follow_ids: list[str]) -> None:
        """Every possible answer gets a sign, and every rule is the first to apply somewhere."""
        if not rules or self._errors() > self._before:
            return  # a broken option or rule above would only make these checks misfire
        used: set[int] = set()
        for option in options:
            values = (True, False, None) if option.follow_up else (None,)
            for expected, combo in itertools.product(
                    (True, False), itertools.product(values, repeat=len(follow_ids))):
                follow = dict(zip(follow_ids, combo, strict=True))
                index = next((i for i, rule in enumerate(rules)
                              if rule.applies(option.id, expected, follow)), None)
                if index is None:
                    self.error(section.line_of("signs"),
                               f"no sign rule applies to the answer '{option.id}' "
                               f"({_describe(expected, follow)})")
                    break
                used.add(index)
        for index, rule in enumerate(rules):
            if index not in used:
                self.error(rule.line, "this rule never applies: the rules above it already "
                                      "catch every answer it covers")

    def _count_rules(self, section: MarkedDict, key: str, result_key: str,
                     results: tuple[Any, ...], marks: set[str]) -> tuple[CountRule, ...]:
        allowed = {result_key, "marks", "at_least", "at_most"} | (
            {"lost_skill"} if key == "tiers" else set())
        rules = []
        for item in self._rule_list(section, key):
            self.reader.fields(item, allowed, self.path, f"a rule of '{key}'")
            result = self.ident(item, f"a rule of '{key}'", result_key)
            if result and _find(results, result) is None:
                self.error(item.line_of(result_key), f"unknown {result_key} '{result}'; known: "
                                                     f"{', '.join(r.id for r in results)}")
            at_least = self._count(item, "at_least")
            rule = CountRule(result or "", frozenset(self.ids(item, "marks", marks, "mark")),
                             (0 if "at_most" in item else 1) if at_least is None else at_least,
                             self._count(item, "at_most"), self.flag(item, "lost_skill"),
                             item.line)
            if not rule.marks and ("at_least" in item or "at_most" in item):
                self.error(item.line, "'at_least' and 'at_most' count marks: give 'marks' too")
            rules.append(rule)
        self._check_rule_order(section, key, rules, results, result_key)
        return tuple(rules)

    def _count(self, item: MarkedDict, key: str) -> int | None:
        """A count of a rule; None when absent (or reported as wrong)."""
        value = item.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            self.error(item.line_of(key), f"'{key}' must be a whole number, 0 or more")
            return None
        return value

    def _check_rule_order(self, section: MarkedDict, key: str, rules: list[CountRule],
                          results: tuple[Any, ...], result_key: str) -> None:
        """The last rule is a fallback, none comes after one, and every result can be given."""
        if not rules:
            return
        fallback = next((i for i, rule in enumerate(rules) if rule.unconditional), None)
        if fallback is None:
            self.error(rules[-1].line, f"the last rule of '{key}' must have no conditions, so "
                                       "that every case gets a result")
        for rule in rules[(fallback if fallback is not None else len(rules)) + 1:]:
            self.error(rule.line, "this rule never applies: a rule above it has no conditions")
        given = {rule.result for rule in rules}
        line = section.line_of(key)
        for result in results:
            if result.id not in given:
                self.error(line, f"no rule of '{key}' gives the {result_key} '{result.id}', "
                                 "so it can never be reached")


def _describe(expected: bool, follow: Mapping[str, bool | None]) -> str:
    """An answer combination in words, for an error message."""
    words = {True: "yes", False: "no", None: "not answered or not sure"}
    parts = [f"{key}: {words[value]}" for key, value in follow.items()]
    return ", ".join(["expected: yes" if expected else "expected: no", *parts])
