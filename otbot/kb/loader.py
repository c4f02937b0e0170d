"""Load a knowledge folder into a validated, immutable model, or report every problem in it."""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from otbot.kb.markup import visible_text
from otbot.kb.model import (
    ANY,
    DOCTOR,
    NONE,
    Decline,
    Entry,
    KnowledgeBase,
    KnowledgeError,
    Level,
    LinearModel,
    SmallTalk,
    SmallTalkKind,
    Theme,
    Urgent,
    UrgentKind,
)
from otbot.kb.reader import (
    AREAS,
    ID_PATTERN,
    UNREADABLE,
    Reader,
    default_dir,
    mapping_file,
    type_hint,
)
from otbot.kb.screen import read_screen
from otbot.kb.yamlfile import MarkedDict, MarkedList, Problem

ANSWER_ADVISED_LENGTH = 900  # what a parent reads comfortably on a phone
VERDICT = re.compile(r"\s*(yes|no)\b\s*[.,!;:]", re.IGNORECASE)
ENTRY_FIELDS = {"id", "question", "alternates", "answer", "more", "keywords", "related", "area",
                "source", "reviewed", "reviewed_by", "offer_screen", "draft"}


def _reply_text(reader: Reader, data: MarkedDict, key: str, path: str, *,
                required: bool) -> str:
    """An answer or its "more" text: Telegram HTML, short enough for a phone, no verdict."""
    text = reader.text(data, key, path, html=True, required=required)
    if text and len(visible_text(text)) > ANSWER_ADVISED_LENGTH:
        reader.warn(path, data.line_of(key),
                    f"{key} is {len(visible_text(text))} characters; "
                    f"keep it under about {ANSWER_ADVISED_LENGTH} for a phone screen")
    if text and VERDICT.match(visible_text(text)):
        reader.warn(path, data.line_of(key),
                    f"{key} opens with a bare Yes or No, which reads as a verdict on the child: "
                    "open with what it is about instead")
    return text


def _entry(reader: Reader, data: Any, path: str, theme: str, line: int) -> Entry | None:
    if not isinstance(data, MarkedDict):
        reader.error(path, line, "each entry must be a mapping with id, question, alternates, "
                                 "answer (does the line start with '- id: '?)")
        return None
    before = len(reader.problems)
    reader.fields(data, ENTRY_FIELDS, path, "an entry")
    entry_id = reader.identifier(data, path, "an entry")
    question = reader.text(data, "question", path)
    alternates = reader.texts(data, "alternates", path, required=True)
    answer = _reply_text(reader, data, "answer", path, required=True)
    more = _reply_text(reader, data, "more", path, required=False)
    keywords, related = reader.texts(data, "keywords", path), reader.texts(data, "related", path)
    area = data.get("area")
    if area is not None and (not isinstance(area, str) or area not in AREAS):
        reader.error(path, data.line_of("area"),
                     f"unknown area {area!r}; known areas: {', '.join(AREAS)}")
        area = None
    reviewed = reader.date(data, "reviewed", path)
    reviewed_by = reader.text(data, "reviewed_by", path, required=False)
    # Without `reviewed_by` a date does not count as a review (`kb check --unreviewed` lists
    # the entry); a reviewer without a date is a slip worth a warning.
    if reviewed_by and reviewed is None and "reviewed" not in data:
        reader.warn(path, data.line_of("reviewed_by"),
                    "'reviewed_by' without 'reviewed': add the date of the review, like "
                    "reviewed: 2026-01-31")
    source = reader.text(data, "source", path, required=False) or "general"
    offer_screen = reader.boolean(data, "offer_screen", path)
    draft = reader.boolean(data, "draft", path)
    if entry_id is None or any(p.level == "error" for p in reader.problems[before:]):
        if entry_id is not None:
            reader.lost_ids.add(entry_id)
        else:  # links to it cannot be told from mistakes: say nothing of them until fixed
            reader.faq_unreadable = True
        return None
    return Entry(
        id=entry_id, question=question, alternates=alternates, answer=answer, more=more,
        theme=theme,
        keywords=keywords, related=related, area=area, source=source, reviewed=reviewed,
        reviewed_by=reviewed_by, draft=draft, offer_screen=offer_screen, path=path,
        line=data.line,
    )


def _faq(reader: Reader) -> tuple[dict[str, Entry], dict[str, Entry]]:
    """The published entries and the drafts, by id."""
    files = sorted((reader.folder / "faq").glob("*.yaml"))
    if not files:
        reader.error(reader.shown(reader.folder / "faq"), 1, "no FAQ files (faq/*.yaml) found")
    entries: dict[str, Entry] = {}
    for file in files:
        path = reader.shown(file)
        data = reader.read(file)
        if data is UNREADABLE:
            reader.faq_unreadable = True
            continue
        if not isinstance(data, MarkedList):
            reader.faq_unreadable = True
            reader.error(path, getattr(data, "line", 1),
                         "an FAQ file must be a list of entries, each starting with '- id: '")
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
    drafts = {key: entry for key, entry in entries.items() if entry.draft}
    published = {key: entry for key, entry in entries.items() if not entry.draft}
    if files and not published and not reader.problems:
        reader.error(reader.shown(files[0]), 1,
                     "the FAQ files hold no published entries" if drafts
                     else "the FAQ files hold no entries")
    reader.drafts, reader.entry_ids = set(drafts), set(published)
    for entry in entries.values():
        for related in entry.related:
            if related not in published and not (entry.draft and related in drafts):
                why = reader.unknown_topic(related)
                if why:
                    reader.error(entry.path, entry.line,
                                 f"'{entry.id}' is related to '{related}': {why}")
    return published, drafts


def _themes(reader: Reader, entries: dict[str, Entry]) -> tuple[Theme, ...]:
    titles: dict[str, str] = {}
    general: set[str] = set()
    file = reader.folder / "themes.yaml"
    if file.exists():
        data = reader.read(file)
        path = reader.shown(file)
        for item in data if isinstance(data, list) else []:  # broken file: already reported
            if isinstance(item, MarkedDict):
                reader.fields(item, {"id", "title", "general"}, path, "a theme")
                theme_id, title = reader.identifier(item, path, "a theme"), reader.text(
                    item, "title", path)
                if theme_id and title:
                    titles[theme_id] = title
                    if reader.boolean(item, "general", path):
                        general.add(theme_id)
            else:
                reader.error(path, getattr(data, "line", 1), "each theme needs an id and a title")
        if data is not UNREADABLE and not isinstance(data, list):
            reader.error(path, getattr(data, "line", 1),
                         "themes.yaml must be a list of themes, each '- id: ...' and 'title:'")
    order = list(titles) + sorted({e.theme for e in entries.values()} - set(titles))
    themes = []
    for theme_id in order:
        members = tuple(e.id for e in entries.values() if e.theme == theme_id)
        if members:
            title = titles.get(theme_id) or theme_id.replace("-", " ").capitalize()
            themes.append(Theme(theme_id, title, members, theme_id in general))
    return tuple(themes)


def _synonyms(reader: Reader) -> dict[str, tuple[str, ...]]:
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
        if not isinstance(data[canonical], list):
            reader.error(path, data.line_of(canonical),
                         f"'{canonical}' needs a list of variants, like {canonical}: [a, b]")
            continue
        variants = reader.texts(data, canonical, path, required=True)
        for variant in variants:
            key = variant.casefold()
            if key in seen and seen[key] != canonical:
                reader.error(path, data.line_of(canonical),
                             f"'{variant}' is a variant of both '{seen[key]}' and '{canonical}'")
            seen[key] = canonical
        groups[canonical] = variants
    return groups


URGENT_FIELDS = {"footer", "cues", "calm", "calm_anywhere", "present", "negations",
                 "first_lines", "kinds"}
URGENT_KIND_FIELDS = {"id", "level", "crisis", "whole_message", "when", "unless", "reply",
                      "source"}


def _urgent(reader: Reader) -> Urgent:
    """urgent.yaml: shared cue words, the kinds of emergency and their replies."""
    data, path = mapping_file(reader, "urgent.yaml")
    if not isinstance(data, MarkedDict):
        if data is not UNREADABLE:
            reader.error(path, 1, "urgent.yaml must have cues and kinds")
        return Urgent(())
    reader.fields(data, URGENT_FIELDS, path, "urgent.yaml")
    cues = _urgent_cues(reader, data, path)
    kinds: list[UrgentKind] = []
    raw = data.get("kinds")
    if not isinstance(raw, MarkedList) or not raw:
        reader.error(path, data.line_of("kinds") if "kinds" in data else data.line,
                     "urgent.yaml needs a list of 'kinds', each with an id, when and reply")
        return Urgent((), cues)
    for item, line in zip(raw, raw.item_lines, strict=True):
        kind = _urgent_kind(reader, item, path, line, cues)
        if kind is None:
            continue
        if any(k.id == kind.id for k in kinds):
            reader.error(path, kind.line, f"duplicate urgent kind '{kind.id}'")
            continue
        kinds.append(kind)
    first_lines = data.get("first_lines")
    if first_lines is not None and not isinstance(first_lines, MarkedDict):
        reader.error(path, data.line_of("first_lines"),
                     "'first_lines' must map a language code (es, fr...) to a line")
        first_lines = None
    return Urgent(
        tuple(kinds), cues, reader.texts(data, "calm", path),
        reader.texts(data, "calm_anywhere", path),
        reader.text(data, "footer", path, html=True, required=False),
        {lang: reader.text(first_lines, lang, path, html=True)
         for lang in first_lines} if first_lines else {},
        _urgent_model(reader, {k.id for k in kinds}), reader.texts(data, "present", path),
        reader.texts(data, "negations", path))


URGENT_MODEL = "urgent-model.npz"
TOPIC_MODEL = "topic-model.npz"
MODEL_ARRAYS = {"rows", "weights", "scale", "bias", "outputs", "trained_on"}


def _urgent_model(reader: Reader, kind_ids: set[str]) -> LinearModel | None:
    """urgent-model.npz (made by `otbot kb train-urgent`), if the folder has one: an output
    per emergency kind of urgent.yaml, "doctor" (a worry for a doctor soon), then "any"."""
    def fits(outputs: tuple[str, ...]) -> str:
        unknown = sorted(set(outputs[:-1]) - kind_ids - {DOCTOR})
        return f"kinds not in urgent.yaml: {', '.join(unknown)}" if unknown else \
            "" if outputs[-1:] == (ANY,) else f"no '{ANY}' output"
    return _linear_model(reader, URGENT_MODEL, "urgent", fits)


def _topic_model(reader: Reader, entry_ids: set[str]) -> LinearModel | None:
    """topic-model.npz (made by `otbot kb train-topics`), if the folder has one: an output per
    entry, then "none". An entry it has not learnt is a warning: the ranking still finds it."""
    model = _linear_model(reader, TOPIC_MODEL, "topic", lambda outputs: "" if outputs[-1:] == (
        NONE,) else f"no '{NONE}' output")
    if model is not None:
        missing = sorted(entry_ids - set(model.outputs))
        unknown = sorted(set(model.outputs[:-1]) - entry_ids)
        if missing or unknown:
            reader.warn(reader.shown(reader.folder / TOPIC_MODEL), 1,
                        f"the topic model is older than the knowledge base (not learnt: "
                        f"{', '.join(missing) or '-'}; no longer entries: "
                        f"{', '.join(unknown) or '-'}); make it again with 'otbot kb "
                        "train-topics'")
    return model


def _linear_model(reader: Reader, name: str, what: str,
                  fits: Callable[[tuple[str, ...]], str]) -> LinearModel | None:
    """A learnt model's file, if the folder has one; `fits` says what is wrong with its
    outputs, if anything."""
    file = reader.folder / name
    if not file.exists():
        return None
    path = reader.shown(file)
    retrain = f"; make it again with 'otbot kb train-{what}{'' if what == 'urgent' else 's'}'"
    try:
        with np.load(file, allow_pickle=False) as arrays:
            data = {array: arrays[array] for array in MODEL_ARRAYS}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        reader.error(path, 1, f"cannot read the learnt {what} model ({error}){retrain}")
        return None
    outputs = tuple(str(o) for o in data["outputs"])
    shapes = (len(data["rows"]), len(outputs)) == data["weights"].shape[:2] == (
        data["weights"].shape[0], len(data["bias"])) and len(data["scale"]) == len(outputs)
    why = fits(outputs) if shapes else "bad shapes"
    if why:
        reader.error(path, 1, f"the learnt {what} model does not fit ({why}){retrain}")
        return None
    # As stored, without copies: the weights are most of a process's memory at start.
    return LinearModel(data["rows"].astype(np.int32, copy=False),
                       data["weights"].astype(np.int16, copy=False),
                       data["scale"].astype(np.float32, copy=False),
                       data["bias"].astype(np.float32, copy=False), outputs,
                       str(data["trained_on"]))


def _urgent_cues(reader: Reader, data: MarkedDict, path: str) -> dict[str, tuple[str, ...]]:
    raw = data.get("cues") or MarkedDict()
    if not isinstance(raw, MarkedDict):
        reader.error(path, data.line_of("cues"), "'cues' must map a cue name to its words")
        return {}
    cues = {}
    for name in raw:
        if not isinstance(name, str) or not ID_PATTERN.match(name.replace("_", "-")):
            reader.error(path, raw.line_of(name),
                         f"cue name '{name}' must be lower-case letters, digits and '_'")
            continue
        cues[name] = reader.texts(raw, name, path, required=True)
    return cues


def _urgent_kind(reader: Reader, item: Any, path: str, line: int,
                 cues: dict[str, tuple[str, ...]]) -> UrgentKind | None:
    if not isinstance(item, MarkedDict):
        reader.error(path, line, "each urgent kind must be a mapping with id, when and reply")
        return None
    reader.fields(item, URGENT_KIND_FIELDS, path, "an urgent kind")
    kind_id = item.get("id")
    if not isinstance(kind_id, str) or not ID_PATTERN.match(kind_id):
        reader.error(path, item.line_of("id") if "id" in item else item.line,
                     "an urgent kind needs an 'id' of a-z, 0-9 and '-'")
        return None
    level = item.get("level", Level.EMERGENCY.value)
    if level not in {lv.value for lv in Level}:
        reader.error(path, item.line_of("level"), f"'level' must be one of "
                     f"{', '.join(lv.value for lv in Level)} (got {level!r})")
        level = Level.EMERGENCY.value
    crisis, whole = item.get("crisis", False), item.get("whole_message", False)
    for key, value in (("crisis", crisis), ("whole_message", whole)):
        if not isinstance(value, bool):
            reader.error(path, item.line_of(key), f"'{key}' must be true or false")
    when = _combinations(reader, item, path, cues)
    reply = reader.text(item, "reply", path, html=True)
    if not when or not reply:
        return None
    return UrgentKind(
        id=kind_id, reply=reply, when=when, unless=reader.texts(item, "unless", path),
        level=Level(level), crisis=crisis is True, whole_message=whole is True,
        source=str(item.get("source", "")),
        path=path, line=item.line)


def _combinations(reader: Reader, item: MarkedDict, path: str,
                  cues: dict[str, tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    """`when`: a list of combinations, each a list of cue names or words."""
    raw = item.get("when")
    line = item.line_of("when") if "when" in item else item.line
    if not isinstance(raw, list) or not raw:
        reader.error(path, line, "'when' must list combinations such as [swallow, battery]")
        return ()
    combos = []
    for combo in raw:
        if not (isinstance(combo, list) and combo
                and all(isinstance(part, str) and part.strip() for part in combo)):
            reader.error(path, line, "each 'when' combination must be a list of cue names "
                         "or words, such as [swallow, battery]")
            continue
        for part in combo:
            if "_" in part and " " not in part and part not in cues:
                reader.error(path, line, f"'when' names the cue '{part}', which 'cues' "
                             "does not define")
        combos.append(tuple(combo))
    return tuple(combos)


def _items(reader: Reader, data: MarkedDict, key: str, path: str) -> list[tuple[Any, int]]:
    """The items of a list field with their lines; a non-list is reported once."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        reader.error(path, data.line_of(key), f"'{key}' must be a list, one '- ' item per "
                                              "line below it" + type_hint(value))
        return []
    return list(zip(value, _lines(value, data.line_of(key)), strict=True))


def _lines(value: Any, default: int) -> list[int]:
    """The line of each item of a list (the list's own line where unknown)."""
    if isinstance(value, MarkedList):
        return value.item_lines
    return [default] * len(value) if isinstance(value, list) else []


def _smalltalk(reader: Reader, entries: dict[str, Entry]) -> SmallTalk:
    data, path = mapping_file(reader, "smalltalk.yaml")
    if not isinstance(data, MarkedDict):
        if data is not UNREADABLE:
            reader.error(path, 1, "smalltalk.yaml must have kinds and filler")
        return SmallTalk(())
    reader.fields(data, {"kinds", "filler"}, path, "smalltalk.yaml")
    # A shipped kind may answer with a shipped entry; a folder that borrows the shipped file
    # drops the kinds its own entries cannot answer.
    own = (reader.folder / "smalltalk.yaml").exists()
    kinds = []
    for item, line in _items(reader, data, "kinds", path):
        if not isinstance(item, MarkedDict):
            reader.error(path, line, "each small-talk kind must be a mapping ('- id: ...')")
            continue
        reader.fields(item, {"id", "phrases", "reply", "answer", "complaint"}, path,
                      "a small-talk kind")
        answer = item.get("answer")
        if answer is not None and not (isinstance(answer, str) and answer in entries):
            why = (reader.unknown_topic(answer) if own else None) if isinstance(answer, str) \
                else "'answer' must be the id of an entry" + type_hint(answer)
            if why:  # None: a borrowed file, or the entry's own error already says it
                reader.error(path, item.line_of("answer"), why)
            continue
        kinds.append(SmallTalkKind(reader.identifier(item, path, "a small-talk kind") or "",
                                   reader.texts(item, "phrases", path, required=True),
                                   reader.text(item, "reply", path, html=True,
                                               required=answer is None), answer,
                                   reader.boolean(item, "complaint", path)))
    return SmallTalk(tuple(kinds), reader.texts(data, "filler", path))


def _messages(reader: Reader) -> dict[str, str]:
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


def _declines(reader: Reader, entries: dict[str, Entry]) -> dict[str, Decline]:
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
        decline_id = reader.identifier(item, path, "a decline entry")
        if decline_id is None:
            continue
        if decline_id in entries or decline_id in declines or decline_id in reader.drafts:
            reader.error(path, item.line_of("id"), f"duplicate id '{decline_id}'")
            continue
        declines[decline_id] = Decline(
            decline_id, reader.texts(item, "alternates", path, required=True),
            reader.text(item, "reply", path, html=True, required=False), path, item.line)
    return declines


def _fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(f for f in folder.rglob("*") if f.suffix in (".yaml", ".npz")):
        digest.update(str(file.relative_to(folder)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def read_knowledge(folder: Path) -> tuple[KnowledgeBase | None, list[Problem]]:
    """Read and validate a folder: the model (None on any error) and every problem found."""
    reader = Reader(folder)
    if not folder.is_dir():
        reader.error(str(folder), 1, "no such knowledge folder")
        return None, reader.problems
    entries, drafts = _faq(reader)
    themes, synonyms = _themes(reader, entries), _synonyms(reader)
    urgent, smalltalk, messages = _urgent(reader), _smalltalk(reader, entries), _messages(reader)
    screen, declines = read_screen(reader, entries), _declines(reader, entries)
    topic_model = _topic_model(reader, set(entries))
    problems = sorted(set(reader.problems))
    if screen is None or any(p.level == "error" for p in problems):
        return None, problems
    return KnowledgeBase(
        entries=entries, themes=themes, synonyms=synonyms, urgent=urgent, smalltalk=smalltalk,
        messages=messages, screen=screen, folder=folder, declines=declines, drafts=drafts,
        version=_fingerprint(folder), warnings=tuple(problems), topic_model=topic_model,
    ), problems


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
