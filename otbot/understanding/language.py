"""Which language a message is in, among the ones the bot has a note for.

py3langid (a maintained fork of langid.py, no downloads) restricted to English and the five
languages the bot can at least say "I answer in English" in. Short or mixed messages default
to English: a wrong guess would greet a parent in a language they did not write. Its model
takes about 100 MB while loading, so a message made mostly of English words is taken as
English without it, and most processes never load it.
"""

from __future__ import annotations

import functools

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from otbot.understanding.text import english_words, words

ENGLISH = "en"
LANGUAGES = (ENGLISH, "es", "fr", "de", "pt", "it")
# Below this confidence (0..1), or with fewer letters, a message is taken as English.
CONFIDENCE = 0.7
MIN_LETTERS = 8
ENGLISH_SHARE = 0.8  # of a message's words found in an English word list: English, no model


@functools.cache
def _identifier() -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def language_of(text: str) -> str:
    """The message's language code, or "en" when unsure."""
    if sum(map(str.isalpha, text)) < MIN_LETTERS:
        return ENGLISH
    tokens = [t for t in words(text) if t.isalpha()]
    known = english_words()
    if tokens and sum(map(known.__contains__, tokens)) / len(tokens) >= ENGLISH_SHARE:
        return ENGLISH
    language, confidence = _identifier().classify(text)
    return str(language) if confidence >= CONFIDENCE else ENGLISH
