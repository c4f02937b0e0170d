"""Turn a message into the terms the matcher compares: normalise, fix typos, stem, synonyms."""

from __future__ import annotations

import functools
import gzip
import json
import math
import pkgutil
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import Stemmer
from rapidfuzz import fuzz, process

# Only words of this many letters are typo-corrected: shorter ones ("ot", "add") have too
# many near neighbours, and a wrong fix there costs more than the typo.
TYPO_MIN_LENGTH = 4
TYPO_CUTOFF = 80.0
CACHED_TEXTS = 64
CACHED_WORDS = 20_000  # distinct words whose correction and rarity are remembered (a few MB)

# A short list on purpose: wh-words and negations carry meaning in short questions
# ("what is OT" vs "why OT"), so they stay.
STOPWORDS = frozenset(
    """a an the and or but if of to in on at for from by with about as into than then so
    is am are was were be been being do does did doing have has had having i me my mine we
    us our you your yours he him his she her hers it its they them their this that these
    those there here just really very please also too any some much many lot lots can could
    would should will shall may might must get got hi hello hey thanks thank ok okay um uh
    """
    # the same contractions typed without an apostrophe
    """im ive id ill hes shes theyre youre were thats whats theres heres dont doesnt didnt
    isnt arent wasnt werent cant couldnt wont wouldnt shouldnt havent hasnt lets
    """
    # chat shorthand and filler that says nothing about the topic
    """u ur r pls plz abt w bc cuz tho idk omg btw lol ya yeah sorry silly dumb stupid
    question quick newbie wondering wonder honestly actually basically literally seriously
    usually probably maybe perhaps totally stuff whether general bit kinda sorta""".split()
)
# Negations and question words are informative, even though some look like filler.
KEPT_WORDS = frozenset({"not", "no", "never", "what", "why", "how", "when", "where", "who",
                        "which", "whether"})

Stem = Callable[[Iterable[str]], list[str]]

# Invisible characters: the zero-width space and direction marks separate words; soft
# hyphens, joiners and byte-order marks sit inside them and must not split them.
_SEPARATING = "\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_JOINING = "\u00ad\u200c\u200d\u2060\ufeff\u180e"
_INVISIBLE = str.maketrans({**dict.fromkeys(_SEPARATING, " "), **dict.fromkeys(_JOINING)})
_POSSESSIVE = re.compile(r"(?<=\w)['\u2019\u02bc]s\b")  # "son's", "what's": the word itself
_APOSTROPHES = re.compile(r"(?<=\w)['\u2019\u02bc](?=\w)")
_NON_WORD = re.compile(r"[^\w]+|_+")


@functools.cache
def english_words() -> dict[str, int]:
    """Word frequencies of general English (pyspellchecker's list, all lower case).

    Read straight from the package's data file: building a SpellChecker would hold three
    copies of the 160,000 words at once, most of a small process's peak memory.
    """
    data = pkgutil.get_data("spellchecker", "resources/en.json.gz")
    if data is None:
        raise FileNotFoundError("pyspellchecker's English word list (resources/en.json.gz)")
    words: dict[str, int] = json.loads(gzip.decompress(data))
    return words


# How much a word says about what a message is about, from how common it is in English:
# "the", "give", "good" say almost nothing; "scissors", "paracetamol", "adhd" say a lot.
COMMON_LOG_FREQUENCY = 6.5
RARITY_SPAN = 3.0
RARITY_FLOOR = 0.05
SHORT_OR_NUMBER_RARITY = 0.2  # "u", "2", "4yo": chat shorthand and ages, not topics


@functools.lru_cache(maxsize=CACHED_WORDS)
def rarity(word: str, known: bool = False) -> float:
    """0.05 for the most common English words, up to 1.0 for rare or unknown ones.

    Numbers count little, and so do short words unless the knowledge base uses them ("ot").
    """
    if any(ch.isdigit() for ch in word) or (len(word) <= 2 and not known):
        return SHORT_OR_NUMBER_RARITY
    frequency = english_words().get(word, 0)
    value = (COMMON_LOG_FREQUENCY - math.log10(frequency + 1)) / RARITY_SPAN
    return min(1.0, max(RARITY_FLOOR, value))


@functools.lru_cache(maxsize=CACHED_TEXTS)
def normalize(text: str) -> str:
    """Lower-case, fold Unicode, drop apostrophes inside words and all punctuation.

    Remembered for a few texts: each step of a decision (urgent, small talk, language,
    ranking) reads the same message.
    """
    if text.isascii():
        # Most texts: no invisible or compatibility characters to fold, one kind of apostrophe.
        text = text.lower()
        if "'" in text:
            text = _APOSTROPHES.sub("", _POSSESSIVE.sub("", text))
    else:
        text = text.translate(_INVISIBLE)
        text = unicodedata.normalize("NFKC", text).casefold()
        text = _APOSTROPHES.sub("", _POSSESSIVE.sub("", text))
    return _NON_WORD.sub(" ", text).strip()


def words(text: str) -> list[str]:
    """The normalised words of a text."""
    return normalize(text).split()


@dataclass(frozen=True)
class Synonyms:
    """Variant phrases of parents, each rewritten to the knowledge base's canonical term."""

    phrases: Mapping[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    longest: int = 1

    @functools.cached_property
    def starts(self) -> frozenset[str]:
        """The first words of the phrases: a word that starts none needs no lookup."""
        return frozenset(key[0] for key in self.phrases)

    @classmethod
    def from_groups(cls, groups: Mapping[str, Iterable[str]], stem: Stem) -> Synonyms:
        """Build from {canonical: [variant, ...]} as written in synonyms.yaml.

        Phrases are stemmed, so "kid" also rewrites "kids" and "tantrum" "tantrums".
        """
        phrases: dict[tuple[str, ...], tuple[str, ...]] = {}
        for canonical, variants in groups.items():
            target = tuple(stem(words(canonical)))
            for variant in variants:
                key = tuple(stem(words(variant)))
                if key and key != target:
                    phrases[key] = target
        longest = max((len(key) for key in phrases), default=1)
        return cls(phrases, longest)

    def apply(self, tokens: list[str], weights: list[float]) -> tuple[list[str], list[float]]:
        """Rewrite variants to canonical terms, longest phrase first, left to right.

        A rewritten phrase keeps the highest weight of the words it replaced.
        """
        out: list[str] = []
        out_weights: list[float] = []
        i = 0
        while i < len(tokens):
            sizes = range(min(self.longest, len(tokens) - i), 0, -1) \
                if tokens[i] in self.starts else ()
            for size in sizes:
                target = self.phrases.get(tuple(tokens[i : i + size]))
                if target is not None:
                    out.extend(target)
                    out_weights.extend([max(weights[i : i + size])] * len(target))
                    i += size
                    break
            else:
                out.append(tokens[i])
                out_weights.append(weights[i])
                i += 1
        return out, out_weights



class TypoFixer:
    """Replaces a mistyped word by the closest word of a vocabulary, if it is close enough.

    Parents rarely mistype the first letter, so only words sharing it are candidates: that
    halves wrong corrections and most of the cost.
    """

    def __init__(self, vocabulary: Iterable[str], *, min_length: int = TYPO_MIN_LENGTH,
                 cutoff: float = TYPO_CUTOFF, rare_word_count: int = 0) -> None:
        self.min_length = min_length
        self.cutoff = cutoff
        # Real English words are left alone ("bread" is no typo of "breast"), except ones
        # rarer than this count in general English, which panicked typing lands on
        # ("chocking"): "cooking" stays cooking.
        self.rare_word_count = rare_word_count
        self.vocabulary = frozenset(vocabulary)
        self._by_initial: dict[str, list[str]] = {}
        for word in sorted(self.vocabulary):
            self._by_initial.setdefault(word[0], []).append(word)
        # Parents' words repeat: each distinct one is looked up once.
        self.fix = functools.lru_cache(maxsize=CACHED_WORDS)(self._fix)

    def _fix(self, token: str) -> str:
        """The vocabulary word a typo was meant to be, or the token as it is."""
        if (len(token) < self.min_length or token in self.vocabulary or not token.isalpha()
                or english_words().get(token, 0) >= max(self.rare_word_count, 1)):
            return token
        best = process.extractOne(token, self._by_initial.get(token[0], ()), scorer=fuzz.ratio,
                                  score_cutoff=self.cutoff)
        return best[0] if best else token


class Analyzer:
    """The one pipeline that both knowledge-base sentences and parents' messages go through.

    words -> typo fix (messages only) -> stems -> synonyms -> stop words dropped.
    """

    def __init__(self, synonym_groups: Mapping[str, Iterable[str]],
                 vocabulary: Iterable[str]) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self.synonyms = Synonyms.from_groups(synonym_groups, self.stem)
        self._vocabulary = set(vocabulary)
        for variants in synonym_groups.values():
            self._vocabulary.update(w for v in variants for w in words(v))
        self._typos = TypoFixer(w for w in self._vocabulary if len(w) >= TYPO_MIN_LENGTH - 1)
        # Stemming can fold a stop word onto a kept one ("whats" -> "what"): kept wins.
        self._stopwords = frozenset(self.stem(sorted(STOPWORDS))) - set(self.stem(KEPT_WORDS))

    def correct(self, tokens: list[str]) -> list[str]:
        """Replace each unknown word of 4+ letters by its closest known word, if close enough."""
        return [self._typos.fix(token) if token not in self._vocabulary else token
                for token in tokens]

    def terms(self, text: str, *, fix_typos: bool = False) -> list[str]:
        """Stemmed content terms of a text, synonyms mapped, stop words dropped."""
        return [term for term, _ in self._analyse(text, fix_typos, weigh=False)]

    def weighted_terms(self, text: str, *, fix_typos: bool = False) -> list[tuple[str, float]]:
        """Content terms with how much each says about the topic (see `rarity`)."""
        return self._analyse(text, fix_typos, weigh=True)

    def _analyse(self, text: str, fix_typos: bool, weigh: bool) -> list[tuple[str, float]]:
        """The pipeline; weighing is skipped when indexing, where it is most of the cost."""
        tokens = words(text)
        if fix_typos:
            tokens = self.correct(tokens)
        weights = [rarity(t, t in self._vocabulary) if weigh else 0.0 for t in tokens]
        stems, weights = self.synonyms.apply(self.stem(tokens), weights)
        # A lone letter ("b", "d") says nothing on its own, and "<b>" is no question about
        # letter reversals; numbers (ages) stay.
        return [(t, w) for t, w in zip(stems, weights, strict=True)
                if t not in self._stopwords and (len(t) > 1 or t.isdigit())]

    def stem(self, tokens: Iterable[str]) -> list[str]:
        """Stem words as the index does."""
        stems: list[str] = self._stemmer.stemWords(list(tokens))
        return stems
