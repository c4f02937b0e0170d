"""The knowledge loader on small folders: what loads, and every problem at its FILE:LINE."""

from __future__ import annotations

from pathlib import Path

import pytest

from otbot.kb import KnowledgeError, load_knowledge, read_knowledge
from otbot.tools.checks import check_folder
from otbot.understanding.matcher import Matcher

# Two good entries, lines 1-10; anything appended starts at line 11.
GOOD = """\
- id: tie-shoes
  question: How can I help my child learn to tie shoelaces?
  alternates:
    - teaching a kid to tie shoes
  answer: Practise with <b>thick laces</b> on a shoe held in the lap.
- id: bedtime
  question: How do I get my child to settle at bedtime?
  alternates:
    - bedtime routine for a toddler
  answer: A calm, regular routine helps most children settle.
"""
FAQ = "knowledge/faq/a.yaml"  # how problems name the first FAQ file


def make_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    """A knowledge folder in tmp_path holding `files` ({relative path: YAML text})."""
    folder = tmp_path / "knowledge"
    folder.mkdir()
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def printed(folder: Path) -> list[str]:
    """The lines `otbot kb check` prints for the folder, asserting nothing of it was loaded."""
    kb, problems = read_knowledge(folder)
    assert kb is None, "a folder with errors must not load"
    lines = [str(p) for p in check_folder(folder)]
    assert lines == [str(p) for p in sorted(problems)]
    return lines


def with_faq(tmp_path: Path, extra: str) -> list[str]:
    """The problems of a folder whose only FAQ file is GOOD followed by `extra`."""
    return printed(make_folder(tmp_path, {"faq/a.yaml": GOOD + extra}))


# --- what loads ------------------------------------------------------------------------------


def test_minimal_folder_loads_with_shipped_defaults_and_answers(tmp_path: Path) -> None:
    """Only faq/*.yaml with id, question, alternates, answer: loads, and the bot works."""
    kb, problems = read_knowledge(make_folder(tmp_path, {"faq/a.yaml": GOOD}))
    assert problems == []
    assert kb is not None
    assert list(kb.entries) == ["tie-shoes", "bedtime"]
    assert kb.entries["bedtime"].theme == "a"  # the group is the file's name
    assert kb.urgent.kinds and kb.urgent.cues  # the shipped urgent.yaml
    assert {k.id for k in kb.smalltalk.kinds} >= {"greeting", "thanks", "goodbye"}
    assert kb.message("fallback")  # the shipped messages.yaml
    assert kb.screen is not None  # the shipped screen, borrowed
    matcher = Matcher(kb)
    decision = matcher.decide("how do I teach my son to tie his shoes")
    assert (decision.kind, decision.topic) == ("answer", "tie-shoes")
    assert matcher.decide("hello there").kind == "smalltalk"
    assert matcher.decide("my child is not breathing").kind == "urgent"


def test_long_answer_is_only_a_warning(tmp_path: Path) -> None:
    """An answer over ~900 characters warns about phone screens but still loads."""
    folder = make_folder(tmp_path, {"faq/a.yaml": GOOD + (
        "- id: long\n"
        "  question: Can you tell me everything?\n"
        "  alternates: [everything]\n"
        f"  answer: {'a' * 950}\n")})
    kb, problems = read_knowledge(folder)
    assert [str(p) for p in problems] == [
        f"{FAQ}:14: warning: answer is 950 characters; keep it under about 900 for a phone screen"]
    assert kb is not None and "long" in kb.entries
    assert [str(w) for w in kb.warnings] == [str(p) for p in problems]
    assert [str(p) for p in check_folder(folder)] == [str(p) for p in problems]
    assert load_knowledge(folder).entries.keys() == kb.entries.keys()


# --- each problem at its line ----------------------------------------------------------------


@pytest.mark.parametrize(("extra", "expected"), [
    pytest.param("- id: why\n  question: Why: is it called that?\n  answer: ok\n",
                 f"{FAQ}:12: a colon followed by a space inside a text: put the whole text in "
                 'quotes ("..."), or write it as a | block',
                 id="colon-in-question"),
    pytest.param("- id: why\n\tquestion: Why?\n",
                 f"{FAQ}:12: a tab character: YAML files are indented with spaces only; "
                 "replace the tab with spaces",
                 id="tab-indent"),
])
def test_yaml_syntax_error_names_file_and_line(tmp_path: Path, extra: str, expected: str) -> None:
    """A file that is not YAML is reported at the line the parser stopped."""
    assert with_faq(tmp_path, extra) == [expected]


@pytest.mark.parametrize(("extra", "expected"), [
    pytest.param("- id: sleep\n  question: Why?\n  alternates: [x]\n",
                 f"{FAQ}:11: missing field 'answer'", id="answer"),
    pytest.param("- id: sleep\n  question: Why?\n  answer: ok\n",
                 f"{FAQ}:11: missing field 'alternates'", id="alternates"),
    pytest.param("- id: sleep\n  alternates: [x]\n  answer: ok\n",
                 f"{FAQ}:11: missing field 'question'", id="question"),
    pytest.param("- question: Why?\n  alternates: [x]\n  answer: ok\n",
                 f"{FAQ}:11: missing field 'id' in an entry", id="id"),
])
def test_missing_required_field(tmp_path: Path, extra: str, expected: str) -> None:
    """A required field left out is reported at the entry's first line."""
    assert with_faq(tmp_path, extra) == [expected]


def test_misspelt_field_is_an_error_with_a_hint(tmp_path: Path) -> None:
    """A misspelt field is never silently ignored, and the right name is suggested."""
    extra = "- id: sleep\n  question: Why?\n  alternates: [x]\n  answer: ok\n  keywrds: [nap]\n"
    assert with_faq(tmp_path, extra) == [
        f"{FAQ}:15: unknown field 'keywrds' in an entry (did you mean 'keywords'?)"]


def test_misspelt_answer_reports_both_the_unknown_and_the_missing_field(tmp_path: Path) -> None:
    """'anwser' is unknown (with a hint) and leaves the entry without an answer."""
    extra = "- id: sleep\n  question: Why?\n  alternates: [x]\n  anwser: ok\n"
    assert with_faq(tmp_path, extra) == [
        f"{FAQ}:11: missing field 'answer'",
        f"{FAQ}:14: unknown field 'anwser' in an entry (did you mean 'answer'?)"]


def test_unknown_field_without_a_near_name_has_no_hint(tmp_path: Path) -> None:
    """A field unlike any known one is reported without a misleading suggestion."""
    extra = "- id: sleep\n  question: Why?\n  alternates: [x]\n  answer: ok\n  colour: red\n"
    assert with_faq(tmp_path, extra) == [f"{FAQ}:15: unknown field 'colour' in an entry"]


def test_duplicate_id_across_two_files(tmp_path: Path) -> None:
    """The second use of an id names both places."""
    folder = make_folder(tmp_path, {
        "faq/a.yaml": GOOD,
        "faq/b.yaml": "- id: bedtime\n  question: Sleep?\n  alternates: [naps]\n  answer: ok\n"})
    assert printed(folder) == [
        "knowledge/faq/b.yaml:1: duplicate id 'bedtime' (first at knowledge/faq/a.yaml:6)"]


def test_dangling_related_id(tmp_path: Path) -> None:
    """A `related` id that names no entry is reported at the entry."""
    extra = "- id: sleep\n  question: Why?\n  alternates: [x]\n  answer: ok\n  related: [naps]\n"
    assert with_faq(tmp_path, extra) == [
        f"{FAQ}:11: 'sleep' is related to 'naps': unknown FAQ topic 'naps'"]


@pytest.mark.parametrize(("bad_id", "hint"), [
    ("Fine_Motor", ", like 'fine-motor'"), ("fine motor", ", like 'fine-motor'"),
    ("-fine-motor", ", like 'fine-motor'"), ("a" * 41, f", like '{'a' * 40}'"),
    ("123", " (YAML read it as a number: put it in quotes)")])
def test_bad_id_format(tmp_path: Path, bad_id: str, hint: str) -> None:
    """Ids are 1-40 of a-z, 0-9 and '-': upper case, spaces, a leading dash, 41 letters fail."""
    extra = f"- id: {bad_id}\n  question: Why?\n  alternates: [x]\n  answer: ok\n"
    assert with_faq(tmp_path, extra) == [
        f"{FAQ}:11: 'id' must be 1-40 characters of a-z, 0-9 and '-', starting with a letter"
        " or digit" + hint]


@pytest.mark.parametrize(("answer", "message"), [
    pytest.param("Use <p>short paragraphs</p>.", "tag <p> is not allowed by Telegram", id="p"),
    pytest.param("<b>Practise every day.", "<b> is never closed", id="unclosed-b"),
    pytest.param("'Scissors & glue help.'", "a bare & must be written &amp;", id="bare-amp"),
    pytest.param("'Keep sessions < 10 minutes.'", "a bare < or > must be written &lt; or &gt;",
                 id="bare-lt"),
    pytest.param("'Wait&nbsp;and see.'", "&nbsp; is not an entity Telegram knows", id="nbsp"),
    pytest.param("<a>our clinic</a>", "<a> needs an href", id="a-without-href"),
])
def test_answer_with_html_telegram_rejects(tmp_path: Path, answer: str, message: str) -> None:
    """Markup Telegram would refuse (a 400 at send time) is caught at load, at the answer."""
    extra = f"- id: sleep\n  question: Why?\n  alternates: [x]\n  answer: {answer}\n"
    assert with_faq(tmp_path, extra) == [f"{FAQ}:14: 'answer': {message}"]


@pytest.mark.parametrize(("answer", "message"), [
    pytest.param('""', "'answer' must be a non-empty text", id="empty-string"),
    pytest.param("'   '", "'answer' must be a non-empty text", id="spaces"),
    pytest.param("<b></b>", "'answer': the text shows nothing", id="only-tags"),
])
def test_empty_answer(tmp_path: Path, answer: str, message: str) -> None:
    """An answer that would show the parent nothing is an error at its line."""
    extra = f"- id: sleep\n  question: Why?\n  alternates: [x]\n  answer: {answer}\n"
    assert with_faq(tmp_path, extra) == [f"{FAQ}:14: {message}"]


def test_blank_answer_is_reported_as_empty_at_its_line(tmp_path: Path) -> None:
    """`answer:` with nothing after it is an empty answer, at line 14."""
    extra = "- id: sleep\n  question: Why?\n  alternates: [x]\n  answer:\n"
    assert with_faq(tmp_path, extra) == [
        f"{FAQ}:14: 'answer' must be a non-empty text (it is empty)"]


def test_answer_over_telegram_limit_is_an_error(tmp_path: Path) -> None:
    """Over 4096 characters Telegram refuses the message: an error, besides the warning."""
    extra = f"- id: sleep\n  question: Why?\n  alternates: [x]\n  answer: {'a' * 4100}\n"
    assert with_faq(tmp_path, extra) == [
        f"{FAQ}:14: 'answer': the text is 4100 characters, over Telegram's 4096",
        f"{FAQ}:14: warning: answer is 4100 characters; keep it under about 900 for a phone "
        "screen"]


def test_duplicate_key_in_one_mapping(tmp_path: Path) -> None:
    """A field given twice (YAML silently keeps the last) is reported at the second one."""
    extra = "- id: sleep\n  question: Why?\n  question: How?\n  alternates: [x]\n  answer: ok\n"
    assert with_faq(tmp_path, extra) == [f"{FAQ}:13: field 'question' is given twice: keep one"]


@pytest.mark.parametrize("text", [
    pytest.param("id: sleep\nquestion: Why?\nalternates: [x]\nanswer: ok\n", id="mapping"),
    pytest.param("", id="empty-file"),
    pytest.param("just some text\n", id="text"),
])
def test_faq_file_that_is_not_a_list(tmp_path: Path, text: str) -> None:
    """An FAQ file must be a list of entries."""
    folder = make_folder(tmp_path, {"faq/a.yaml": GOOD, "faq/b.yaml": text})
    assert printed(folder) == [
        "knowledge/faq/b.yaml:1: an FAQ file must be a list of entries, each starting with "
        "'- id: '"]


def test_entry_that_is_not_a_mapping_is_reported_at_its_line(tmp_path: Path) -> None:
    """A stray `- text` item among the entries is reported where it is."""
    assert with_faq(tmp_path, "- just a sentence\n") == [
        f"{FAQ}:11: each entry must be a mapping with id, question, alternates, answer "
        "(does the line start with '- id: '?)"]


@pytest.mark.parametrize("files", [
    pytest.param({"synonyms.yaml": "child: [kid]\n"}, id="no-faq-folder"),
    pytest.param({"faq/a.yml": GOOD}, id="only-yml-files"),
])
def test_no_faq_files(tmp_path: Path, files: dict[str, str]) -> None:
    """A folder without faq/*.yaml is an error, not an empty bot."""
    assert printed(make_folder(tmp_path, files)) == [
        "knowledge/faq:1: no FAQ files (faq/*.yaml) found"]


def test_missing_folder(tmp_path: Path) -> None:
    """A folder that does not exist is named."""
    missing = tmp_path / "nowhere"
    assert printed(missing) == [f"{missing}:1: no such knowledge folder"]


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    """A file saved in another encoding is reported, not a crash."""
    folder = make_folder(tmp_path, {"faq/a.yaml": GOOD})
    (folder / "faq" / "b.yaml").write_bytes("- id: caf\xe9\n".encode("latin-1"))
    (line,) = printed(folder)
    assert line == ("knowledge/faq/b.yaml:1: the file is not UTF-8 text; save it as UTF-8 in "
                    "your editor")


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("- child\n- kid\n", "1: synonyms.yaml must map each term to a list of variants",
                 id="not-a-mapping"),
    pytest.param("child: [kid]\nyoungster: [kid]\n",
                 "2: 'kid' is a variant of both 'child' and 'youngster'", id="variant-twice"),
    pytest.param("pencil: [pen]\nchild: kid\n",
                 "2: 'child' needs a list of variants, like child: [a, b]", id="not-a-list"),
    pytest.param("child: [kid, '']\n", "1: 'child' item 2 must be a non-empty text",
                 id="empty-variant"),
    pytest.param("child: [kid]\nchild: [son]\n", "2: field 'child' is given twice: keep one",
                 id="term-twice"),
    pytest.param("child: [kid\n",
                 "1: a list in [ ] or a mapping in { } is not closed properly: check the "
                 "brackets and put texts that contain commas or colons in quotes", id="syntax"),
])
def test_synonyms_file_errors(tmp_path: Path, text: str, expected: str) -> None:
    """Each mistake in synonyms.yaml is reported at its line."""
    folder = make_folder(tmp_path, {"faq/a.yaml": GOOD, "synonyms.yaml": text})
    assert printed(folder) == [f"knowledge/synonyms.yaml:{expected}"]


KIND = "kinds:\n  - id: breathing\n    when: [[not breathing]]\n    reply: Call 911 now.\n"


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("kinds: [\n",
                 ["1: a list in [ ] or a mapping in { } is not closed properly: check the "
                  "brackets and put texts that contain commas or colons in quotes"],
                 id="syntax"),
    pytest.param("- call 911\n", ["1: urgent.yaml must have cues and kinds"],
                 id="not-a-mapping"),
    pytest.param("kinds: []\n", ["1: urgent.yaml needs a list of 'kinds', each with an id, when "
                                 "and reply"], id="no-kinds"),
    pytest.param(KIND + "    wehn: [[choking]]\n",
                 ["5: unknown field 'wehn' in an urgent kind (did you mean 'when'?)"],
                 id="misspelt-field"),
    pytest.param("kinds:\n  - id: breathing\n    when: [choking, now]\n    reply: Call 911.\n",
                 ["3: each 'when' combination must be a list of cue names or words, such as "
                  "[swallow, battery]"], id="when-not-nested"),
    pytest.param("kinds:\n  - id: breathing\n    when: [[no_air]]\n    reply: Call 911.\n",
                 ["3: 'when' names the cue 'no_air', which 'cues' does not define"],
                 id="unknown-cue"),
    pytest.param("kinds:\n  - id: breathing\n    when: [[not breathing]]\n"
                 "    reply: <b>Call 911 now.\n",
                 ["4: 'reply': <b> is never closed"], id="reply-html"),
    pytest.param(KIND + "    level: later\n",
                 ["5: 'level' must be one of emergency, soon (got 'later')"], id="level"),
    pytest.param(KIND + KIND.removeprefix("kinds:\n"), ["5: duplicate urgent kind 'breathing'"],
                 id="duplicate"),
])
def test_broken_urgent_file(tmp_path: Path, text: str, expected: list[str]) -> None:
    """A broken urgent.yaml stops the load: the bot never runs without its emergency rules."""
    folder = make_folder(tmp_path, {"faq/a.yaml": GOOD, "urgent.yaml": text})
    assert printed(folder) == [f"knowledge/urgent.yaml:{line}" for line in expected]


SMALL_TALK_ANSWER = "kinds:\n  - id: about-me\n    phrases: [who are you]\n    answer: {}\n"


def test_small_talk_kind_may_answer_with_an_entry(tmp_path: Path) -> None:
    """A small-talk kind with `answer` needs no reply: that entry's answer replies."""
    folder = make_folder(tmp_path, {"faq/a.yaml": GOOD,
                                    "smalltalk.yaml": SMALL_TALK_ANSWER.format("tie-shoes")})
    kb, problems = read_knowledge(folder)
    assert kb is not None and problems == []
    decision = Matcher(kb).decide("who are you?")
    assert (decision.kind, decision.topic) == ("answer", "tie-shoes")


def test_small_talk_answer_must_be_an_entry(tmp_path: Path) -> None:
    """An `answer` that names no entry is an error at its line."""
    folder = make_folder(tmp_path, {"faq/a.yaml": GOOD,
                                    "smalltalk.yaml": SMALL_TALK_ANSWER.format("no-such")})
    assert printed(folder) == ["knowledge/smalltalk.yaml:4: unknown FAQ topic 'no-such'"]


def test_misspelt_message_key_is_reported(tmp_path: Path) -> None:
    """A folder's own messages.yaml may only override known texts."""
    folder = make_folder(tmp_path, {"faq/a.yaml": GOOD, "messages.yaml": "welcom: Hi!\n"})
    assert printed(folder) == [
        "knowledge/messages.yaml:1: unknown field 'welcom' in messages.yaml "
        "(did you mean 'welcome'?)"]


# --- never half-loaded -----------------------------------------------------------------------


def test_broken_folder_is_never_half_loaded(tmp_path: Path) -> None:
    """Errors in several files: no model at all, and the exception lists every error."""
    folder = make_folder(tmp_path, {
        "faq/a.yaml": GOOD + "- id: Sleep\n  question: Why?\n  alternates: [x]\n  answer: <p>ok\n",
        "faq/b.yaml": "- id: bedtime\n  question: Sleep?\n  alternates: [naps]\n  answer: ok\n",
        "faq/c.yaml": "- id: naps\n  question: Naps?\n  alternates: [nap]\n"
                      f"  answer: {'a' * 950}\n",
        "synonyms.yaml": "child: kid\n",
    })
    expected_errors = [
        f"{FAQ}:11: 'id' must be 1-40 characters of a-z, 0-9 and '-', starting with a letter"
        " or digit, like 'sleep'",
        f"{FAQ}:14: 'answer': tag <p> is not allowed by Telegram",
        "knowledge/faq/b.yaml:1: duplicate id 'bedtime' (first at knowledge/faq/a.yaml:6)",
        "knowledge/synonyms.yaml:1: 'child' needs a list of variants, like child: [a, b]",
    ]
    warning = ("knowledge/faq/c.yaml:4: warning: answer is 950 characters; keep it under about"
               " 900 for a phone screen")
    kb, problems = read_knowledge(folder)
    assert kb is None
    assert sorted(str(p) for p in problems) == sorted([*expected_errors, warning])
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(folder)
    assert [str(p) for p in raised.value.problems] == expected_errors
    assert str(raised.value).splitlines() == expected_errors


def test_good_entries_do_not_load_beside_a_broken_file(tmp_path: Path) -> None:
    """One broken file keeps the whole folder out, not just that file."""
    folder = make_folder(tmp_path, {"faq/a.yaml": GOOD, "faq/b.yaml": "- id: naps\n  q: [\n"})
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(folder)
    assert [p.path for p in raised.value.problems] == ["knowledge/faq/b.yaml"]


def test_faq_files_without_entries_are_an_error(tmp_path: Path) -> None:
    """A knowledge base with nothing to answer is refused, not served."""
    (tmp_path / "kb" / "faq").mkdir(parents=True)
    (tmp_path / "kb" / "faq" / "a.yaml").write_text("[]\n")
    kb, problems = read_knowledge(tmp_path / "kb")
    assert kb is None
    assert [str(p) for p in problems] == ["kb/faq/a.yaml:1: the FAQ files hold no entries"]
