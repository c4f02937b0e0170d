"""Recognise a possible emergency in any message, before anything else is considered."""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process

from otbot.knowledge import Urgent, UrgentRule
from otbot.text import english_words, words

# Higher than the FAQ's typo cutoff: a wrong "correction" into an emergency word would
# frighten a parent, while a missed typo still leaves the other wordings of the rule.
TYPO_CUTOFF = 85.0
TYPO_MIN_LENGTH = 5

Phrase = tuple[str, ...]  # normalised words; a trailing * marks a prefix


def _phrase(text: str) -> Phrase:
    """A phrase as normalised words; a word's trailing * survives as a prefix marker."""
    pattern: list[str] = []
    for raw in text.split():
        pattern.extend(w + "*" if raw.endswith("*") else w for w in words(raw))
    return tuple(pattern)


def _word_matches(pattern: str, word: str) -> bool:
    return word.startswith(pattern[:-1]) if pattern.endswith("*") else word == pattern


def _contains(tokens: list[str], phrase: Phrase) -> bool:
    """True if the phrase occurs in the tokens, word for word and in order."""
    size = len(phrase)
    return size > 0 and any(
        all(_word_matches(p, t) for p, t in zip(phrase, tokens[i : i + size], strict=True))
        for i in range(len(tokens) - size + 1)
    )


@dataclass(frozen=True)
class _Compiled:
    rule: UrgentRule
    phrases: tuple[Phrase, ...]
    together: tuple[tuple[tuple[Phrase, ...], ...], ...]  # groups of items of alternatives
    unless: tuple[Phrase, ...]

    def fires(self, tokens: list[str]) -> bool:
        hit = any(_contains(tokens, p) for p in self.phrases) or any(
            all(any(_contains(tokens, alt) for alt in item) for item in group)
            for group in self.together)
        return hit and not any(_contains(tokens, p) for p in self.unless)


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
        vocabulary = {
            word.rstrip("*") for compiled in self._rules
            for phrase in (*compiled.phrases,
                           *(alt for group in compiled.together for item in group for alt in item))
            for word in phrase
        }
        self._vocabulary = sorted(w for w in vocabulary if len(w) >= TYPO_MIN_LENGTH)

    def _correct(self, tokens: list[str]) -> list[str]:
        """Fix typos towards emergency words only ("chocking", "siezure")."""
        return [self._correct_word(token) for token in tokens]

    def _correct_word(self, token: str) -> str:
        if len(token) < TYPO_MIN_LENGTH or not token.isalpha() or token in english_words():
            return token
        best = process.extractOne(token, self._vocabulary, scorer=fuzz.ratio,
                                  score_cutoff=TYPO_CUTOFF)
        return best[0] if best else token

    def detect(self, text: str) -> UrgentRule | None:
        """The first rule the message triggers (typos corrected), or None."""
        tokens = self._correct(words(text))
        return next((c.rule for c in self._rules if c.fires(tokens)), None)
