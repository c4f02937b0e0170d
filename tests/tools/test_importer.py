"""`otbot kb import`: CSV and TSV FAQs become knowledge-base YAML that passes `kb check`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from test_overlaps import FAQ, faq_folder

from otbot.cli import main
from otbot.kb import ID_PATTERN, default_dir, read_knowledge
from otbot.tools.checks import check_folder
from otbot.tools.importer import slug, unique_id

GOOD_CSV = """\
Question,Answer,Alternates,Keywords,Category
What is sensory play?,"Play with sand, water & <b>mud</b>.",messy play | sand play; water play,\
"sand;water",x
How long is a session?,"About 45 minutes.
Sometimes an hour.",session length,,y
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A small knowledge folder: 'tie-shoes', 'dressing', 'bedtime', 'sleep'."""
    return faq_folder(tmp_path, FAQ)


def run_import(folder: Path, source: Path, *extra: str) -> int:
    """`otbot kb import SOURCE --knowledge FOLDER ...`'s exit code."""
    return main(["kb", "import", str(source), "--knowledge", str(folder), *extra])


def write(path: Path, text: str) -> Path:
    """Write `text` to `path` exactly (no newline translation) and return the path."""
    path.write_bytes(text.encode("utf-8"))
    return path


def imported(folder: Path) -> list[dict]:
    """The entries of the default output file."""
    return yaml.safe_load((folder / "faq" / "imported.yaml").read_text(encoding="utf-8"))


def test_a_good_csv_becomes_entries(folder: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert run_import(folder, write(tmp_path / "faq.csv", GOOD_CSV)) == 0
    entries = imported(folder)
    assert entries == [
        {"id": "what-is-sensory-play", "question": "What is sensory play?",
         "alternates": ["messy play", "sand play", "water play"],
         "answer": "Play with sand, water &amp; &lt;b&gt;mud&lt;/b&gt;.",
         "keywords": ["sand", "water"], "source": "imported", "draft": True},
        {"id": "how-long-is-a-session", "question": "How long is a session?",
         "alternates": ["session length"], "answer": "About 45 minutes.\nSometimes an hour.",
         "source": "imported", "draft": True},
    ]
    out = capsys.readouterr().out
    assert f"2 entries written to {folder / 'faq' / 'imported.yaml'}, 0 rows skipped" in out
    assert "otbot kb check" in out


def test_a_tsv_with_other_header_names(folder: Path, tmp_path: Path) -> None:
    source = write(tmp_path / "export.tsv", "ID\tTITLE\tresponse\tParaphrases\n"
                                           "Sensory Diet\tWhat is a sensory diet?\tA plan.\ta;b\n")
    assert run_import(folder, source) == 0
    (entry,) = imported(folder)
    assert (entry["id"], entry["question"], entry["answer"], entry["alternates"]) == (
        "sensory-diet", "What is a sensory diet?", "A plan.", ["a", "b"])


@pytest.mark.parametrize(("header", "delimiter"), [
    ("q;a;variants", ";"), ("Q\tA\tAlternatives", "\t"), ("question,answer,alternates", ",")])
def test_other_extensions_are_sniffed(folder: Path, tmp_path: Path, header: str,
                                      delimiter: str) -> None:
    row = delimiter.join(["Why OT?", "Because it helps.", "why ot|reason for ot"])
    assert run_import(folder, write(tmp_path / "faq.txt", f"{header}\n{row}\n")) == 0
    (entry,) = imported(folder)
    assert (entry["question"], entry["alternates"]) == ("Why OT?", ["why ot", "reason for ot"])


def test_ids_are_unique_against_the_folder_and_within_the_file(folder: Path,
                                                               tmp_path: Path) -> None:
    long_question = "What can I do at home to help my child who struggles with handwriting?"
    source = write(tmp_path / "faq.csv", "id,question,answer\n"
                   "tie-shoes,Laces?,Use thick laces.\n"
                   ",What is OT?,Therapy for daily life.\n"
                   ",What is OT??,Therapy again.\n"
                   f",{long_question},Practise.\n"
                   f",{long_question},Practise more.\n")
    assert run_import(folder, source) == 0
    ids = [entry["id"] for entry in imported(folder)]
    assert ids == ["tie-shoes-2", "what-is-ot", "what-is-ot-2",
                   "what-can-i-do-at-home-to-help-my-child",  # cut between words, 38 characters
                   "what-can-i-do-at-home-to-help-my-child-2"]
    assert all(ID_PATTERN.match(i) and len(i) <= 40 for i in ids)


def test_slugs() -> None:
    assert slug("Can OT help with my child's fine-motor skills?") == \
        "can-ot-help-with-my-child-fine-motor"
    assert slug("Ergothérapie à l\u2019école") == "ergotherapie-a-lecole"
    assert slug("¿?") == "entry"
    assert slug("x" * 50) == "x" * 40
    taken = {"entry", "x" * 40}
    assert unique_id("!!", taken) == "entry-2" and "entry-2" in taken
    assert unique_id("x" * 50, taken) == "x" * 38 + "-2"  # still at most 40 characters


def test_malformed_rows_are_reported_at_their_line_and_skipped(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write(tmp_path / "faq.csv", "question,answer\n"                # line 1
                                         '"Good one","Spans\ntwo lines"\n'  # lines 2-3
                                         ",No question here\n"              # line 4
                                         "No answer here,\n"                # line 5
                                         "\n"                               # line 6: blank
                                         "Too,many,columns\n"               # line 7
                                         f"Too long,{'x' * 4097}\n"         # line 8
                                         ",\n"                              # line 9: blank
                                         "Fine,Yes.\n")                     # line 10
    assert run_import(folder, source) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"otbot: knowledge folder {folder}",
        f"{source}:4: missing question",
        f"{source}:5: missing answer",
        f"{source}:7: the row has 3 columns; the header has 2",
        f"{source}:8: the answer is 4097 characters; a Telegram message holds at most 4096",
    ]
    assert [e["question"] for e in imported(folder)] == ["Good one", "Fine"]


def test_summary_counts_skipped_rows(folder: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    source = write(tmp_path / "faq.csv", "question,answer,alternates\nA?,B.,\n,,only this\n")
    assert run_import(folder, source) == 0
    output = capsys.readouterr()
    assert f"1 entry written to {folder / 'faq' / 'imported.yaml'}, 1 row skipped" in output.out
    assert output.err == (f"otbot: knowledge folder {folder}\n"
                          f"{source}:3: missing question and answer\n")


def test_nothing_is_written_when_no_row_is_valid(folder: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    source = write(tmp_path / "faq.csv", "question,answer\n,No question\n")
    assert run_import(folder, source) == 1
    assert not (folder / "faq" / "imported.yaml").exists()
    assert sorted(p.name for p in (folder / "faq").iterdir()) == ["a.yaml"]  # no temp file
    assert "nothing was written" in capsys.readouterr().err


def test_a_file_without_the_required_columns_is_refused(folder: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    source = write(tmp_path / "faq.csv", "title,body\nA,B\n")
    assert run_import(folder, source) == 1
    err = capsys.readouterr().err
    assert f"{source}:1: the header row needs a column for each of answer: answer or a or " \
           "response (found: title, body)" in err
    assert not (folder / "faq" / "imported.yaml").exists()


def test_an_existing_output_is_replaced_only_with_force(folder: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "out.yaml"
    output.write_text("keep me", encoding="utf-8")
    source = write(tmp_path / "faq.csv", GOOD_CSV)
    assert run_import(folder, source, "--output", str(output)) == 1
    assert output.read_text(encoding="utf-8") == "keep me"
    assert "already exists; use --force" in capsys.readouterr().err
    assert run_import(folder, source, "--output", str(output), "--force") == 0
    assert "what-is-sensory-play" in output.read_text(encoding="utf-8")


def test_replacing_with_force_does_not_count_its_own_ids_as_taken(folder: Path,
                                                                  tmp_path: Path) -> None:
    source = write(tmp_path / "faq.csv", GOOD_CSV)
    assert run_import(folder, source) == 0
    assert run_import(folder, source, "--force") == 0
    assert [e["id"] for e in imported(folder)] == ["what-is-sensory-play", "how-long-is-a-session"]


def test_the_result_passes_kb_check_with_the_shipped_folder(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(default_dir(), folder)
    source = write(tmp_path / "faq.csv", GOOD_CSV + "What is OT?,It helps & more,,,z\n"
                   'Yes,"no: 1, #2, {x}, - y, ""quoted""",true;null,,\n')
    assert run_import(folder, source) == 0
    assert [str(p) for p in check_folder(folder) if p.level == "error"] == []
    kb, _ = read_knowledge(folder)
    assert kb is not None
    assert kb.drafts["what-is-ot-2"].answer == "It helps &amp; more"
    assert kb.drafts["yes"].alternates == ("true", "null")
    assert kb.drafts["yes"].answer == 'no: 1, #2, {x}, - y, "quoted"'
    assert not set(kb.drafts) & set(kb.entries)  # imported entries are drafts, not live
