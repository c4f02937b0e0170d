"""Recognise messages that are only a greeting, thanks or goodbye."""

from __future__ import annotations

from otbot.kb import SmallTalk, SmallTalkKind
from otbot.understanding.text import TypoFixer, words

MAX_WORDS = 12  # a longer message is a question with a greeting in it, not small talk
# What an emoji carries besides itself: a variation selector, a joiner, a skin tone.
_EMOJI_PARTS = frozenset("\ufe0f\ufe0e\u200d") | {chr(c) for c in range(0x1F3FB, 0x1F400)}


class SmallTalkDetector:
    """Covers a message with small-talk phrases and filler, or declines."""

    def __init__(self, smalltalk: SmallTalk) -> None:
        self._phrases: dict[tuple[str, ...], SmallTalkKind] = {}
        # A phrase with no word in it is an emoji ("👍", "🙏"), read symbol by symbol.
        self._symbols: dict[str, SmallTalkKind] = {}
        for kind in smalltalk.kinds:
            for phrase in kind.phrases:
                key = tuple(words(phrase))
                if key:
                    self._phrases.setdefault(key, kind)
                else:
                    self._symbols.update((ch, kind) for ch in phrase
                                         if not ch.isspace() and ch not in _EMOJI_PARTS)
        self._filler = {w for f in smalltalk.filler for w in words(f)}
        self._longest = max((len(p) for p in self._phrases), default=1)
        # A mistyped small-talk word ("thnaks") is fixed; real words ("school", "plate") stay.
        self._typos = TypoFixer({w for p in self._phrases for w in p} | self._filler)

    def detect(self, text: str) -> SmallTalkKind | None:
        """The kind of the last small-talk phrase, if the whole message is small talk; a
        question about the bot (a kind with an `answer`) wins over laughter or thanks."""
        tokens = [self._typos.fix(t) for t in words(text)]
        if not tokens:
            return self._emoji(text)
        if len(tokens) > MAX_WORDS:
            return None
        found: SmallTalkKind | None = None
        i = 0
        while i < len(tokens):
            for size in range(min(self._longest, len(tokens) - i), 0, -1):
                kind = self._phrases.get(tuple(tokens[i : i + size]))
                if kind is not None:
                    if found is None or found.answer is None:
                        found = kind
                    i += size
                    break
            else:
                if tokens[i] not in self._filler:
                    return None
                i += 1
        return found

    def _emoji(self, text: str) -> SmallTalkKind | None:
        """The kind of a message of emoji alone ("👍🙏"), each one a small-talk symbol."""
        symbols = [ch for ch in text if not ch.isspace() and ch not in _EMOJI_PARTS]
        kinds = [self._symbols.get(ch) for ch in symbols]
        return kinds[-1] if kinds and None not in kinds else None
