"""The toolkit every knowledge file is read with: YAML with line numbers, problems collected."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from otbot.kb.markup import html_problems
from otbot.kb.yamlfile import InvalidDate, MarkedDict, MarkedList, Problem, YamlError, load_yaml

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
AREAS = ("fine-motor", "gross-motor", "sensory", "self-care", "social-emotional",
         "cognitive-attention")
UNREADABLE = object()  # what _Reader.read returns for a file it has reported as broken


def default_dir() -> Path:
    """The shipped knowledge folder: inside the installed package, or beside it in a checkout."""
    package = Path(__file__).resolve().parent.parent
    inside = package / "knowledge"
    return inside if inside.is_dir() else package.parent / "knowledge"


class Reader:
    """Collects problems while turning YAML data into model objects."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.problems: list[Problem] = []
        # Ids of entries that did not load because of an error already reported, and whether
        # a whole FAQ file was unreadable: links to them are not reported again, so that one
        # mistake gives one error.
        self.lost_ids: set[str] = set()
        self.faq_unreadable = False
        self.drafts: set[str] = set()  # ids of draft entries: loaded, never shown to parents
        self.entry_ids: set[str] = set()  # ids of the published entries, for hints

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
            twice = data.duplicate_keys
            if len(twice) > 1 and any(key == "id" for key, _ in twice):
                # One slip, not several: a missing '- ' merged two entries into one.
                line = dict(twice)["id"]
                self.faq_unreadable = True  # the first entry's id is lost: links to it too
                self.error(path, line, "a second 'id' (and its other fields) inside one entry: "
                                       "start each entry with '- ', as in '- id: ...'")
            elif len(twice) > 1:
                names = ", ".join(f"'{key}'" for key, _ in twice)
                self.error(path, twice[0][1], f"fields {names} are each given twice in one "
                                              "mapping: keep one of each (is a '- ' missing?)")
            elif twice:
                key, line = twice[0]
                self.error(path, line, f"field '{key}' is given twice: keep one")
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
            self.error(path, line, f"'{key}' must be a non-empty text" + type_hint(value))
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
            self.error(path, data.line_of(key), f"'{key}' must be a list of texts: one "
                       "'- text' per line below it, or [text, text] on its line")
            return ()
        lines = value.item_lines if isinstance(value, MarkedList) else []
        result = []
        for index, item in enumerate(value):
            if isinstance(item, str) and item.strip():
                result.append(item.strip())
            else:
                line = lines[index] if index < len(lines) else data.line_of(key)
                self.error(path, line, f"'{key}' item {index + 1} must be a non-empty text"
                           + type_hint(item))
        return tuple(result)

    def identifier(self, data: MarkedDict, path: str, what: str) -> str | None:
        """The mapping's 'id': 1-40 characters of a-z, 0-9 and '-', or None (reported)."""
        value = data.get("id")
        if "id" not in data:
            self.error(path, data.line, f"missing field 'id' in {what}")
            return None
        if isinstance(value, str) and ID_PATTERN.match(value):
            return value
        suggestion = _as_id(value) if isinstance(value, str) else ""
        self.error(path, data.line_of("id"),
                   "'id' must be 1-40 characters of a-z, 0-9 and '-', starting with a letter "
                   "or digit" + (f", like '{suggestion}'" if suggestion else type_hint(value)))
        return None

    def boolean(self, data: MarkedDict, key: str, path: str) -> bool:
        """An optional true/false field (false when absent)."""
        value = data.get(key, False)
        if not isinstance(value, bool):
            self.error(path, data.line_of(key), f"'{key}' must be true or false"
                       + type_hint(value))
            return False
        return value

    def date(self, data: MarkedDict, key: str, path: str) -> dt.date | None:
        """An optional date written as YYYY-MM-DD."""
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, InvalidDate):
            self.error(path, data.line_of(key), f"'{key}': {value} is not a real date "
                       f"({value.reason}); write it as year-month-day, like 2026-01-31")
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        self.error(path, data.line_of(key), f"'{key}' must be a date written as "
                   "year-month-day, like 2026-01-31" + type_hint(value))
        return None

    def unknown_topic(self, topic: str) -> str | None:
        """Why a link to `topic` (no published entry) is wrong; None if already explained."""
        if topic in self.drafts:
            return (f"'{topic}' is a draft, which parents never see: publish it (remove "
                    "'draft: true' after review) or link to another entry")
        if topic in self.lost_ids or self.faq_unreadable:
            return None  # the entry's own error says what is wrong
        hint = _closest(topic, self.entry_ids)
        return f"unknown FAQ topic '{topic}'" + (f" (did you mean '{hint}'?)" if hint else "")

    def fields(self, data: MarkedDict, allowed: set[str], path: str, what: str) -> None:
        """Unknown field names are errors: a misspelt field must not be silently ignored."""
        for key in data:
            if key not in allowed:
                hint = _closest(key, allowed)
                self.error(path, data.line_of(key),
                           f"unknown field '{key}' in {what}" + (f" (did you mean '{hint}'?)"
                                                                 if hint else ""))


def type_hint(value: Any) -> str:
    """What a wrong value turned out to be in YAML's eyes, and how to fix it."""
    if value is None:
        return " (it is empty)"
    if isinstance(value, bool):
        return " (YAML read it as true/false: put the text in quotes)"
    if isinstance(value, int | float):
        return " (YAML read it as a number: put it in quotes)"
    if isinstance(value, dt.date):
        return " (YAML read it as a date: put it in quotes)"
    if isinstance(value, list):
        return " (it is a list: remove the '- ' or the [ ])"
    if isinstance(value, dict):
        return (" (it is a mapping: a 'word: ' inside the text? put the text in quotes, or "
                "check the indentation)")
    return ""


def _as_id(value: Any) -> str:
    """A valid id made from a wrong one, as a hint ("Fine Motor" -> "fine-motor")."""
    candidate = re.sub(r"[^a-z0-9]+", "-", str(value).casefold()).strip("-")[:40].rstrip("-")
    return candidate if ID_PATTERN.match(candidate) else ""


def _closest(word: str, choices: set[str]) -> str | None:
    best = process.extractOne(word, sorted(choices), scorer=fuzz.ratio, score_cutoff=60)
    return best[0] if best else None


def mapping_file(reader: Reader, name: str) -> tuple[Any, str]:
    """Read an optional file of the folder, else the shipped default; return data and path."""
    file = reader.folder / name
    if not file.exists():
        file = default_dir() / name
    return reader.read(file), reader.shown(file)


