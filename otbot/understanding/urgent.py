"""Recognise a possible emergency in any message, before anything else is considered."""

from __future__ import annotations

from dataclasses import dataclass

from otbot.kb import Urgent, UrgentRule
from otbot.understanding.text import TypoFixer, words

# Higher than the FAQ's typo cutoff: a wrong "correction" into an emergency word would
# frighten a parent, while a missed typo still leaves the other wordings of the rule.
# Unlike the FAQ's, it also corrects real words ("chocking", "breath"): panicked typing
# lands on them, and the same first letter keeps "sitting" from becoming "fitting".
TYPO_CUTOFF = 85.0
TYPO_MIN_LENGTH = 5
# Contractions typed without an apostrophe, spelt out so "hes choking" reads "he is choking".
CONTRACTIONS = {"hes": ("he", "is"), "shes": ("she", "is"), "theyre": ("they", "are"),
                "im": ("i", "am"), "isnt": ("is", "not"), "wont": ("will", "not"),
                "doesnt": ("does", "not"), "cant": ("can", "not")}

Phrase = tuple[str, ...]  # normalised words; a trailing * marks a prefix


def _phrase(text: str) -> Phrase:
    """A phrase as normalised words; a word's trailing * survives as a prefix marker."""
    pattern: list[str] = []
    for raw in text.split():
        pattern.extend(w + "*" if raw.endswith("*") else w for w in words(raw))
    return tuple(pattern)


def _word_matches(pattern: str, word: str) -> bool:
    return word.startswith(pattern[:-1]) if pattern.endswith("*") else word == pattern


class _PhraseFinder:
    """Finds which of many phrases occur in a message, in one pass over its words."""

    def __init__(self, phrases: set[Phrase]) -> None:
        self.by_first: dict[str, list[Phrase]] = {}
        self.by_prefix: dict[str, list[Phrase]] = {}
        for phrase in phrases:
            first = phrase[0]
            if first.endswith("*"):
                self.by_prefix.setdefault(first[:-1], []).append(phrase)
            else:
                self.by_first.setdefault(first, []).append(phrase)
        self.prefixes = tuple(self.by_prefix)

    def present(self, tokens: list[str]) -> set[Phrase]:
        """Every phrase that occurs in the tokens, word for word and in order."""
        found: set[Phrase] = set()
        for i, token in enumerate(tokens):
            candidates = self.by_first.get(token, [])
            if token.startswith(self.prefixes):
                candidates = candidates + [p for prefix, group in self.by_prefix.items()
                                           if token.startswith(prefix) for p in group]
            for phrase in candidates:
                rest = tokens[i + 1 : i + len(phrase)]
                if len(rest) == len(phrase) - 1 and all(
                        _word_matches(p, t) for p, t in zip(phrase[1:], rest, strict=True)):
                    found.add(phrase)
        return found


@dataclass(frozen=True)
class _Compiled:
    rule: UrgentRule
    phrases: tuple[Phrase, ...]
    together: tuple[tuple[tuple[Phrase, ...], ...], ...]  # groups of items of alternatives
    unless: tuple[Phrase, ...]

    def fires(self, present: set[Phrase]) -> bool:
        """Phrases always fire; together groups only without a calm `unless` context."""
        if any(p in present for p in self.phrases):
            return True
        return any(all(any(alt in present for alt in item) for item in group)
                   for group in self.together) and not any(p in present for p in self.unless)

    def all_phrases(self) -> set[Phrase]:
        """Every phrase the rule looks for."""
        alternatives = {alt for group in self.together for item in group for alt in item}
        return {*self.phrases, *alternatives, *self.unless} - {()}


class UrgentDetector:
    """Applies the rules of urgent.yaml to a message."""

    def __init__(self, urgent: Urgent) -> None:
        self.urgent = urgent
        self._rules = [
            _Compiled(
                rule, tuple(_phrase(p) for p in rule.phrases),
                tuple(tuple(tuple(_phrase(alt) for alt in item.split("|")) for item in group)
                      for group in rule.together),
                tuple(_phrase(p) for p in rule.unless))
            for rule in urgent.rules
        ]
        # Whole words only: a prefix ("breath*") is no spelling to correct towards.
        vocabulary = {
            word for compiled in self._rules
            for phrase in (*compiled.phrases,
                           *(alt for group in compiled.together for item in group for alt in item))
            for word in phrase if not word.endswith("*")
        }
        self._typos = TypoFixer(vocabulary, min_length=TYPO_MIN_LENGTH, cutoff=TYPO_CUTOFF,
                                fix_real_words=True)
        self._finder = _PhraseFinder(set().union(*(c.all_phrases() for c in self._rules)))

    def detect(self, text: str) -> UrgentRule | None:
        """The first rule the message triggers, as typed and with typos fixed, or None."""
        typed = words(text)
        spelt = [w for token in typed for w in CONTRACTIONS.get(token, (token,))]
        corrected = [self._typos.fix(t) for t in spelt]
        # Each reading is checked once: most messages read the same all three ways.
        readings = dict.fromkeys(tuple(t) for t in (typed, spelt, corrected))
        for tokens in readings:
            present = self._finder.present(list(tokens))
            rule = next((c.rule for c in self._rules if c.fires(present)), None)
            if rule is not None:
                return rule
        return None
