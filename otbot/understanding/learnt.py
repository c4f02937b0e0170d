"""Linear models learnt from labelled messages, over a message's hashed features.

Rules and word lists say exactly why a message was read one way, but parents put things in
more ways than any list holds ("his lips look like blueberries", "he writes like a spider
fell in the ink"). Models learnt from thousands of labelled messages catch much of the rest:
one reads emergencies beside the cue rules (urgent.py, `otbot kb train-urgent`), one reads
topics beside the ranking (matcher.py, `otbot kb train-topics`).
"""

from __future__ import annotations

import functools
import itertools
import re
import zlib

import numpy as np

from otbot.kb import LinearModel

FEATURE_BITS = 18  # 262,144 hashed feature ids; only those seen in training are stored
LETTERS = 4  # letter groups of this size inside each word: typos keep most of them
CACHED_WORDS = 20_000  # distinct words whose features are remembered (a few MB at most)
# Messages whose features are remembered: both models read the same message, one after the
# other. Kept in memory only as hashed numbers, for as long as the next few messages.
CACHED_MESSAGES = 4
_DIGIT = re.compile(r"\d")


def _hashed(name: str) -> int:
    return zlib.crc32(name.encode()) % (1 << FEATURE_BITS)


@functools.lru_cache(maxsize=CACHED_WORDS)
def _word_features(token: str) -> frozenset[int]:
    """A word's own features: the word and its letter groups (the same in every message)."""
    padded = f"<{token}>"
    return frozenset({_hashed("w:" + token)} | {
        _hashed("c:" + padded[j : j + LETTERS]) for j in range(len(padded) - LETTERS + 1)})


def features(tokens: list[str]) -> np.ndarray:
    """Hashed ids of a message's words, word pairs and letter groups, each once.

    Numbers are left to the rules (a temperature, an age in weeks): alone they taught the
    model that "question 15 about OT" sounds like a fever.
    """
    return _features(tuple(tokens))


@functools.lru_cache(maxsize=CACHED_MESSAGES)
def _features(tokens: tuple[str, ...]) -> np.ndarray:
    words = [t for t in tokens if not _DIGIT.search(t)]
    # Word pairs are not cached like single words: they would keep fragments of what parents
    # wrote in memory.
    ids = {_hashed(f"b:{a} {b}") for a, b in itertools.pairwise(words)}
    ids.update(*map(_word_features, words))
    return np.fromiter(ids, dtype=np.int64, count=len(ids))


class Scorer:
    """A model ready to score messages."""

    def __init__(self, model: LinearModel) -> None:
        self._model = model
        # Each feature id's row of weights, or -1 for the ids never seen in training: one
        # table lookup (1 MB) instead of a binary search over the known ids per message.
        self._row = np.full(1 << FEATURE_BITS, -1, dtype=np.int32)
        self._row[model.rows] = np.arange(len(model.rows), dtype=np.int32)

    def _logits(self, tokens: list[str]) -> np.ndarray:
        rows = self._row[features(tokens)]
        summed = self._model.weights[rows[rows >= 0]].sum(axis=0, dtype=np.int32)
        logits: np.ndarray = summed * self._model.scale + self._model.bias
        return logits

    def probabilities(self, tokens: list[str]) -> dict[str, float]:
        """Each output's own probability (outputs that may hold together: urgent kinds)."""
        values = 1.0 / (1.0 + np.exp(-np.clip(self._logits(tokens), -30.0, 30.0)))
        return dict(zip(self._model.outputs, values.tolist(), strict=True))

    def shares(self, tokens: list[str]) -> dict[str, float]:
        """The outputs' probabilities as one choice among them, adding up to 1 (topics)."""
        logits = self._logits(tokens)
        values = np.exp(logits - logits.max())
        return dict(zip(self._model.outputs, (values / values.sum()).tolist(), strict=True))
