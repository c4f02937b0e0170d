"""Every malformed value in every knowledge file: one plain FILE:LINE error, never a traceback."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest

from otbot.cli import main
from otbot.kb import default_dir, read_knowledge

FILES = ("faq/about.yaml", "synonyms.yaml", "urgent.yaml", "smalltalk.yaml", "decline.yaml",
         "themes.yaml", "messages.yaml", "screen.yaml")
BAD_VALUES = ("2026-13-45", "[1, 2]", "{a: 1}", "12", "true", "", '"unclosed', "[[x]]",
              "2026-02-30 10:00:00")
FIELD_LINE = re.compile(r"^(\s*(?:- )?[\w-]+:\s)(.*)$")
PLAIN = re.compile(r"^knowledge/[\w./-]+:\d+: \S")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the shipped knowledge folder, named `knowledge`."""
    copy = tmp_path / "knowledge"
    shutil.copytree(default_dir(), copy)
    return copy


def replace_line(path: Path, old: str, new: str) -> int:
    """Replace the first line that starts with `old` (stripped) by `new`; return its number."""
    lines = path.read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith(old))
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    lines[index] = indent + new
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return index + 1


def errors(folder: Path) -> list[str]:
    """The errors `kb check` would print."""
    kb, problems = read_knowledge(folder)
    found = [str(p) for p in problems if p.level == "error"]
    assert (kb is None) == bool(found)
    return found


def test_an_impossible_date_is_one_plain_error(folder: Path) -> None:
    """`reviewed: 2026-13-45` crashed every command; now it is one line with a hint."""
    line = replace_line(folder / "faq" / "about.yaml", "source:", "reviewed: 2026-13-45")
    assert errors(folder) == [
        f"knowledge/faq/about.yaml:{line}: 'reviewed': 2026-13-45 is not a real date (month "
        "must be in 1..12); write it as year-month-day, like 2026-01-31"]


def test_a_date_in_words_is_one_plain_error(folder: Path) -> None:
    line = replace_line(folder / "faq" / "about.yaml", "source:", "reviewed: last Tuesday")
    assert errors(folder) == [
        f"knowledge/faq/about.yaml:{line}: 'reviewed' must be a date written as year-month-day,"
        " like 2026-01-31"]


@pytest.mark.parametrize("command", [
    ["kb", "check"], ["health"], ["chat"], ["ask", "what is ot"], ["eval", "eval/dev.yaml"]])
def test_every_command_reports_the_bad_date_without_a_traceback(
        folder: Path, command: list[str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    line = replace_line(folder / "faq" / "about.yaml", "source:", "reviewed: 2026-13-45")
    monkeypatch.setattr("sys.stdin", open("/dev/null"))  # noqa: SIM115 - chat reads stdin
    monkeypatch.setenv("OTBOT_DATA_DIR", str(folder.parent / "data"))
    try:
        code: object = main([*command, "--knowledge", str(folder)])
    except SystemExit as exited:
        code = exited.code
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in out + err
    assert f"faq/about.yaml:{line}: 'reviewed': 2026-13-45 is not a real date" in out + err


@pytest.mark.parametrize(("old", "new", "message"), [
    pytest.param("  question: What is this bot", '  question: "What is this bot?',
                 "a quote (\" or ') opened on this line is never closed; close it at the end of "
                 "the text, or leave the quotes out", id="unclosed-quote"),
    pytest.param("  question: What is this bot", "\tquestion: What is this bot?",
                 "a tab character: YAML files are indented with spaces only; replace the tab "
                 "with spaces", id="tab"),
    pytest.param("  question: What is this bot", "   question: What is this bot?",
                 "this field is indented more than the one above it: the fields of one entry "
                 "must start in the same column", id="indented-too-far"),
    pytest.param("  question: What is this bot", " question: What is this bot?",
                 "this line is indented out of step with the lines above it: the fields of one "
                 "entry must start in the same column, and list items ('- ') must line up",
                 id="indented-too-little"),
    pytest.param("  question: What is this bot", "  question What is this bot?",
                 "this line is neither 'field: value' nor a '- ' list item: a colon is missing, "
                 "or the line is indented out of step with the lines around it",
                 id="missing-colon"),
])
def test_a_yaml_slip_is_one_error_in_plain_words(folder: Path, old: str, new: str,
                                                 message: str) -> None:
    """No parser jargon ("expected <block end>"), the line to look at, and nothing else."""
    path = folder / "faq" / "about.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    index = next(i for i, text in enumerate(lines) if text.startswith(old))
    lines[index] = new
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert errors(folder) == [f"knowledge/faq/about.yaml:{index + 1}: {message}"]


def test_a_missing_dash_between_two_entries_is_one_error(folder: Path) -> None:
    """Two entries merged into one mapping used to give an error per repeated field."""
    path = folder / "faq" / "about.yaml"
    text = path.read_text(encoding="utf-8")
    second = text.index("\n- id:", 1) + 1
    path.write_text(text[:second] + "  " + text[second + 2:], encoding="utf-8")
    line = text[:second].count("\n") + 1
    assert errors(folder) == [
        f"knowledge/faq/about.yaml:{line}: a second 'id' (and its other fields) inside one "
        "entry: start each entry with '- ', as in '- id: ...'"]


def test_a_broken_entry_is_not_reported_again_by_the_links_to_it(folder: Path) -> None:
    """An entry other entries relate to, with a bad id: one error, not one per link."""
    path = folder / "faq" / "about.yaml"
    line = replace_line(path, "- id: about-bot", "- id: About Bot")
    assert errors(folder) == [
        f"knowledge/faq/about.yaml:{line}: 'id' must be 1-40 characters of a-z, 0-9 and '-', "
        "starting with a letter or digit, like 'about-bot'"]


@pytest.mark.parametrize("name", FILES)
def test_any_malformed_value_in_any_file_is_reported_plainly(folder: Path, name: str) -> None:
    """Each value of each file replaced by wrong ones (a sample): never an exception, and
    every problem is FILE:LINE: message."""
    path = folder / name
    original = path.read_text(encoding="utf-8").splitlines()
    candidates = [i for i, line in enumerate(original)
                  if FIELD_LINE.match(line) and not line.lstrip().startswith("#")]
    chosen = random.Random(name).sample(candidates, min(6, len(candidates)))
    for index in chosen:
        for value in BAD_VALUES:
            lines = list(original)
            match = FIELD_LINE.match(lines[index])
            assert match is not None
            lines[index] = match.group(1) + value
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            _, problems = read_knowledge(folder)
            for problem in problems:
                assert PLAIN.match(str(problem)), (name, index + 1, value, str(problem))
            assert "Traceback" not in "".join(map(str, problems))
    path.write_text("\n".join(original) + "\n", encoding="utf-8")
