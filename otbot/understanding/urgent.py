"""Recognise possible emergencies in any message, before anything else is considered.

A kind of emergency (knowledge/urgent.yaml) fires when one of its combinations of cues
occurs close together in one sentence: "swallowed" + "battery", "kill" + "himself". Cues
are shared word lists, so one combination covers every pronoun, tense and typo that its
cues cover; a calm, past or figurative context next to the match ("as a baby", "breathing
exercises") cancels it.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from otbot.kb import Level, Urgent, UrgentKind
from otbot.understanding.text import TypoFixer, words

# Higher than the FAQ's typo cutoff: a wrong "correction" into an emergency word would
# frighten a parent, while a missed typo still leaves the other wordings of a cue.
# Unlike the FAQ's, it also corrects rare real words ("chocking", "chocked"): panicked
# typing lands on them; common ones ("cooking", "sitting") stay as they are.
TYPO_CUTOFF = 85.0
TYPO_MIN_LENGTH = 5
RARE_WORD_COUNT = 500  # in pyspellchecker's English frequencies: "chocking" 64, "cooking" 34,205
# The items of a combination must lie within this many words of each other: close enough
# to be one statement, far enough for "swallowed one of the small batteries".
WINDOW = 12
# A calm context cancels a match only this close to it, so "had seizures as a baby. Now he
# is fitting and won't stop" still fires on the second sentence.
CALM_REACH = 4
# Contractions typed without an apostrophe, spelt out so "hes choking" reads "he is choking".
CONTRACTIONS = {"hes": ("he", "is"), "shes": ("she", "is"), "theyre": ("they", "are"),
                "im": ("i", "am"), "isnt": ("is", "not"), "wont": ("will", "not"),
                "doesnt": ("does", "not"), "cant": ("can", "not"), "didnt": ("did", "not"),
                "arent": ("are", "not"), "wasnt": ("was", "not"), "dont": ("do", "not"),
                "havent": ("have", "not"), "hasnt": ("has", "not"), "couldnt": ("could", "not")}
# Sentence ends; a full stop between digits ("38.5") is a decimal point, not an end.
_SENTENCE = re.compile(r"(?<!\d)\.|\.(?!\d)|[!?;\n]+")

Phrase = tuple[str, ...]  # normalised words; a trailing * marks a prefix
Span = tuple[int, int]  # first and last word of an occurrence


def fold(text: str) -> str:
    """Lower case without accents: "não respira" and "nao respira" read the same."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _tokens(text: str) -> list[str]:
    """Folded words with contractions spelt out, as both messages and phrases are read."""
    return [w for token in words(fold(text)) for w in CONTRACTIONS.get(token, (token,))]


def _phrase(text: str) -> Phrase:
    """A phrase as read words; a word's trailing * survives as a prefix marker."""
    pattern: list[str] = []
    for raw in text.split():
        pattern.extend(w + "*" if raw.endswith("*") else w for w in _tokens(raw))
    return tuple(pattern)


def _word_matches(pattern: str, word: str) -> bool:
    return word.startswith(pattern[:-1]) if pattern.endswith("*") else word == pattern


class _PhraseFinder:
    """Finds where many phrases occur in a sentence, in one pass over its words."""

    def __init__(self, phrases: Iterable[Phrase]) -> None:
        self._by_first: dict[str, list[Phrase]] = {}
        self._by_prefix: dict[str, list[Phrase]] = {}
        for phrase in set(phrases):
            first = phrase[0]
            if first.endswith("*"):
                self._by_prefix.setdefault(first[:-1], []).append(phrase)
            else:
                self._by_first.setdefault(first, []).append(phrase)
        self._prefixes = tuple(self._by_prefix)

    def find(self, tokens: list[str]) -> dict[Phrase, list[Span]]:
        """Every phrase that occurs in the tokens, word for word and in order, with spans."""
        found: dict[Phrase, list[Span]] = {}
        for i, token in enumerate(tokens):
            candidates = self._by_first.get(token, [])
            if token.startswith(self._prefixes):
                candidates = candidates + [p for prefix, group in self._by_prefix.items()
                                           if token.startswith(prefix) for p in group]
            for phrase in candidates:
                rest = tokens[i + 1 : i + len(phrase)]
                if len(rest) == len(phrase) - 1 and all(
                        _word_matches(p, t) for p, t in zip(phrase[1:], rest, strict=True)):
                    found.setdefault(phrase, []).append((i, i + len(phrase) - 1))
        return found


Item = tuple[Phrase, ...]  # the phrases any one of which satisfies an item of a combination


@dataclass(frozen=True)
class _Compiled:
    kind: UrgentKind
    combinations: tuple[tuple[Item, ...], ...]
    unless: Item

    def fires(self, found: dict[Phrase, list[Span]]) -> bool:
        """Whether a combination occurs within the window with no calm context beside it.

        A whole-message kind has no window, and any calm context in the message cancels it.
        """
        calm = [span for phrase in self.unless for span in found.get(phrase, ())]
        if self.kind.whole_message:
            return not calm and any(all(any(p in found for p in item) for item in combination)
                                    for combination in self.combinations)
        return any(self._occurs(combination, found, calm) for combination in self.combinations)

    @staticmethod
    def _occurs(combination: tuple[Item, ...], found: dict[Phrase, list[Span]],
                calm: list[Span]) -> bool:
        places = [[span for phrase in item for span in found.get(phrase, ())]
                  for item in combination]
        if not all(places):
            return False
        for chosen in itertools.product(*places):
            start, end = min(s for s, _ in chosen), max(e for _, e in chosen)
            if end - start > WINDOW:
                continue
            if not any(s <= end + CALM_REACH and e >= start - CALM_REACH for s, e in calm):
                return True
        return False

    def phrases(self) -> set[Phrase]:
        """Every phrase the kind looks for."""
        return {p for combination in self.combinations for item in combination for p in item
                } | set(self.unless)


@dataclass(frozen=True)
class Finding:
    """What a message may be: emergency kinds (best first) and worries for a doctor soon."""

    emergencies: tuple[UrgentKind, ...] = ()
    soon: tuple[UrgentKind, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.emergencies)


class UrgentDetector:
    """Applies the kinds of urgent.yaml to a message."""

    def __init__(self, urgent: Urgent) -> None:
        self.urgent = urgent
        cues = {name: tuple(_phrase(p) for p in phrases) for name, phrases in urgent.cues.items()}
        calm = tuple(_phrase(p) for p in urgent.calm)

        def item(text: str) -> Item:
            return cues.get(text) or tuple(_phrase(alt) for alt in text.split("|"))

        self._anywhere = tuple(p for text in urgent.calm_anywhere for p in item(text))
        self._kinds = [
            _Compiled(kind, tuple(tuple(item(part) for part in combo) for combo in kind.when),
                      tuple(p for text in kind.unless for p in item(text)) + calm)
            for kind in urgent.kinds
        ]
        phrases = set().union(*(c.phrases() for c in self._kinds), self._anywhere) - {()}
        self._finder = _PhraseFinder(phrases)
        # Whole words only: a prefix ("breath*") is no spelling to correct towards.
        vocabulary = {w for phrase in phrases for w in phrase if not w.endswith("*")}
        self._typos = TypoFixer(vocabulary, min_length=TYPO_MIN_LENGTH, cutoff=TYPO_CUTOFF,
                                rare_word_count=RARE_WORD_COUNT)

    def detect(self, text: str) -> Finding:
        """Every kind the message triggers, as typed and with typos fixed, in urgent.yaml order."""
        fired: set[str] = set()
        # Sentence kinds are read sentence by sentence, and two neighbours together ("He hit
        # his head. Now he's been sick."); whole-message kinds on all of it.
        sentences = [s for s in _SENTENCE.split(text) if s.strip()]
        segments = [(sentence, False) for sentence in sentences]
        segments += [(f"{a} {b}", False) for a, b in itertools.pairwise(sentences)]
        segments.append((text, True))
        for segment, whole in segments:
            typed = _tokens(segment)
            # Each reading is checked once: most sentences read the same both ways.
            for tokens in dict.fromkeys((tuple(typed), tuple(map(self._typos.fix, typed)))):
                found = self._finder.find(list(tokens))
                if any(phrase in found for phrase in self._anywhere):
                    continue
                fired.update(c.kind.id for c in self._kinds if c.kind.id not in fired
                             and c.kind.whole_message is whole and c.fires(found))
        kinds = [c.kind for c in self._kinds if c.kind.id in fired]
        return Finding(tuple(k for k in kinds if k.level is Level.EMERGENCY),
                       tuple(k for k in kinds if k.level is Level.SOON))

    def reply(self, kind_ids: Iterable[str], language: str = "en") -> str:
        """The emergency reply: a line in the parent's language, each kind's advice (crisis
        lines first), one footer."""
        kinds = sorted((k for k in self.urgent.kinds if k.id in set(kind_ids)),
                       key=lambda k: not k.crisis)
        first = self.urgent.first_lines.get(language, "")
        return "\n\n".join(t for t in (first, *(k.reply for k in kinds), self.urgent.footer)
                           if t)
