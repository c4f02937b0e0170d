"""Read YAML files keeping the line of every mapping and list item, for FILE:LINE messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong (or doubtful) in a knowledge file."""

    path: str
    line: int
    message: str
    level: str = "error"  # error | warning | note (information, nothing to fix)

    def __str__(self) -> str:
        prefix = {"warning": "warning: ", "note": "note: "}.get(self.level, "")
        return f"{self.path}:{self.line}: {prefix}{self.message}"


class MarkedDict(dict[str, Any]):
    """A mapping that remembers its own line and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]
    duplicate_keys: list[tuple[str, int]]

    def line_of(self, key: str) -> int:
        """The line of `key`, or of the mapping if the key is absent."""
        return self.key_lines.get(key, self.line)


class MarkedList(list[Any]):
    """A list that remembers its own line and the line of each item."""

    line: int = 0
    item_lines: list[int]


class InvalidDate(str):
    """A value written like a date that is no date ("2026-13-45"), kept as its text.

    PyYAML would raise ValueError from deep inside the parser; the readers report it instead.
    """

    reason: str = ""


class _Loader(yaml.SafeLoader):
    """A safe loader that builds MarkedDict and MarkedList."""


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same on libyaml's parser, several times faster, where PyYAML was built with it."""


def _mapping(loader: _Loader, node: yaml.MappingNode) -> MarkedDict:
    loader.flatten_mapping(node)
    result = MarkedDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    result.duplicate_keys = []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            key = str(key)
        if key in result:
            result.duplicate_keys.append((key, line))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> MarkedList:
    result = MarkedList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _timestamp(loader: _Loader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError) as error:
        value = InvalidDate(loader.construct_scalar(node))
        value.reason = str(error)
        return value


for _loader in (_Loader, _FastLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)
    _loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


class YamlError(Exception):
    """A file that is not valid YAML (or not readable), with where it went wrong."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def load_yaml(path: Path, shown_as: str) -> Any:
    """Parse one YAML file; raise YamlError naming `shown_as` and the line on failure.

    A syntax error becomes one problem in plain words (a tab, an unclosed quote, a line
    indented out of step) at the line where the maintainer has to look.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise YamlError(Problem(shown_as, _line_of_byte(path, error.start),
                                "the file is not UTF-8 text; save it as UTF-8 in your "
                                "editor")) from error
    except OSError as error:
        raise YamlError(Problem(shown_as, 1, f"cannot read the file: {error}")) from error
    try:
        return yaml.load(text, Loader=_FastLoader)  # safe: builds no arbitrary objects
    except yaml.YAMLError:
        pass  # parse again in pure Python: its marks are the ones the explanations rely on
    except RecursionError as error:
        raise YamlError(Problem(shown_as, 1, "the file is nested too deeply to read")) from error
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        line, message = explain(text, error)
        raise YamlError(Problem(shown_as, line, message)) from error
    except yaml.YAMLError as error:
        raise YamlError(Problem(shown_as, 1, f"not readable as YAML: {error}")) from error
    except RecursionError as error:
        raise YamlError(Problem(shown_as, 1, "the file is nested too deeply to read")) from error


def _line_of_byte(path: Path, offset: int) -> int:
    try:
        return path.read_bytes()[:offset].count(b"\n") + 1
    except OSError:
        return 1


_OPENING_QUOTE = re.compile(r"""^\s*(?:-\s+)?(?:[^\s:#'"][^:#]*:\s+|-\s+)?(["'])""")


def _unclosed_quote(lines: list[str], before: int) -> int | None:
    """The last line up to `before` (0-based) whose value opens a quote it does not close."""
    for index in range(min(before, len(lines) - 1), -1, -1):
        line = lines[index]
        match = _OPENING_QUOTE.match(line)
        if not match:
            continue
        quote, rest = match.group(1), line[match.end():]
        closed = rest.replace(quote * 2, "") if quote == "'" else re.sub(r'\\.', "", rest)
        if quote not in closed:
            return index
    return None


def _unclosed_bracket(lines: list[str], before: int) -> int | None:
    """The last line up to `before` (0-based) that opens more brackets than it closes."""
    for index in range(min(before, len(lines) - 1), -1, -1):
        code = re.sub(r"\"[^\"]*\"|'[^']*'", "", lines[index].split(" #")[0])
        if code.count("[") + code.count("{") > code.count("]") + code.count("}"):
            return index
    return None


_FIELD = re.compile(r"^( *)(?:- +)?[A-Za-z_][\w-]*:(?: |$)")


def _field_out_of_step(lines: list[str], index: int) -> bool:
    """True if line `index` starts with 'field:' further right than the field above it."""
    current = _FIELD.match(lines[index]) if index < len(lines) else None
    if not current:
        return False
    for above in reversed(lines[:index]):
        if above.strip() and not above.lstrip().startswith("#"):
            match = _FIELD.match(above)
            column = (len(above) - len(above.lstrip(" -")) if match else -1)
            return match is not None and len(current.group(1)) > column
    return False


def explain(text: str, error: yaml.MarkedYAMLError) -> tuple[int, str]:
    """The line to look at and a plain explanation of a YAML syntax error."""
    lines = text.splitlines()
    mark = error.problem_mark or error.context_mark
    line = mark.line if mark else 0  # 0-based
    problem = (error.problem or "").lower()
    context = (error.context or "").lower()
    for index, raw in enumerate(lines[: line + 1]):
        indent = raw[: len(raw) - len(raw.lstrip(" \t"))]
        if "\t" in indent or ("\t" in raw and "found character '\\t'" in problem):
            return index + 1, ("a tab character: YAML files are indented with spaces only; "
                               "replace the tab with spaces")
    if "quoted scalar" in context or "quoted scalar" in problem:
        start = error.context_mark.line if error.context_mark else line
        return start + 1, ("a quote (\" or ') opened on this line is never closed; close it at "
                           "the end of the text, or leave the quotes out")
    quote = _unclosed_quote(lines, line)
    if quote is not None and quote < line:
        return quote + 1, ("a quote (\" or ') opened on this line is never closed; close it at "
                           "the end of the text, or leave the quotes out")
    current = lines[line] if line < len(lines) else ""
    if "mapping values are not allowed" in problem and _field_out_of_step(lines, line):
        return line + 1, ("this field is indented more than the one above it: the fields of "
                          "one entry must start in the same column")
    if "mapping values are not allowed" in problem:
        return line + 1, ("a colon followed by a space inside a text: put the whole text in "
                          "quotes (\"...\"), or write it as a | block")
    if "found character '@'" in problem or "found character '`'" in problem:
        return line + 1, ("a text starts with @ or `, which YAML keeps for itself: put the "
                          "text in quotes")
    if "undefined alias" in problem or ("alias" in context and "*" in current):
        return line + 1, "a text starts with *: put the text in quotes"
    if "undefined tag" in problem or "tag" in context:
        return line + 1, "a text starts with !: put the text in quotes"
    bracket = _unclosed_bracket(lines, line)
    if "expected ',' or ']'" in problem or "expected ',' or '}'" in problem or (
            bracket is not None and "<stream end>" in problem):
        start = bracket if bracket is not None else (
            error.context_mark.line if error.context_mark else line)
        return start + 1, ("a list in [ ] or a mapping in { } is not closed properly: check "
                           "the brackets and put texts that contain commas or colons in quotes")
    if "could not find expected ':'" in problem:
        start = error.context_mark.line if error.context_mark else line
        return start + 1, ("this line is neither 'field: value' nor a '- ' list item: a "
                           "colon is missing, or the line is indented out of step with the "
                           "lines around it")
    if "expected <block end>" in problem or "expected <block" in problem or \
            "block mapping" in context or "block collection" in context:
        return line + 1, ("this line is indented out of step with the lines above it: the "
                          "fields of one entry must start in the same column, and list items "
                          "('- ') must line up")
    if "expected the node content" in problem:
        return line + 1, ("a value is missing here, after a ':' or a '- ', or the file ends "
                          "in the middle of a list")
    return line + 1, f"not readable as YAML ({error.problem or 'invalid YAML'})"
