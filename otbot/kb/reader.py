"""The toolkit every knowledge file is read with: YAML with line numbers, problems collected."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from otbot.kb.markup import html_problems
from otbot.kb.yamlfile import MarkedDict, MarkedList, Problem, YamlError, load_yaml

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
    best = process.extractOne(word, sorted(choices), scorer=fuzz.ratio, score_cutoff=60)
    return best[0] if best else None


def mapping_file(reader: Reader, name: str) -> tuple[Any, str]:
    """Read an optional file of the folder, else the shipped default; return data and path."""
    file = reader.folder / name
    if not file.exists():
        file = default_dir() / name
    return reader.read(file), reader.shown(file)


