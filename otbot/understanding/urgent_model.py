"""The learnt side of emergency recognition: a linear model over a message's hashed features.

The cue rules (urgent.py) say exactly why a message fired, but parents describe what they see
in more ways than any list holds ("his lips look like blueberries"). A model learnt from
thousands of labelled messages (`otbot kb train-urgent`) catches much of the rest; the rules
still decide alone where the model is unsure.
"""

from __future__ import annotations

import functools
import itertools
import re
import zlib

import numpy as np

from otbot.kb import UrgentModel

FEATURE_BITS = 18  # 262,144 hashed feature ids; only those seen in training are stored
LETTERS = 4  # letter groups of this size inside each word: typos keep most of them
ANY = "any"  # the output for "some emergency", beside one per kind
CACHED_WORDS = 20_000  # distinct words whose features are remembered (a few MB at most)
_DIGIT = re.compile(r"\d")


def _hashed(name: str) -> int:
    return zlib.crc32(name.encode()) % (1 << FEATURE_BITS)


@functools.lru_cache(maxsize=CACHED_WORDS)
def _word_features(token: str) -> frozenset[int]:
    """A word's own features: the word and its letter groups (the same in every message)."""
    padded = f"<{token}>"
    return frozenset({_hashed("w:" + token)} | {
        _hashed("c:" + padded[j : j + LETTERS]) for j in range(len(padded) - LETTERS + 1)})


@functools.lru_cache(maxsize=CACHED_WORDS)
def _pair(first: str, second: str) -> int:
    return _hashed(f"b:{first} {second}")


def features(tokens: list[str]) -> np.ndarray:
    """Hashed ids of a message's words, word pairs and letter groups, each once.

    Numbers are left to the rules (a temperature, an age in weeks): alone they taught the
    model that "question 15 about OT" sounds like a fever.
    """
    tokens = [t for t in tokens if not _DIGIT.search(t)]
    ids = set(itertools.starmap(_pair, itertools.pairwise(tokens)))
    ids.update(*map(_word_features, tokens))
    return np.fromiter(ids, dtype=np.int64, count=len(ids))


class Scorer:
    """A model ready to score messages."""

    def __init__(self, model: UrgentModel) -> None:
        self._model = model
        # Each feature id's row of weights, or -1 for the ids never seen in training: one
        # table lookup (1 MB) instead of a binary search over the known ids per message.
        self._row = np.full(1 << FEATURE_BITS, -1, dtype=np.int32)
        self._row[model.rows] = np.arange(len(model.rows), dtype=np.int32)

    def probabilities(self, tokens: list[str]) -> dict[str, float]:
        """The model's probability for each output (kind ids and "any")."""
        rows = self._row[features(tokens)]
        logits = self._model.weights[rows[rows >= 0]].sum(axis=0) + self._model.bias
        values = 1.0 / (1.0 + np.exp(-np.clip(logits, -30.0, 30.0)))
        return dict(zip(self._model.outputs, values.tolist(), strict=True))
