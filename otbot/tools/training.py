"""Learn the models beside the rules (knowledge/urgent-model.npz, topic-model.npz).

`otbot kb train-urgent FILE...` reads messages in the format of the safety sets (and the
calm ones of topic sets such as eval/dev.yaml, with the knowledge base's own wordings) and
learns one logistic output per emergency kind and one for "any emergency".
`otbot kb train-topics FILE...` reads topic sets (eval/dev.yaml's format) and the knowledge
base's own wordings and learns one output per entry and one for "none of them", as one
choice among them. Both use AdaGrad with a fixed seed, so the same files give the same model,
and keep the weights of the features seen. Never train on a held-out set (eval/README.md).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from otbot.kb import ANY, DOCTOR, NONE, KnowledgeBase, Level, LinearModel
from otbot.kb.loader import TOPIC_MODEL, URGENT_MODEL
from otbot.kb.yamlfile import MarkedDict, Problem, YamlError
from otbot.tools.evaluation import SPECIAL, labelled, read_items
from otbot.tools.safety import SafetyItem, is_safety_file, read_safety
from otbot.understanding.learnt import features
from otbot.understanding.urgent import tokens

SEED = 0


@dataclass(frozen=True)
class Settings:
    """How a model is learnt. Chosen by cross-validation over the tuning sets (train on all
    but one, measure on that one)."""

    epochs: int
    rate: float
    l2: float
    min_count: int = 1  # features seen fewer times are dropped: noise, and memory

    def __str__(self) -> str:
        extra = f" {self.min_count}" if self.min_count > 1 else ""
        return f"{self.epochs} {self.rate} {self.l2} {SEED}{extra}"


URGENT = Settings(epochs=25, rate=0.5, l2=1e-5)
TOPICS = Settings(epochs=15, rate=0.3, l2=1e-5, min_count=2)


def fingerprint(files: Sequence[Path], settings: Settings = URGENT,
                kb: KnowledgeBase | None = None) -> str:
    """What a model was learnt from: the files' names and contents, the settings, and (for
    the topic model) the knowledge base's wordings."""
    digest = hashlib.sha256(str(settings).encode())
    for file in sorted(files, key=lambda f: f.name):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    for label, text in wordings(kb) if kb is not None else ():
        digest.update(f"{label}\t{text}\n".encode())
    return digest.hexdigest()[:16]


def learn(texts: Sequence[str], targets: np.ndarray, outputs: tuple[str, ...],
          settings: Settings, *, exclusive: bool, trained_on: str = "") -> LinearModel:
    """A linear model for these texts; `targets` has a row per text and a column per output.

    Outputs that may hold together (emergency kinds) each get a logistic output; exclusive
    ones (topics) share one softmax, the targets of a row adding up to 1.
    """
    rows = [features(tokens(text)) for text in texts]
    if settings.min_count > 1:
        seen = Counter(np.concatenate(rows).tolist()) if rows else Counter()
        rows = [r[np.array([seen[f] >= settings.min_count for f in r.tolist()], dtype=bool)]
                if len(r) else r for r in rows]
    used = (np.unique(np.concatenate(rows)) if rows else np.zeros(0)).astype(np.int32)
    local = [np.searchsorted(used, r) for r in rows]
    weights = np.zeros((len(used), len(outputs)), np.float32)
    bias = np.zeros(len(outputs), np.float32)
    squares = np.full_like(weights, 1e-6)
    bias_squares = np.full_like(bias, 1e-6)
    order = np.random.default_rng(SEED)
    for _ in range(settings.epochs):
        for i in order.permutation(len(texts)):
            at = local[i]
            logits = weights[at].sum(axis=0) + bias
            if exclusive:
                shares = np.exp(logits - logits.max())
                error = shares / shares.sum() - targets[i]
            else:
                error = 1.0 / (1.0 + np.exp(-np.clip(logits, -30.0, 30.0))) - targets[i]
            step = error[None, :] + settings.l2 * weights[at]
            squares[at] += step * step
            weights[at] -= settings.rate * step / np.sqrt(squares[at])
            bias_squares += error * error
            bias -= settings.rate * error / np.sqrt(bias_squares)
    return LinearModel.quantized(used, weights, bias, outputs, trained_on)


def save(model: LinearModel, folder: Path, name: str) -> Path:
    """Write a model into a knowledge folder; 16-bit weights keep the file small."""
    path = folder / name
    np.savez_compressed(path, rows=model.rows.astype(np.int32), weights=model.weights,
                        scale=model.scale, bias=model.bias,
                        outputs=np.array(model.outputs), trained_on=np.array(model.trained_on))
    return path


# --- the urgent model ---------------------------------------------------------------------

def train(items: Sequence[SafetyItem], kinds: Sequence[str], trained_on: str = ""
          ) -> LinearModel:
    """The urgent model for these labelled messages; `kinds` are urgent.yaml's emergency kinds.

    Beside a kind per emergency and "any", it learns "doctor": the calm messages marked
    `doctor: true`, worries that deserve a doctor soon in more words than the cues hold.
    """
    outputs = (*kinds, DOCTOR, ANY)
    targets = np.zeros((len(items), len(outputs)), np.float32)
    for i, item in enumerate(items):
        for kind in item.kinds:
            targets[i, outputs.index(kind)] = 1.0
        targets[i, -2] = 1.0 if item.doctor else 0.0
        targets[i, -1] = 1.0 if item.kinds else 0.0
    return learn([item.q for item in items], targets, outputs, URGENT, exclusive=False,
                 trained_on=trained_on)


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
    """The knowledge base's own questions, alternates, declined questions and small-talk
    phrases: all calm ("sorry", "thanks for the long answer" are no emergency)."""
    return [*(text for _, text in wordings(kb)),
            *(phrase for kind in kb.smalltalk.kinds for phrase in kind.phrases)]


def train_files(files: Sequence[Path], kb: KnowledgeBase) -> LinearModel:
    """The urgent model learnt from safety and topic files and the knowledge base's own
    wordings (calm); an unknown kind in a safety file is an error."""
    kinds = [k.id for k in kb.urgent.kinds if k.level is Level.EMERGENCY]
    items = [item for file in files
             for item in (read_safety(file) if is_safety_file(file) else everyday(file))]
    unknown = sorted({k for item in items for k in item.kinds} - set(kinds))
    if unknown:
        raise ValueError(f"kinds not in urgent.yaml: {', '.join(unknown)}")
    items += [SafetyItem(text, ()) for text in everyday_wordings(kb)]
    return train(items, kinds, fingerprint(files))


def save_urgent(model: LinearModel, folder: Path) -> Path:
    """Write the urgent model into a knowledge folder."""
    return save(model, folder, URGENT_MODEL)


def save_topics(model: LinearModel, folder: Path) -> Path:
    """Write the topic model into a knowledge folder."""
    return save(model, folder, TOPIC_MODEL)


# --- the topic model ----------------------------------------------------------------------

def wordings(kb: KnowledgeBase) -> list[tuple[str, str]]:
    """(label, text) for every question and alternate (its entry) and every declined
    question (none), in the knowledge base's order."""
    return [*((entry.id, text) for entry in kb.entries.values() for text in entry.sentences()),
            *((NONE, text) for decline in kb.declines.values() for text in decline.alternates)]


def topic_examples(files: Sequence[Path], kb: KnowledgeBase) -> list[tuple[str, tuple[str, ...]]]:
    """(text, labels) from topic files and the knowledge base's wordings; emergencies and
    small talk are left out (other parts read them), an unknown topic id is an error."""
    examples: list[tuple[str, tuple[str, ...]]] = [
        (text, (label,)) for label, text in wordings(kb)]
    for file in files:
        for item in read_items(file):
            if item.expect[0] in ("urgent", "smalltalk"):
                continue
            unknown = sorted(set(item.expect) - set(kb.entries) - set(SPECIAL))
            if unknown:
                raise ValueError(f"{file}:{item.line}: no such entry: {', '.join(unknown)}")
            labels = (NONE,) if item.expect[0] == NONE else tuple(
                t for t in item.expect if t in kb.entries)
            examples.append((item.q, labels))
    return examples


def train_topic_files(files: Sequence[Path], kb: KnowledgeBase) -> LinearModel:
    """The topic model learnt from topic files and the knowledge base's own wordings."""
    outputs = (*kb.entries, NONE)
    examples = topic_examples(files, kb)
    targets = np.zeros((len(examples), len(outputs)), np.float32)
    for i, (_, labels) in enumerate(examples):
        for label in labels:
            targets[i, outputs.index(label)] = 1.0 / len(labels)
    return learn([text for text, _ in examples], targets, outputs, TOPICS, exclusive=True,
                 trained_on=fingerprint(files, TOPICS, kb))
