"""The learnt side of emergency recognition: a linear model over a message's hashed features.

The cue rules (urgent.py) say exactly why a message fired, but parents describe what they see
in more ways than any list holds ("his lips look like blueberries"). A model learnt from
thousands of labelled messages (`otbot kb train-urgent`) catches much of the rest; the rules
still decide alone where the model is unsure.
"""

from __future__ import annotations

import functools
import itertools
import zlib

import numpy as np

from otbot.kb import UrgentModel

FEATURE_BITS = 18  # 262,144 hashed feature ids; only those seen in training are stored
LETTERS = 4  # letter groups of this size inside each word: typos keep most of them
ANY = "any"  # the output for "some emergency", beside one per kind
CACHED_WORDS = 20_000  # distinct words whose features are remembered (a few MB at most)


def _hashed(name: str) -> int:
    return zlib.crc32(name.encode()) % (1 << FEATURE_BITS)


@functools.lru_cache(maxsize=CACHED_WORDS)
def _word_features(token: str) -> frozenset[int]:
    """A word's own features: the word and its letter groups (the same in every message)."""
    padded = f"<{token}>"
    return frozenset({_hashed("w:" + token)} | {
        _hashed("c:" + padded[j : j + LETTERS]) for j in range(len(padded) - LETTERS + 1)})


def features(tokens: list[str]) -> np.ndarray:
    """Sorted hashed ids of a message's words, word pairs and letter groups.

    Numbers are left to the rules (a temperature, an age in weeks): alone they taught the
    model that "question 15 about OT" sounds like a fever.
    """
    tokens = [t for t in tokens if not any(ch.isdigit() for ch in t)]
    ids = {_hashed(f"b:{a} {b}") for a, b in itertools.pairwise(tokens)}
    ids.update(*map(_word_features, tokens))
    return np.array(sorted(ids), dtype=np.int64)


def probabilities(model: UrgentModel, tokens: list[str]) -> dict[str, float]:
    """The model's probability for each output (kind ids and "any")."""
    # Features never seen in training have no weight: only the others are looked up.
    ids = features(tokens)
    at = np.minimum(np.searchsorted(model.rows, ids), max(len(model.rows) - 1, 0))
    known = at[model.rows[at] == ids] if len(model.rows) else at[:0]
    logits = model.weights[known].sum(axis=0) + model.bias
    values = 1.0 / (1.0 + np.exp(-np.clip(logits, -30.0, 30.0)))
    return dict(zip(model.outputs, values.tolist(), strict=True))
