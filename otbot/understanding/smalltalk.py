"""Recognise messages that are only a greeting, thanks or goodbye."""

from __future__ import annotations

from otbot.kb import SmallTalk, SmallTalkKind
from otbot.understanding.text import TypoFixer, words

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
        # A mistyped small-talk word ("thnaks") is fixed; real words ("school", "plate") stay.
        self._typos = TypoFixer({w for p in self._phrases for w in p} | self._filler)

    def detect(self, text: str) -> SmallTalkKind | None:
        """The kind of the last small-talk phrase, if the whole message is small talk."""
        tokens = [self._typos.fix(t) for t in words(text)]
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
