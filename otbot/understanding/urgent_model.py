"""The learnt side of emergency recognition: a linear model over a message's hashed features.

The cue rules (urgent.py) say exactly why a message fired, but parents describe what they see
in more ways than any list holds ("his lips look like blueberries"). A model learnt from
thousands of labelled messages (`otbot kb train-urgent`) catches much of the rest; the rules
still decide alone where the model is unsure.
"""

from __future__ import annotations

import zlib

import numpy as np

from otbot.kb import UrgentModel

FEATURE_BITS = 18  # 262,144 hashed feature ids; only those seen in training are stored
LETTERS = 4  # letter groups of this size inside each word: typos keep most of them
ANY = "any"  # the output for "some emergency", beside one per kind


def features(tokens: list[str]) -> np.ndarray:
    """Sorted hashed ids of a message's words, word pairs and letter groups."""
    names = set()
    for i, token in enumerate(tokens):
        names.add("w:" + token)
        if i + 1 < len(tokens):
            names.add(f"b:{token} {tokens[i + 1]}")
        padded = f"<{token}>"
        names.update("c:" + padded[j : j + LETTERS] for j in range(len(padded) - LETTERS + 1))
    size = 1 << FEATURE_BITS
    return np.array(sorted({zlib.crc32(n.encode()) % size for n in names}), dtype=np.int64)


def probabilities(model: UrgentModel, tokens: list[str]) -> dict[str, float]:
    """The model's probability for each output (kind ids and "any")."""
    # Features never seen in training have no weight: only the others are looked up.
    ids = features(tokens)
    at = np.minimum(np.searchsorted(model.rows, ids), len(model.rows) - 1)
    known = at[model.rows[at] == ids]
    logits = model.weights[known].sum(axis=0) + model.bias
    values = 1.0 / (1.0 + np.exp(-np.clip(logits, -30.0, 30.0)))
    return dict(zip(model.outputs, values.tolist(), strict=True))
