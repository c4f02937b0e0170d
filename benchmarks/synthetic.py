"""A large, deterministic knowledge folder built from the shipped entries' wordings."""

from __future__ import annotations

import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml
from common import KNOWLEDGE, add_typos, with_context
from spellchecker import SpellChecker

from otbot.kb import Entry, load_knowledge
from otbot.understanding.text import KEPT_WORDS, STOPWORDS

ALTERNATES = 8
KEYWORDS = 4
PER_FILE = 250
REPLACE_SHARE = 0.5  # of an entry's content words, swapped for other English words
VOCABULARY_SLICE = slice(1500, 40000)  # by frequency: real words, neither "the" nor "zymurgy"
COPIED = ("synonyms.yaml", "themes.yaml")
# The spelling list has every word of English; keep the generated FAQ free of the rude ones.
_RUDE = re.compile(r"fuck|shit|cunt|bitch|whore|slut|nigg|fag|porn|rape|dick|cock|puss|tits|"
                   r"boob|penis|vagin|wiener|anal|anus|sex|semen|dildo|bastard|damn|crap|piss|"
                   r"arse|nazi|kill|suicid|murder|drug|gun")
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_TOKEN = re.compile(r"[A-Za-z]+|[^A-Za-z]+")
_TAG = re.compile(r"(<[^>]*>|&\w+;)")


@dataclass(frozen=True)
class Query:
    """A message drawn from a synthetic entry, and that entry's id."""

    text: str
    topic: str


def vocabulary() -> list[str]:
    """Several tens of thousands of English words, most frequent first (deterministic)."""
    frequencies = SpellChecker(language="en", distance=1).word_frequency.dictionary
    ranked = sorted(frequencies.items(), key=lambda item: (-item[1], item[0]))
    return [w for w, _ in ranked[VOCABULARY_SLICE]
            if w.isascii() and w.isalpha() and 4 <= len(w) <= 12 and not _RUDE.search(w)]


def _content_words(entry: Entry) -> list[str]:
    """The topic-bearing words of an entry's wordings and keywords, in first-seen order."""
    seen: dict[str, None] = {}
    for text in (*entry.sentences(), *entry.keywords):
        for word in re.findall(r"[A-Za-z]+", text.lower()):
            if len(word) >= 4 and word not in STOPWORDS and word not in KEPT_WORDS:
                seen.setdefault(word)
    return list(seen)


def _rewrite(text: str, mapping: dict[str, str]) -> str:
    """The text with mapped words replaced (case-insensitively), everything else kept."""
    return "".join(mapping.get(t.lower(), t) for t in _TOKEN.findall(text))


def _rewrite_html(text: str, mapping: dict[str, str]) -> str:
    """Like _rewrite, but tags and entities are left alone."""
    return "".join(part if _TAG.fullmatch(part) else _rewrite(part, mapping)
                   for part in _TAG.split(text))


def _variant(template: Entry, number: int, words: list[str], rng: random.Random) -> dict:
    """A new entry: the template's wordings with half its content words swapped."""
    content = _content_words(template)
    mapping = {w: rng.choice(words) for w in content if rng.random() < REPLACE_SHARE}
    alternates = rng.sample(template.alternates, min(ALTERNATES, len(template.alternates)))
    new_words = list(dict.fromkeys(mapping.values()))
    return {
        "id": f"s{number:05d}-{template.id}"[:40],
        "question": _rewrite(template.question, mapping),
        "alternates": [_rewrite(a, mapping) for a in alternates],
        "keywords": [*new_words[:KEYWORDS], *(_rewrite(k, mapping) for k in template.keywords)],
        "answer": _rewrite_html(template.answer, mapping),
    }


def write_synthetic(folder: Path, size: int, seed: int) -> list[dict]:
    """Write a folder of `size` entries (the shipped ones + variants); return the variants."""
    shipped = load_knowledge(KNOWLEDGE)
    (folder / "faq").mkdir(parents=True, exist_ok=True)
    for file in (KNOWLEDGE / "faq").glob("*.yaml"):
        shutil.copy(file, folder / "faq" / file.name)
    for name in COPIED:
        if (KNOWLEDGE / name).exists():
            shutil.copy(KNOWLEDGE / name, folder / name)
    rng = random.Random(seed)
    words = vocabulary()
    templates = list(shipped.entries.values())
    made = [_variant(templates[k % len(templates)], k, words, rng)
            for k in range(size - len(templates))]
    for start in range(0, len(made), PER_FILE):
        path = folder / "faq" / f"synthetic-{start // PER_FILE:03d}.yaml"
        text = yaml.dump(made[start:start + PER_FILE], Dumper=_DUMPER, sort_keys=False,
                         allow_unicode=True, width=1000)
        path.write_text(text, encoding="utf-8")
    return made


def _drop_word(text: str, rng: random.Random) -> str:
    """The text without one of its words (if it has more than three)."""
    parts = text.split()
    if len(parts) > 3:
        del parts[rng.randrange(len(parts))]
    return " ".join(parts)


def queries(entries: list[dict], count: int, seed: int) -> list[Query]:
    """Messages a parent might send: an entry's alternate, one typo, and maybe more changes."""
    rng = random.Random(seed)
    result = []
    for _ in range(count):
        entry = rng.choice(entries)
        text = add_typos(rng.choice(entry["alternates"]), rng, count=1)
        if rng.random() < 1 / 3:
            text = _drop_word(text, rng)
        if rng.random() < 1 / 3:
            text = with_context(text)
        result.append(Query(text, entry["id"]))
    return result
