"""Learn the urgent model (knowledge/urgent-model.npz) from labelled messages.

`otbot kb train-urgent FILE...` reads messages in the format of the safety sets (and the
calm ones of topic sets such as eval/dev.yaml, with the knowledge base's own wordings),
learns one logistic output per emergency kind and one for "any emergency" (AdaGrad, a fixed
seed, so the same files give the same model), and writes the weights of the features seen.
Never train on the independent set (eval/README.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from otbot.kb import KnowledgeBase, Level, UrgentModel
from otbot.kb.loader import URGENT_MODEL
from otbot.kb.yamlfile import MarkedDict, Problem, YamlError
from otbot.tools.evaluation import labelled
from otbot.tools.safety import SafetyItem, is_safety_file, read_safety
from otbot.understanding.urgent import tokens
from otbot.understanding.urgent_model import ANY, features

EPOCHS = 25
RATE = 0.5
L2 = 1e-5
SEED = 0


def fingerprint(files: Sequence[Path]) -> str:
    """What a model was learnt from: the files' names and contents, and the settings."""
    digest = hashlib.sha256(f"{EPOCHS} {RATE} {L2} {SEED}".encode())
    for file in sorted(files, key=lambda f: f.name):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def train(items: Sequence[SafetyItem], kinds: Sequence[str], trained_on: str = ""
          ) -> UrgentModel:
    """The model for these labelled messages; `kinds` are urgent.yaml's emergency kinds."""
    outputs = (*kinds, ANY)
    rows = [features(tokens(item.q)) for item in items]
    targets = np.zeros((len(items), len(outputs)), np.float32)
    for i, item in enumerate(items):
        for kind in item.kinds:
            targets[i, outputs.index(kind)] = 1.0
        targets[i, -1] = 1.0 if item.kinds else 0.0
    used = np.unique(np.concatenate(rows)) if rows else np.zeros(0, np.int64)
    local = [np.searchsorted(used, r) for r in rows]
    weights = np.zeros((len(used), len(outputs)), np.float32)
    bias = np.zeros(len(outputs), np.float32)
    squares = np.full_like(weights, 1e-6)
    bias_squares = np.full_like(bias, 1e-6)
    order = np.random.default_rng(SEED)
    for _ in range(EPOCHS):
        for i in order.permutation(len(items)):
            at = local[i]
            logits = np.clip(weights[at].sum(axis=0) + bias, -30.0, 30.0)
            error = 1.0 / (1.0 + np.exp(-logits)) - targets[i]
            step = error[None, :] + L2 * weights[at]
            squares[at] += step * step
            weights[at] -= RATE * step / np.sqrt(squares[at])
            bias_squares += error * error
            bias -= RATE * error / np.sqrt(bias_squares)
    return UrgentModel(used, weights, bias, outputs, trained_on)


def save(model: UrgentModel, folder: Path) -> Path:
    """Write the model into a knowledge folder; weights as float16 keep the file small."""
    path = folder / URGENT_MODEL
    np.savez_compressed(path, rows=model.rows.astype(np.int32),
                        weights=model.weights.astype(np.float16), bias=model.bias,
                        outputs=np.array(model.outputs), trained_on=np.array(model.trained_on))
    return path


def everyday(path: Path) -> list[SafetyItem]:
    """The calm messages of a topic set (eval/dev.yaml, follow-ups): what parents ask day to
    day, so the model learns that ordinary questions are no emergency."""
    calm = []
    for raw, line in labelled(path):
        if not isinstance(raw, MarkedDict):
            raise YamlError(Problem(str(path), line, "each item needs a text 'q'"))
        expect = raw.get("expect")
        if expect == "urgent" or (isinstance(expect, list) and "urgent" in expect):
            continue
        calm += [SafetyItem(raw[key], (), line=line) for key in ("q", "first", "then")
                 if isinstance(raw.get(key), str)]
    return calm


def everyday_wordings(kb: KnowledgeBase) -> list[str]:
    """The knowledge base's own questions, alternates and declined questions: all calm."""
    return [*(text for entry in kb.entries.values() for text in entry.sentences()),
            *(text for decline in kb.declines.values() for text in decline.alternates)]


def train_files(files: Sequence[Path], kb: KnowledgeBase) -> UrgentModel:
    """The model learnt from safety and topic files and the knowledge base's own wordings
    (calm); an unknown kind in a safety file is an error."""
    kinds = [k.id for k in kb.urgent.kinds if k.level is Level.EMERGENCY]
    items = [item for file in files
             for item in (read_safety(file) if is_safety_file(file) else everyday(file))]
    unknown = sorted({k for item in items for k in item.kinds} - set(kinds))
    if unknown:
        raise ValueError(f"kinds not in urgent.yaml: {', '.join(unknown)}")
    items += [SafetyItem(text, ()) for text in everyday_wordings(kb)]
    return train(items, kinds, fingerprint(files))
