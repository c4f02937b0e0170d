"""Text analysis: normalising, synonyms, typo correction and how much each word says."""

from __future__ import annotations

import pytest

from otbot.kb import KnowledgeBase
from otbot.understanding.matcher import Matcher
from otbot.understanding.text import Analyzer, Synonyms, normalize, rarity, words


@pytest.fixture(scope="module")
def analyzer(shipped_kb: KnowledgeBase) -> Analyzer:
    """The analyzer the matcher builds over the shipped knowledge base."""
    return Matcher(shipped_kb).analyzer


# --- normalize -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("What Is OT?", "what is ot", id="case"),
    pytest.param("STRASSE Stra\u00dfe", "strasse strasse", id="casefold"),
    pytest.param("\uff2f\uff34 for my \uff4b\uff49\uff44", "ot for my kid", id="fullwidth"),
    pytest.param("\ufb01ne motor", "fine motor", id="ligature"),
    pytest.param("cafe\u0301 na\u00efve", "caf\u00e9 na\u00efve", id="combining-accent"),
    pytest.param("age\u00b2 \u2460", "age2 1", id="superscript-circled"),
])
def test_normalize_case_and_unicode(text: str, expected: str) -> None:
    """Case and Unicode compatibility forms do not change what a message says."""
    assert normalize(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("can't", "cant", id="ascii"),
    pytest.param("can\u2019t", "cant", id="curly"),
    pytest.param("can\u02bct", "cant", id="modifier-letter"),
    pytest.param("doesn't won't", "doesnt wont", id="several"),
])
def test_normalize_apostrophes_inside_words(text: str, expected: str) -> None:
    """Any apostrophe inside a word is dropped, so every keyboard types the same word."""
    assert normalize(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("my son's teacher", "my son teacher", id="ascii"),
    pytest.param("my son\u2019s teacher", "my son teacher", id="curly"),
    pytest.param("James's handwriting", "james handwriting", id="name-ending-s"),
    pytest.param("the kids' room", "the kids room", id="plural"),
    pytest.param("what's OT", "what ot", id="contraction"),
])
def test_normalize_possessives(text: str, expected: str) -> None:
    """A possessive is the word itself."""
    assert normalize(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("help!!! what?? now...", "help what now", id="marks"),
    pytest.param("5-year-old (boy) - e.g. \"fine\"; ok", "5 year old boy e g fine ok",
                 id="brackets-quotes"),
    pytest.param("snake_case__word", "snake case word", id="underscores"),
    pytest.param("<b>hi</b> &amp;", "b hi b amp", id="markup"),
    pytest.param("*_`[]()~>#+-=|{}.!", "", id="markdown-only"),
])
def test_normalize_punctuation(text: str, expected: str) -> None:
    """Punctuation separates words and leaves nothing behind."""
    assert normalize(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("I \u2764\ufe0f OT \U0001f600", "i ot", id="between-words"),
    pytest.param("\U0001f62d\U0001f62d\U0001f64f", "", id="only-emoji"),
    pytest.param("family \U0001f468\u200d\U0001f469\u200d\U0001f467 time", "family time",
                 id="zwj-sequence"),
])
def test_normalize_emoji(text: str, expected: str) -> None:
    """Emoji carry no words."""
    assert normalize(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("\ufeffhello\u200b world\u200b", "hello world", id="bom-zero-width-space"),
    pytest.param("line\nbreak\ttab\r\n", "line break tab", id="whitespace-controls"),
    pytest.param("my\x00son\x07", "my son", id="nul-bell"),
    pytest.param("\x00\x01\u200b\u200d\ufeff", "", id="only-invisible"),
    pytest.param("left\u200eright\u202e", "left right", id="direction-marks"),
])
def test_normalize_zero_width_and_control_characters(text: str, expected: str) -> None:
    """Invisible and control characters never survive as (parts of) words."""
    assert normalize(text) == expected


@pytest.mark.parametrize("invisible", ["\u00ad", "\u2060", "\u200d"])
def test_normalize_keeps_a_word_whole_across_invisible_characters(invisible: str) -> None:
    """A word with an invisible character inside reads as the word on screen."""
    assert normalize(f"sen{invisible}sory issues") == "sensory issues"


@pytest.mark.parametrize("text", [
    "\u041c\u043e\u0439 \u0441\u044b\u043d",  # Cyrillic
    "\u6211\u7684\u5b69\u5b50",  # Chinese
    "\u0627\u0628\u0646\u064a \u0635\u063a\u064a\u0631",  # Arabic
    "\u05d4\u05d9\u05dc\u05d3 \u05e9\u05dc\u05d9",  # Hebrew
    "\u03c0\u03b1\u03b9\u03b4\u03af",  # Greek
])
def test_normalize_keeps_other_scripts(text: str) -> None:
    """Words of other scripts stay words (lower-cased), not dropped as punctuation."""
    assert normalize(text) == text.casefold()
    assert words(text) == text.casefold().split()


# --- synonyms --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("kids", ["child"], id="plural-variant"),
    pytest.param("my daughters", ["child"], id="plural-other-variant"),
    pytest.param("tantrums", ["meltdown"], id="tantrums"),
    pytest.param("temper tantrums", ["meltdown"], id="multi-word-plural"),
    pytest.param("occupational therapist", ["ot"], id="occupational-therapist"),
    pytest.param("occupational therapists", ["ot"], id="occupational-therapists"),
    pytest.param("holding a pencil", ["pencil", "grip"], id="holding-a-pencil"),
    pytest.param("she holds the pencil", ["pencil", "grip"], id="holds-the-pencil"),
    pytest.param("one-on-one sessions", ["individu", "session"], id="hyphenated"),
])
def test_shipped_synonyms_map_variants(analyzer: Analyzer, text: str,
                                       expected: list[str]) -> None:
    """Parents' words become the knowledge base's terms, plurals included."""
    assert analyzer.terms(text) == expected


def test_variant_and_canonical_give_the_same_terms(analyzer: Analyzer) -> None:
    """'My kid has tantrums' and 'my child has meltdowns' mean the same to the matcher."""
    assert analyzer.terms("My kid has tantrums") == analyzer.terms("my child has meltdowns")


def test_synonyms_longest_phrase_first() -> None:
    """A longer variant wins over a shorter one inside it, left to right."""
    analyzer = Analyzer({"pencil grip": ["holding a pen"], "pencil": ["pen"],
                         "family therapy": ["family counselling"], "family": ["mum"]}, [])
    assert analyzer.terms("holding a pen") == ["pencil", "grip"]
    assert analyzer.terms("a pen") == ["pencil"]
    assert (analyzer.terms("mum wants family counselling")
            == analyzer.terms("family wants family therapy"))


def test_synonyms_keep_the_highest_weight_of_the_words_replaced() -> None:
    """A rewritten phrase is as informative as its most informative word."""
    stem = Analyzer({}, []).stem
    synonyms = Synonyms.from_groups({"ot": ["occupational therapy"]}, stem)
    tokens, weights = synonyms.apply(stem(["about", "occupational", "therapy"]), [0.1, 0.9, 0.5])
    assert (tokens, weights) == (["about", "ot"], [0.1, 0.9])


def test_canonical_term_is_not_rewritten() -> None:
    """A canonical word stays itself; nothing maps it elsewhere."""
    analyzer = Analyzer({"child": ["kid"]}, [])
    assert analyzer.terms("child") == ["child"]


# --- typo correction -------------------------------------------------------------------------


@pytest.mark.parametrize(("typo", "meant"), [
    ("sensery", "sensory"), ("handwritting", "handwriting"), ("scisors", "scissors"),
    ("insurence", "insurance"), ("autsim", "autism"), ("apointment", "appointment"),
])
def test_typos_are_corrected_to_knowledge_base_words(analyzer: Analyzer, typo: str,
                                                     meant: str) -> None:
    """An unknown word close to one the knowledge base uses is read as that word."""
    assert analyzer.correct([typo]) == [meant]
    assert analyzer.terms(typo, fix_typos=True) == analyzer.terms(meant)


@pytest.mark.parametrize("word", ["weather", "bread", "close", "sun", "breath", "plate"])
def test_real_english_words_are_not_corrected(analyzer: Analyzer, word: str) -> None:
    """A real word is what the parent meant, even if a knowledge-base word is close."""
    assert analyzer.correct([word]) == [word]


@pytest.mark.parametrize("word", ["ot", "adhd", "spd", "tbi"])
def test_short_words_are_not_corrected(analyzer: Analyzer, word: str) -> None:
    """Short words have too many near neighbours to correct safely."""
    assert analyzer.correct([word]) == [word]


def test_typos_are_corrected_only_when_asked(analyzer: Analyzer) -> None:
    """Knowledge-base sentences are indexed as written; only messages are corrected."""
    assert analyzer.terms("sensery") != analyzer.terms("sensory")
    assert analyzer.terms("sensery", fix_typos=True) == analyzer.terms("sensory")


def test_typo_then_synonym(analyzer: Analyzer) -> None:
    """A misspelt variant is corrected first, then mapped to its canonical term."""
    assert analyzer.terms("ocupashional therapy", fix_typos=True) == ["ot"]
    assert analyzer.terms("ocupational therapy", fix_typos=True) == ["ot"]
    assert analyzer.terms("my todlers", fix_typos=True) == ["young", "child"]


def test_ocupational_is_corrected(analyzer: Analyzer) -> None:
    """'ocupational' reads as 'occupational' wherever it appears."""
    assert analyzer.correct(["ocupational"]) == ["occupational"]
    assert analyzer.terms("ocupational therapist", fix_typos=True) == ["ot"]


# --- rarity ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("common", "rare"), [
    ("the", "scissors"), ("good", "handwriting"), ("child", "dyspraxia"),
    ("help", "sensory"), ("give", "pencil"),
])
def test_common_words_count_less_than_rare_ones(common: str, rare: str) -> None:
    """A common English word says less about the topic than a rare one."""
    assert rarity(common) < rarity(rare)


def test_rarity_bounds() -> None:
    """Values run from a floor for the commonest words to 1.0 for unknown ones."""
    assert rarity("the") == pytest.approx(0.05)
    assert rarity("proprioceptive") == 1.0
    assert rarity("zzqxv") == 1.0
    assert all(0.05 <= rarity(w) <= 1.0 for w in ("a", "is", "child", "adhd", "bread"))


@pytest.mark.parametrize("word", ["2", "4yo", "2026", "5th"])
def test_numbers_count_little(word: str) -> None:
    """Ages and numbers are not topics."""
    assert rarity(word) < rarity("scissors")
    assert rarity(word) <= 0.2


def test_short_words_count_only_if_the_knowledge_base_uses_them() -> None:
    """'ot' says a lot in this knowledge base; an unknown 'u' says little."""
    assert rarity("u") <= 0.2
    assert rarity("ot", known=True) > rarity("ot")
    assert rarity("ot", known=True) == 1.0
