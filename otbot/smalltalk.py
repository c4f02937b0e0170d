"""Recognise messages that are only a greeting, thanks or goodbye."""

from __future__ import annotations

from rapidfuzz import fuzz, process

from otbot.knowledge import SmallTalk, SmallTalkKind
from otbot.text import english_words, words

TYPO_CUTOFF = 80.0
TYPO_MIN_LENGTH = 4
MAX_WORDS = 12  # a longer message is a question with a greeting in it, not small talk


class SmallTalkDetector:
    """Covers a message with small-talk phrases and filler, or declines."""

    def __init__(self, smalltalk: SmallTalk) -> None:
        self._phrases: dict[tuple[str, ...], SmallTalkKind] = {}
        for kind in smalltalk.kinds:
            for phrase in kind.phrases:
                self._phrases.setdefault(tuple(words(phrase)), kind)
        self._filler = {w for f in smalltalk.filler for w in words(f)}
        self._longest = max((len(p) for p in self._phrases), default=1)
        self._vocabulary = sorted({w for p in self._phrases for w in p} | self._filler)

    def _correct(self, token: str) -> str:
        """A mistyped small-talk word ("thnaks"); real words ("school", "plate") stay."""
        if len(token) < TYPO_MIN_LENGTH or token in self._vocabulary or token in english_words():
            return token
        choices = [w for w in self._vocabulary if w[0] == token[0]]
        best = process.extractOne(token, choices, scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF)
        return best[0] if best else token

    def detect(self, text: str) -> SmallTalkKind | None:
        """The kind of the last small-talk phrase, if the whole message is small talk."""
        tokens = [self._correct(t) for t in words(text)]
        if not tokens or len(tokens) > MAX_WORDS:
            return None
        found: SmallTalkKind | None = None
        i = 0
        while i < len(tokens):
            for size in range(min(self._longest, len(tokens) - i), 0, -1):
                kind = self._phrases.get(tuple(tokens[i : i + size]))
                if kind is not None:
                    found = kind
                    i += size
                    break
            else:
                if tokens[i] not in self._filler:
                    return None
                i += 1
        return found
