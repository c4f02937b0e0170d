"""Language identification on short messages: the five languages found, English never mistaken."""

from __future__ import annotations

from paths import ROOT

from otbot.tools.evaluation import labelled, read_items
from otbot.understanding.language import ENGLISH, language_of


def test_short_messages_in_six_languages() -> None:
    items = [(raw["q"], raw["lang"]) for raw, _ in labelled(ROOT / "eval" / "lang.yaml")]
    right = sum(language_of(text) == lang for text, lang in items)
    assert right / len(items) >= 0.95


def test_english_is_never_taken_for_another_language() -> None:
    texts = [item.q for name in ("dev.yaml", "holdout.yaml")
             for item in read_items(ROOT / "eval" / name)]
    assert [t for t in texts if language_of(t) != ENGLISH] == []
