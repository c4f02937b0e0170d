"""`otbot kb import`: turn a CSV or TSV export of another FAQ tool into knowledge-base YAML."""

from __future__ import annotations

import csv
import html
import io
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from otbot.kb.markup import MAX_MESSAGE
from otbot.kb.yamlfile import MarkedDict, Problem, YamlError, load_yaml
from otbot.understanding.text import normalize

# Header names other FAQ tools use for each field, compared case-insensitively.
COLUMNS = {
    "question": ("question", "q", "title"),
    "answer": ("answer", "a", "response"),
    "alternates": ("alternates", "alternatives", "variants", "paraphrases"),
    "id": ("id",),
    "keywords": ("keywords",),
}
REQUIRED = ("question", "answer")
MAX_ID = 40
_LIST_SEPARATORS = re.compile(r"[|;]")
_NOT_ID = re.compile(r"[^a-z0-9]+")


class ImportFailed(Exception):
    """The file cannot be imported at all; the message says why."""


@dataclass
class Imported:
    """The entries made from a file's good rows, and a problem for each row skipped."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    seeded_from: Path | None = None  # the folder was new: first a copy of this one


def installed_package() -> Path | None:
    """The folder of the installed otbot package, or None when otbot runs from a checkout."""
    package = Path(__file__).resolve().parent.parent
    return None if (package.parent / "pyproject.toml").is_file() else package


def import_faq(source: Path, folder: Path, output: Path, *, force: bool = False,
               seed: Path | None = None) -> Imported:
    """Read `source` and write its good rows to `output`; write nothing if none is good.

    A knowledge folder that does not exist yet is first made a copy of `seed` (the shipped
    one): a folder of drafts alone would have no published entry, and every command run
    beside it would read it.
    """
    package = installed_package()
    if package is not None and output.resolve().is_relative_to(package):
        raise ImportFailed(f"{output} is inside the installed otbot package, where edits are lost "
                           "at the next install; import into your own knowledge folder "
                           "(--knowledge DIR, default ./knowledge)")
    if output.exists() and not force:
        raise ImportFailed(f"{output} already exists; use --force to replace it")
    new_folder = seed is not None and not folder.exists()
    result = read_faq(source, existing_ids(seed if new_folder and seed else folder, output))
    if result.entries:
        if new_folder and seed is not None:
            shutil.copytree(seed, folder)
            result.seeded_from = seed
        write_atomic(output, to_yaml(result.entries, source.name))
    return result


def read_faq(source: Path, taken: set[str]) -> Imported:
    """Entries from a CSV or TSV file with a header row; ids avoid those in `taken`."""
    result = Imported()
    taken = set(taken)
    for line, values, problem in _rows(source):
        if problem:
            result.problems.append(Problem(str(source), line, problem))
        else:
            values["id"] = unique_id(values.get("id") or values["question"], taken)
            result.entries.append(_entry(values))
    return result


def _rows(source: Path) -> Iterator[tuple[int, dict[str, str], str]]:
    """(line, field values, problem or "") for each non-blank data row."""
    try:
        text = source.read_text(encoding="utf-8-sig")  # Excel starts its UTF-8 with a BOM
    except (OSError, UnicodeDecodeError) as error:
        raise ImportFailed(f"cannot read {source}: {error}") from error
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(source, text))
    header = next(reader, None)
    if header is None:
        raise ImportFailed(f"{source} is empty")
    columns = _columns(source, header)
    line = reader.line_num + 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield line, *_values(row, columns, len(header))
            line = reader.line_num + 1  # a quoted cell may span several lines
    except csv.Error as error:  # a NUL byte, or a cell far beyond any answer's length
        raise ImportFailed(f"{source}:{line}: not readable as CSV: {error}") from error


def _delimiter(source: Path, text: str) -> str:
    """Tab for .tsv, comma for .csv, else whichever of the two (or ;) the file seems to use."""
    suffix = source.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "\t" if suffix == ".tsv" else ","
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",\t;").delimiter
    except csv.Error:  # a single column, or too little text to tell
        return ","


def _columns(source: Path, header: list[str]) -> dict[str, int]:
    """The column of each known field, by its header name; required ones must be there."""
    names = [name.strip().casefold() for name in header]
    columns = {}
    for key, variants in COLUMNS.items():
        index = next((i for i, name in enumerate(names) if name in variants), None)
        if index is not None:
            columns[key] = index
    missing = [key for key in REQUIRED if key not in columns]
    if missing:
        wanted = "; ".join(f"{key}: {' or '.join(COLUMNS[key])}" for key in missing)
        raise ImportFailed(f"{source}:1: the header row needs a column for each of {wanted}"
                           f" (found: {', '.join(h.strip() for h in header) or 'nothing'})")
    return columns


def _values(row: list[str], columns: dict[str, int], width: int) -> tuple[dict[str, str], str]:
    """The row's fields, and what is wrong with it ("" if nothing)."""
    if len(row) != width:
        return {}, f"the row has {len(row)} columns; the header has {width}"
    values = {key: row[index].strip() for key, index in columns.items()}
    missing = [key for key in REQUIRED if not values[key]]
    if missing:
        return values, f"missing {' and '.join(missing)}"
    if len(values["answer"]) > MAX_MESSAGE:
        return values, (f"the answer is {len(values['answer'])} characters; a Telegram "
                        f"message holds at most {MAX_MESSAGE}")
    return values, ""


def _entry(values: dict[str, str]) -> dict[str, Any]:
    """A knowledge-base entry, fields in the order maintainers read them."""
    question = " ".join(values["question"].split())
    entry: dict[str, Any] = {
        "id": values["id"], "question": question,
        "alternates": [a for a in _split(values.get("alternates", ""))
                       if a.casefold() != question.casefold()],
        # Answers are Telegram HTML: text from elsewhere must not be read as tags.
        "answer": "\n".join(line.rstrip() for line in
                            html.escape(values["answer"], quote=False).splitlines()),
    }
    keywords = _split(values.get("keywords", ""))
    if keywords:
        entry["keywords"] = keywords
    entry["source"] = "imported"
    entry["draft"] = True  # parents never see it until a maintainer removes this after review
    return entry


def _split(cell: str) -> list[str]:
    """The items of a cell separated by | or ;, without blanks or repeats."""
    items: dict[str, str] = {}
    for item in _LIST_SEPARATORS.split(cell):
        item = " ".join(item.split())
        if item:
            items.setdefault(item.casefold(), item)
    return list(items.values())


def slug(text: str) -> str:
    """A lower-case id of a-z, 0-9 and '-', at most 40 characters, cut between words."""
    ascii_text = unicodedata.normalize("NFKD", normalize(text)).encode("ascii", "ignore")
    words = _NOT_ID.sub(" ", ascii_text.decode()).split()
    result = ""
    for word in words:
        longer = f"{result}-{word}" if result else word
        if len(longer) > MAX_ID:
            break
        result = longer
    return result or (words[0][:MAX_ID] if words else "entry")


def unique_id(text: str, taken: set[str]) -> str:
    """slug(text), with -2, -3 ... added if taken; the id is added to `taken`."""
    base = slug(text)
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        suffix = f"-{number}"
        candidate = base[: MAX_ID - len(suffix)].rstrip("-") + suffix
    taken.add(candidate)
    return candidate


def existing_ids(folder: Path, replaced: Path) -> set[str]:
    """The ids of the folder's FAQ files, except the one about to be replaced."""
    ids: set[str] = set()
    for file in sorted((folder / "faq").glob("*.yaml")):
        if file.resolve() == replaced.resolve():
            continue
        try:
            data = load_yaml(file, str(file))
        except YamlError:  # `kb check` reports it; its ids cannot be known
            continue
        items = data if isinstance(data, list) else []
        ids.update(str(item.get("id")) for item in items if isinstance(item, MarkedDict))
    return ids


class _Dumper(yaml.SafeDumper):
    """Writes texts of several lines as | blocks, as the shipped files do."""


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text)


def to_yaml(entries: list[dict[str, Any]], source_name: str) -> str:
    """The YAML text of an FAQ file, with a note on where it came from."""
    body = yaml.dump(entries, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return (f"# Imported from {source_name} by `otbot kb import`. Every entry is a draft:\n"
            "# parents never see it. Review each one (alternates, keywords, area, related), add\n"
            "# `reviewed:` and `reviewed_by:` when a therapist has checked it, remove\n"
            "# `draft: true` to publish it, then run `otbot kb check`.\n\n"
            + body.replace("\n- id:", "\n\n- id:"))


def write_atomic(path: Path, text: str) -> None:
    """Write a whole file or nothing: a temporary file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not *.yaml: a bot reloading meanwhile must not read the half-written file.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        # mkstemp makes the file private (0600); a knowledge file or a report is not.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
