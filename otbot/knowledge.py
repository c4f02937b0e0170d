"""Load a knowledge folder into a validated, immutable model, or report every problem in it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otbot.markup import html_problems, visible_text
from otbot.yamlfile import MarkedDict, MarkedList, Problem, YamlError, load_yaml

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
ANSWER_ADVISED_LENGTH = 900  # what a parent reads comfortably on a phone
AREAS = ("fine-motor", "gross-motor", "sensory", "self-care", "social-emotional",
         "cognitive-attention")
ENTRY_FIELDS = {"id", "question", "alternates", "answer", "keywords", "related", "area",
                "source", "reviewed", "offer_screen"}
UNREADABLE = object()  # what _Reader.read returns for a file it has reported as broken


def default_dir() -> Path:
    """The shipped knowledge folder: inside the installed package, or beside it in a checkout."""
    inside = Path(__file__).resolve().parent / "knowledge"
    return inside if inside.is_dir() else Path(__file__).resolve().parent.parent / "knowledge"


def configured_dir(explicit: str | None = None) -> Path:
    """The folder to use: --knowledge, else OTBOT_KNOWLEDGE_DIR, else the shipped one."""
    chosen = explicit or os.environ.get("OTBOT_KNOWLEDGE_DIR")
    return Path(chosen) if chosen else default_dir()


@dataclass(frozen=True)
class Entry:
    """One question-and-answer topic."""

    id: str
    question: str
    alternates: tuple[str, ...]
    answer: str
    theme: str
    keywords: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    area: str | None = None
    source: str = "general"
    reviewed: dt.date | None = None
    offer_screen: bool = False  # answer with a button to the red-flag screen
    path: str = ""
    line: int = 0

    def sentences(self) -> tuple[str, ...]:
        """The wordings that the matcher compares a message against."""
        return (self.question, *self.alternates)


@dataclass(frozen=True)
class Decline:
    """A kind of question the bot deliberately does not answer, with a kinder pointer."""

    id: str
    alternates: tuple[str, ...]
    reply: str = ""  # empty: the ordinary "no answer" text
    path: str = ""
    line: int = 0


@dataclass(frozen=True)
class Theme:
    """A group of entries in the topic browser."""

    id: str
    title: str
    entry_ids: tuple[str, ...]


@dataclass(frozen=True)
class UrgentRule:
    """Wordings that mean a possible emergency."""

    id: str
    phrases: tuple[str, ...] = ()
    together: tuple[tuple[str, ...], ...] = ()
    unless: tuple[str, ...] = ()
    extra: str = ""


@dataclass(frozen=True)
class Urgent:
    """The emergency reply and the rules that trigger it."""

    reply: str
    rules: tuple[UrgentRule, ...]


@dataclass(frozen=True)
class SmallTalkKind:
    """Greetings, thanks or goodbyes, with the reply in kind."""

    id: str
    phrases: tuple[str, ...]
    reply: str


@dataclass(frozen=True)
class SmallTalk:
    """All small-talk kinds and the filler words that may surround them."""

    kinds: tuple[SmallTalkKind, ...]
    filler: tuple[str, ...] = ()


@dataclass(frozen=True)
class KnowledgeBase:
    """Everything the bot knows and says, validated."""

    entries: dict[str, Entry]
    themes: tuple[Theme, ...]
    synonyms: dict[str, tuple[str, ...]]
    urgent: Urgent
    smalltalk: SmallTalk
    messages: dict[str, str]
    screen: Any
    folder: Path
    declines: dict[str, Decline] = field(default_factory=dict)
    version: str = ""
    warnings: tuple[Problem, ...] = field(default=(), compare=False)

    def message(self, key: str, **values: str) -> str:
        """A text the bot says, with {placeholders} filled in."""
        return self.messages[key].format(**values)


class KnowledgeError(Exception):
    """The folder has errors; nothing of it was loaded."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class _Reader:
    """Collects problems while turning YAML data into model objects."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.problems: list[Problem] = []

    def shown(self, path: Path) -> str:
        """A path as maintainers see it in messages: relative to the folder's parent."""
        try:
            return str(path.relative_to(self.folder.parent))
        except ValueError:
            return str(path)

    def error(self, path: str, line: int, message: str) -> None:
        """Record an error."""
        self.problems.append(Problem(path, line, message))

    def warn(self, path: str, line: int, message: str) -> None:
        """Record a warning."""
        self.problems.append(Problem(path, line, message, "warning"))

    def read(self, path: Path) -> Any:
        """Parse a file, or record why not and return UNREADABLE."""
        try:
            data = load_yaml(path, self.shown(path))
        except YamlError as error:
            self.problems.append(error.problem)
            return UNREADABLE
        self._duplicate_keys(data, self.shown(path))
        return data

    def _duplicate_keys(self, data: Any, path: str) -> None:
        if isinstance(data, MarkedDict):
            for key, line in data.duplicate_keys:
                self.error(path, line, f"field '{key}' is given twice")
            for value in data.values():
                self._duplicate_keys(value, path)
        elif isinstance(data, list):
            for value in data:
                self._duplicate_keys(value, path)

    def text(self, data: MarkedDict, key: str, path: str, *, html: bool = False,
             required: bool = True) -> str:
        """A non-empty string field, checked as Telegram HTML if `html`."""
        value = data.get(key)
        line = data.line_of(key)
        if key not in data:
            if required:
                self.error(path, data.line, f"missing field '{key}'")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.error(path, line, f"'{key}' must be a non-empty text")
            return ""
        if html:
            for problem in html_problems(value):
                self.error(path, line, f"'{key}': {problem}")
        return value.strip()

    def texts(self, data: MarkedDict, key: str, path: str, *, required: bool = False
              ) -> tuple[str, ...]:
        """A list of non-empty strings."""
        value = data.get(key)
        if value is None:
            if required:
                self.error(path, data.line, f"missing field '{key}'")
            return ()
        if not isinstance(value, list):
            self.error(path, data.line_of(key), f"'{key}' must be a list")
            return ()
        lines = value.item_lines if isinstance(value, MarkedList) else []
        result = []
        for index, item in enumerate(value):
            if isinstance(item, str) and item.strip():
                result.append(item.strip())
            else:
                line = lines[index] if index < len(lines) else data.line_of(key)
                self.error(path, line, f"'{key}' item {index + 1} must be a non-empty text")
        return tuple(result)

    def fields(self, data: MarkedDict, allowed: set[str], path: str, what: str) -> None:
        """Unknown field names are errors: a misspelt field must not be silently ignored."""
        for key in data:
            if key not in allowed:
                hint = _closest(key, allowed)
                self.error(path, data.line_of(key),
                           f"unknown field '{key}' in {what}" + (f" (did you mean '{hint}'?)"
                                                                 if hint else ""))


def _closest(word: str, choices: set[str]) -> str | None:
    from rapidfuzz import fuzz, process

    best = process.extractOne(word, sorted(choices), scorer=fuzz.ratio, score_cutoff=60)
    return best[0] if best else None


def _entry(reader: _Reader, data: Any, path: str, theme: str, line: int) -> Entry | None:
    if not isinstance(data, MarkedDict):
        reader.error(path, line,
                     "each entry must be a mapping with id, question, alternates, answer")
        return None
    reader.fields(data, ENTRY_FIELDS, path, "an entry")
    entry_id = data.get("id")
    if not isinstance(entry_id, str) or not ID_PATTERN.match(entry_id):
        reader.error(path, data.line_of("id"),
                     "'id' must be 1-40 characters of a-z, 0-9 and '-', starting with a letter"
                     " or digit" if entry_id is not None else "missing field 'id'")
        entry_id = None
    question = reader.text(data, "question", path)
    alternates = reader.texts(data, "alternates", path, required=True)
    answer = reader.text(data, "answer", path, html=True)
    if answer and len(visible_text(answer)) > ANSWER_ADVISED_LENGTH:
        reader.warn(path, data.line_of("answer"),
                    f"answer is {len(visible_text(answer))} characters; "
                    f"keep it under about {ANSWER_ADVISED_LENGTH} for a phone screen")
    area = data.get("area")
    if area is not None and area not in AREAS:
        reader.error(path, data.line_of("area"),
                     f"unknown area '{area}'; known areas: {', '.join(AREAS)}")
    reviewed = data.get("reviewed")
    if reviewed is not None and not isinstance(reviewed, dt.date):
        reader.error(path, data.line_of("reviewed"), "'reviewed' must be a date like 2026-01-31")
        reviewed = None
    source = data.get("source", "general")
    if not isinstance(source, str):
        reader.error(path, data.line_of("source"), "'source' must be a text")
    offer_screen = data.get("offer_screen", False)
    if not isinstance(offer_screen, bool):
        reader.error(path, data.line_of("offer_screen"), "'offer_screen' must be true or false")
    if entry_id is None or not question or not answer:
        return None
    return Entry(
        id=entry_id, question=question, alternates=alternates, answer=answer, theme=theme,
        keywords=reader.texts(data, "keywords", path), related=reader.texts(data, "related", path),
        area=area, source=str(source), reviewed=reviewed, offer_screen=offer_screen is True,
        path=path, line=data.line,
    )


def _faq(reader: _Reader) -> dict[str, Entry]:
    files = sorted((reader.folder / "faq").glob("*.yaml"))
    if not files:
        reader.error(reader.shown(reader.folder / "faq"), 1, "no FAQ files (faq/*.yaml) found")
    entries: dict[str, Entry] = {}
    for file in files:
        path = reader.shown(file)
        data = reader.read(file)
        if data is UNREADABLE:
            continue
        if not isinstance(data, list):
            reader.error(path, 1, "an FAQ file must be a list of entries")
            continue
        for item, line in zip(data, data.item_lines, strict=True):
            entry = _entry(reader, item, path, file.stem, line)
            if entry is None:
                continue
            if entry.id in entries:
                first = entries[entry.id]
                reader.error(path, entry.line,
                             f"duplicate id '{entry.id}' (first at {first.path}:{first.line})")
                continue
            entries[entry.id] = entry
    if files and not entries and not reader.problems:
        reader.error(reader.shown(files[0]), 1, "the FAQ files hold no entries")
    for entry in entries.values():
        for related in entry.related:
            if related not in entries:
                reader.error(entry.path, entry.line,
                             f"'{entry.id}' is related to '{related}', which does not exist")
    return entries


def _themes(reader: _Reader, entries: dict[str, Entry]) -> tuple[Theme, ...]:
    titles: dict[str, str] = {}
    file = reader.folder / "themes.yaml"
    if file.exists():
        data = reader.read(file)
        path = reader.shown(file)
        for item in data if isinstance(data, list) else []:  # broken file: already reported
            if isinstance(item, MarkedDict):
                reader.fields(item, {"id", "title"}, path, "a theme")
                theme_id, title = item.get("id"), reader.text(item, "title", path)
                if isinstance(theme_id, str) and title:
                    titles[theme_id] = title
            else:
                reader.error(path, getattr(data, "line", 1), "each theme needs an id and a title")
    order = list(titles) + sorted({e.theme for e in entries.values()} - set(titles))
    themes = []
    for theme_id in order:
        members = tuple(e.id for e in entries.values() if e.theme == theme_id)
        if members:
            title = titles.get(theme_id) or theme_id.replace("-", " ").capitalize()
            themes.append(Theme(theme_id, title, members))
    return tuple(themes)


def _synonyms(reader: _Reader) -> dict[str, tuple[str, ...]]:
    file = reader.folder / "synonyms.yaml"
    if not file.exists():
        return {}
    data = reader.read(file)
    path = reader.shown(file)
    if data is UNREADABLE:
        return {}
    if not isinstance(data, MarkedDict):
        reader.error(path, 1, "synonyms.yaml must map each term to a list of variants")
        return {}
    groups: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for canonical in data:
        variants = reader.texts(data, canonical, path, required=True)
        for variant in variants:
            key = variant.casefold()
            if key in seen and seen[key] != canonical:
                reader.error(path, data.line_of(canonical),
                             f"'{variant}' is a variant of both '{seen[key]}' and '{canonical}'")
            seen[key] = canonical
        groups[canonical] = variants
    return groups


def _mapping_file(reader: _Reader, name: str) -> tuple[Any, str]:
    """Read an optional file of the folder, else the shipped default; return data and path."""
    file = reader.folder / name
    if not file.exists():
        file = default_dir() / name
    return reader.read(file), reader.shown(file)


def _urgent(reader: _Reader) -> Urgent:
    data, path = _mapping_file(reader, "urgent.yaml")
    if not isinstance(data, MarkedDict):
        if data is not UNREADABLE:
            reader.error(path, 1, "urgent.yaml must have a reply and rules")
        return Urgent("", ())
    reader.fields(data, {"reply", "rules"}, path, "urgent.yaml")
    reply = reader.text(data, "reply", path, html=True)
    rules = []
    for item in data.get("rules") or []:
        if not isinstance(item, MarkedDict):
            reader.error(path, data.line_of("rules"), "each urgent rule must be a mapping")
            continue
        reader.fields(item, {"id", "phrases", "together", "unless", "extra"}, path,
                      "an urgent rule")
        together = []
        for group in item.get("together") or []:
            if isinstance(group, list) and all(isinstance(w, str) for w in group) and group:
                together.append(tuple(group))
            else:
                reader.error(path, item.line_of("together"),
                             "'together' must be a list of lists of words")
        rules.append(UrgentRule(
            id=str(item.get("id", "")), phrases=reader.texts(item, "phrases", path),
            together=tuple(together), unless=reader.texts(item, "unless", path),
            extra=reader.text(item, "extra", path, html=True, required=False)))
    if not rules:
        reader.error(path, data.line, "urgent.yaml has no rules")
    return Urgent(reply, tuple(rules))


def _smalltalk(reader: _Reader) -> SmallTalk:
    data, path = _mapping_file(reader, "smalltalk.yaml")
    if not isinstance(data, MarkedDict):
        if data is not UNREADABLE:
            reader.error(path, 1, "smalltalk.yaml must have kinds and filler")
        return SmallTalk(())
    reader.fields(data, {"kinds", "filler"}, path, "smalltalk.yaml")
    kinds = []
    for item in data.get("kinds") or []:
        if not isinstance(item, MarkedDict):
            reader.error(path, data.line_of("kinds"), "each small-talk kind must be a mapping")
            continue
        reader.fields(item, {"id", "phrases", "reply"}, path, "a small-talk kind")
        kinds.append(SmallTalkKind(str(item.get("id", "")),
                                   reader.texts(item, "phrases", path, required=True),
                                   reader.text(item, "reply", path, html=True)))
    return SmallTalk(tuple(kinds), reader.texts(data, "filler", path))


def _messages(reader: _Reader) -> dict[str, str]:
    """The bot's own texts: the shipped ones, overridden key by key by the folder's."""
    shipped = default_dir() / "messages.yaml"
    files = [shipped]
    own = reader.folder / "messages.yaml"
    if own.resolve() != shipped.resolve() and own.exists():
        files.append(own)
    messages: dict[str, str] = {}
    for file in files:
        data, path = reader.read(file), reader.shown(file)
        if data is UNREADABLE:
            continue
        if not isinstance(data, MarkedDict):
            reader.error(path, 1, "messages.yaml must map message names to texts")
            continue
        if messages:
            reader.fields(data, set(messages), path, "messages.yaml")
        for key in data:
            text = reader.text(data, key, path, html=True)
            if text:
                messages[key] = text
    return messages


def _declines(reader: _Reader, entries: dict[str, Entry]) -> dict[str, Decline]:
    """decline.yaml: questions parents ask that the bot must not answer with an FAQ entry."""
    file = reader.folder / "decline.yaml"
    if not file.exists():
        return {}
    data, path = reader.read(file), reader.shown(file)
    if data is UNREADABLE:
        return {}
    if not isinstance(data, MarkedList):
        reader.error(path, 1, "decline.yaml must be a list of entries with id and alternates")
        return {}
    declines: dict[str, Decline] = {}
    for item, line in zip(data, data.item_lines, strict=True):
        if not isinstance(item, MarkedDict):
            reader.error(path, line, "each entry needs an id and alternates")
            continue
        reader.fields(item, {"id", "alternates", "reply"}, path, "a decline entry")
        decline_id = item.get("id")
        if not isinstance(decline_id, str) or not ID_PATTERN.match(decline_id):
            reader.error(path, item.line_of("id"), "'id' must be 1-40 characters of a-z, 0-9 "
                                                    "and '-'")
            continue
        if decline_id in entries or decline_id in declines:
            reader.error(path, item.line_of("id"), f"duplicate id '{decline_id}'")
            continue
        declines[decline_id] = Decline(
            decline_id, reader.texts(item, "alternates", path, required=True),
            reader.text(item, "reply", path, html=True, required=False), path, item.line)
    return declines


def _fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(folder.rglob("*.yaml")):
        digest.update(str(file.relative_to(folder)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def read_knowledge(folder: Path) -> tuple[KnowledgeBase | None, list[Problem]]:
    """Read and validate a folder: the model (None on any error) and every problem found."""
    from otbot.screen_model import read_screen

    reader = _Reader(folder)
    if not folder.is_dir():
        reader.error(str(folder), 1, "no such knowledge folder")
        return None, reader.problems
    entries = _faq(reader)
    kb = KnowledgeBase(
        entries=entries, themes=_themes(reader, entries), synonyms=_synonyms(reader),
        urgent=_urgent(reader), smalltalk=_smalltalk(reader), messages=_messages(reader),
        screen=read_screen(reader, entries), folder=folder, declines=_declines(reader, entries),
        version=_fingerprint(folder),
    )
    problems = sorted(set(reader.problems))
    if any(p.level == "error" for p in problems):
        return None, problems
    kb = dataclasses.replace(kb, warnings=tuple(problems))
    return kb, problems


def load_knowledge(folder: Path) -> KnowledgeBase:
    """Load a folder whole, or raise KnowledgeError listing every error; never half-load."""
    kb, problems = read_knowledge(folder)
    if kb is None:
        raise KnowledgeError([p for p in problems if p.level == "error"])
    return kb


def iter_sentences(kb: KnowledgeBase) -> Iterator[tuple[Entry, str]]:
    """Every (entry, wording) pair: the canonical question and its alternates."""
    for entry in kb.entries.values():
        for sentence in entry.sentences():
            yield entry, sentence
