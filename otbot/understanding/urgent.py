"""Recognise possible emergencies in any message, before anything else is considered.

A kind of emergency (knowledge/urgent.yaml) fires when one of its combinations of cues
occurs close together in one sentence: "swallowed" + "battery", "kill" + "himself". Cues
are shared word lists, so one combination covers every pronoun, tense and typo that its
cues cover; a calm, past or figurative context next to the match ("as a baby", "breathing
exercises") cancels it. A model learnt from labelled messages (learnt.py) adds what
the cues miss, and never takes away what they find.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from otbot.kb import ANY, DOCTOR, Level, Urgent, UrgentKind
from otbot.understanding.learnt import Scorer
from otbot.understanding.text import CACHED_WORDS, TypoFixer, words

# Higher than the FAQ's typo cutoff: a wrong "correction" into an emergency word would
# frighten a parent, while a missed typo still leaves the other wordings of a cue.
# Unlike the FAQ's, it also corrects rare real words ("chocking", "chocked"): panicked
# typing lands on them; common ones ("cooking", "sitting") stay as they are.
TYPO_CUTOFF = 85.0
TYPO_MIN_LENGTH = 5
RARE_WORD_COUNT = 500  # in pyspellchecker's English frequencies: "chocking" 64, "cooking" 34,205
# The items of a combination must lie within this many words of each other: close enough
# to be one statement, far enough for "swallowed one of the small batteries".
WINDOW = 12
# A calm context cancels a match only this close to it, so "had seizures as a baby. Now he
# is fitting and won't stop" still fires on the second sentence.
CALM_REACH = 4
# A negation of urgent.yaml ("is not", "has not") this close before a cue denies it: "she is
# NOT choking, she gags on lumps". A cue that holds the "not" ("not breathing") is not denied.
NEGATION_REACH = 2
# The learnt model (urgent-model.npz) beside the rules; chosen by cross-validation over the
# safety-dev sets (train on all but one, measure on that one). It never overrules a rule:
# "my son is choking, is this a sensory thing?" reads calm to it, and a rule knows better.
MODEL_ALONE = 0.9  # its "any emergency" chance from which it fires without a rule
MODEL_MIN_WORDS = 4  # shorter messages carry too little for it: the rules read them alone
KIND_LIKELY = 0.5  # a kind's chance from which the model adds its advice
CRISIS_LIKELY = 0.1  # the same for a kind whose reply carries a crisis line
# Its "doctor" chance from which a calm message gets the first `level: soon` kind's line
# ("see your doctor soon"). Cross-validated: 0.57 of the worries marked for a doctor get
# it, against 0.012 of other calm messages and 2 of 542 everyday questions.
DOCTOR_LIKELY = 0.5
# Contractions typed without an apostrophe, spelt out so "hes choking" reads "he is choking".
CONTRACTIONS = {"hes": ("he", "is"), "shes": ("she", "is"), "theyre": ("they", "are"),
                "im": ("i", "am"), "isnt": ("is", "not"), "wont": ("will", "not"),
                "doesnt": ("does", "not"), "cant": ("can", "not"), "didnt": ("did", "not"),
                "arent": ("are", "not"), "wasnt": ("was", "not"), "dont": ("do", "not"),
                "havent": ("have", "not"), "hasnt": ("has", "not"), "couldnt": ("could", "not")}
# Sentence ends; a full stop between digits ("38.5") is a decimal point, not an end.
_SENTENCE = re.compile(r"(?<!\d)\.|\.(?!\d)|[!?;\n]+")

Phrase = tuple[str, ...]  # normalised words; a trailing * marks a prefix
Span = tuple[int, int]  # first and last word of an occurrence


def fold(text: str) -> str:
    """Lower case without accents: "não respira" and "nao respira" read the same."""
    if text.isascii():
        return text  # nothing to fold, and most messages are
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens(text: str) -> list[str]:
    """Folded words with contractions spelt out, as both messages and phrases are read."""
    return [w for token in words(fold(text)) for w in CONTRACTIONS.get(token, (token,))]


def _phrase(text: str) -> Phrase:
    """A phrase as read words; a word's trailing * survives as a prefix marker."""
    pattern: list[str] = []
    for raw in text.split():
        pattern.extend(w + "*" if raw.endswith("*") else w for w in tokens(raw))
    return tuple(pattern)


def _word_matches(pattern: str, word: str) -> bool:
    return word.startswith(pattern[:-1]) if pattern.endswith("*") else word == pattern


class _PhraseFinder:
    """Finds where many phrases occur in a sentence, in one pass over its words."""

    def __init__(self, phrases: Iterable[Phrase]) -> None:
        # A phrase is looked up by its first two words ("he", "is"), by its first word alone
        # when it has one or its second is a prefix, or by the first two letters of a first
        # word that is a prefix ("breath*"): common first words ("he", "i") start hundreds.
        by_pair: dict[tuple[str, str], list[Phrase]] = {}
        self._by_first: dict[str, list[Phrase]] = {}
        self._by_prefix: dict[str, list[tuple[str, Phrase]]] = {}
        for phrase in set(phrases):
            first = phrase[0]
            if first.endswith("*"):
                self._by_prefix.setdefault(first[:2], []).append((first[:-1], phrase))
            elif len(phrase) > 1 and not phrase[1].endswith("*"):
                by_pair.setdefault((first, phrase[1]), []).append(phrase)
            else:
                self._by_first.setdefault(first, []).append(phrase)
        self._by_pair = {pair: tuple(listed) for pair, listed in by_pair.items()}
        self._patterned = {p for p in set(phrases) if any(w.endswith("*") for w in p)}
        # Parents' words repeat: the phrases a word can start are worked out once per word.
        self._starting = functools.lru_cache(maxsize=CACHED_WORDS)(self._phrases_starting)

    def _phrases_starting(self, token: str) -> tuple[Phrase, ...]:
        """The phrases that a word can start whatever follows it."""
        return (*self._by_first.get(token, ()), *(
            phrase for prefix, phrase in self._by_prefix.get(token[:2], ())
            if token.startswith(prefix)))

    def find(self, tokens: list[str]) -> dict[Phrase, list[Span]]:
        """Every phrase that occurs in the tokens, word for word and in order, with spans."""
        found: dict[Phrase, list[Span]] = {}
        for i, (token, following) in enumerate(itertools.zip_longest(tokens, tokens[1:],
                                                                     fillvalue="")):
            candidates = self._starting(token) + self._by_pair.get((token, following), ())
            for phrase in candidates:
                here = tokens[i : i + len(phrase)]
                if len(here) == len(phrase) and (
                        all(map(_word_matches, phrase, here)) if phrase in self._patterned
                        else tuple(here) == phrase):
                    found.setdefault(phrase, []).append((i, i + len(phrase) - 1))
        return found


Item = frozenset[Phrase]  # the phrases any one of which satisfies an item of a combination


@dataclass(frozen=True)
class _Compiled:
    kind: UrgentKind
    combinations: tuple[tuple[Item, ...], ...]
    unless: Item

    def occurs(self, places: list[list[Span]], calm: list[Span], now: list[int],
               negations: list[int]) -> bool:
        """Whether one place of each item lies within the window, with no calm context by it
        (one with a word of the present, at `now`, between it and the match is not by it),
        and no item denied by a negation just before it (ending at one of `negations`).

        A whole-message kind has no window, and any calm context in the message cancels it.
        """
        if self.kind.whole_message:
            return not calm
        # Anchored on the rarest item, only the places within the window of it are tried:
        # a long message with "he" forty times does not try every combination of them.
        for anchor, _ in min(places, key=len):
            near = [[(s, e) for s, e in place if abs(s - anchor) <= WINDOW] for place in places]
            for chosen in itertools.product(*near):
                start, end = min(s for s, _ in chosen), max(e for _, e in chosen)
                if end - start <= WINDOW and not any(
                        s <= end + CALM_REACH and e >= start - CALM_REACH and not any(
                            e < n < start or end < n < s for n in now) for s, e in calm
                ) and not _denied(chosen, negations):
                    return True
        return False

    def phrases(self) -> set[Phrase]:
        """Every phrase the kind looks for."""
        return {p for combination in self.combinations for item in combination for p in item
                } | self.unless


def _denied(chosen: tuple[Span, ...], negations: Iterable[int]) -> bool:
    """Whether a negation stands just before one of the chosen places ("she is not choking",
    "he didn't swallow it"), other than one the match itself holds ("he is not breathing")."""
    return any(0 < s - n <= NEGATION_REACH for n in negations for s, _ in chosen
               if not any(s2 <= n <= e2 for s2, e2 in chosen))


def _segments(found: dict[Phrase, list[Span]], lengths: list[int]
              ) -> list[dict[Phrase, list[Span]]]:
    """The phrases found in each sentence, and in each two neighbouring sentences."""
    starts = list(itertools.accumulate([0, *lengths]))
    count = len(lengths)
    # Each occurrence is placed once: in its sentence, or (across a sentence end) in the pair.
    alone: list[dict[Phrase, list[Span]]] = [{} for _ in range(count)]
    across: list[dict[Phrase, list[Span]]] = [{} for _ in range(max(count - 1, 0))]
    for phrase, spans in found.items():
        for start, end in spans:
            i = bisect.bisect_right(starts, start) - 1
            if end < starts[i + 1]:
                alone[i].setdefault(phrase, []).append((start, end))
            elif i + 2 < len(starts) and end < starts[i + 2]:
                across[i].setdefault(phrase, []).append((start, end))
    pairs = []
    for i in range(count - 1):
        pair: dict[Phrase, list[Span]] = {}
        for part in (alone[i], across[i], alone[i + 1]):
            for phrase, spans in part.items():
                pair.setdefault(phrase, []).extend(spans)
        pairs.append(pair)
    return alone + pairs


@dataclass(frozen=True)
class Finding:
    """What a message may be: emergency kinds (best first) and worries for a doctor soon."""

    emergencies: tuple[UrgentKind, ...] = ()
    soon: tuple[UrgentKind, ...] = ()
    learnt_only: bool = False  # no rule fired: the emergencies are the learnt model's reading

    def __bool__(self) -> bool:
        return bool(self.emergencies)


class UrgentDetector:
    """Applies the kinds of urgent.yaml to a message."""

    def __init__(self, urgent: Urgent) -> None:
        self.urgent = urgent
        cues = {name: tuple(_phrase(p) for p in phrases) for name, phrases in urgent.cues.items()}
        calm = tuple(_phrase(p) for p in urgent.calm)

        def item(text: str) -> Item:
            return frozenset(cues.get(text) or (_phrase(alt) for alt in text.split("|")))

        self._anywhere = frozenset(p for text in urgent.calm_anywhere for p in item(text))
        self._present = frozenset(_phrase(p) for p in urgent.present)
        self._negations = frozenset(_phrase(p) for p in urgent.negations)
        self._calm = self._anywhere | set(calm)
        self._kinds = [
            _Compiled(kind, tuple(tuple(item(part) for part in combo) for combo in kind.when),
                      frozenset(p for text in kind.unless for p in item(text)) | set(calm))
            for kind in urgent.kinds
        ]
        phrases = set().union(*(c.phrases() for c in self._kinds), self._anywhere,
                              self._present, self._negations) - {()}
        self._finder = _PhraseFinder(phrases)
        # Every combination of every kind, numbered; for each phrase, the items it can stand
        # for, coded number * stride + item. A message holds a few dozen phrases, each in up
        # to hundreds of items: numpy counts the items found per combination in one go, and
        # only the few combinations found complete are read closely.
        self._combinations = [(k, combo) for k, compiled in enumerate(self._kinds)
                              for combo in compiled.combinations]
        self._stride = 1 + max((len(c) for _, c in self._combinations), default=0)
        codes: dict[Phrase, list[int]] = {}
        for number, (_, combination) in enumerate(self._combinations):
            for i, alternatives in enumerate(combination):
                for phrase in alternatives:
                    codes.setdefault(phrase, []).append(number * self._stride + i)
        self._codes = {phrase: np.array(listed, dtype=np.int64)
                       for phrase, listed in codes.items()}
        # An empty combination is never complete.
        self._sizes = np.array([len(c) or -1 for _, c in self._combinations], dtype=np.int64)
        self._whole = [self._kinds[k].kind.whole_message for k, _ in self._combinations]
        self._emergency = {k.id for k in urgent.kinds if k.level is Level.EMERGENCY}
        self._doctor = next((k.id for k in urgent.kinds if k.level is Level.SOON), None)
        self._crisis = {k.id: k.crisis for k in urgent.kinds}
        # Whole words only: a prefix ("breath*") is no spelling to correct towards.
        vocabulary = {w for phrase in phrases for w in phrase if not w.endswith("*")}
        self._typos = TypoFixer(vocabulary, min_length=TYPO_MIN_LENGTH, cutoff=TYPO_CUTOFF,
                                rare_word_count=RARE_WORD_COUNT)
        self._scorer = Scorer(urgent.model) if urgent.model is not None else None

    def detect(self, text: str) -> Finding:
        """Every kind the message triggers, as typed and with typos fixed, in urgent.yaml order."""
        fired: set[str] = set()
        calmed = False
        typed = [tokens(s) for s in _SENTENCE.split(text) if s.strip()]
        fixed = [[self._typos.fix(t) for t in sentence] for sentence in typed]
        # Each reading is checked once: most messages read the same both ways.
        for reading in ([typed, fixed] if fixed != typed else [typed]):
            flat = [t for sentence in reading for t in sentence]
            found = self._finder.find(flat)
            calmed = calmed or not self._calm.isdisjoint(found)
            # Sentence kinds are read sentence by sentence, and two neighbours together ("He
            # hit his head. Now he's been sick."); whole-message kinds on all of it. Most
            # messages complete no combination even as a whole, and need no closer reading;
            # a part of the message completes only what the whole does.
            completed = self._completed(found)
            by_sentence = [n for n in completed if not self._whole[n]]
            if by_sentence:
                for segment in _segments(found, [len(s) for s in reading]):
                    self._fire(segment, by_sentence, fired)
            self._fire(found, [n for n in completed if self._whole[n]], fired)
        ruled = bool(fired & self._emergency)
        if self._scorer is not None and sum(map(len, typed)) >= MODEL_MIN_WORDS:
            fired = self._learnt(self._scorer, fired, [t for sentence in typed for t in sentence],
                                 calmed)
        kinds = [c.kind for c in self._kinds if c.kind.id in fired]
        return Finding(tuple(k for k in kinds if k.level is Level.EMERGENCY),
                       tuple(k for k in kinds if k.level is Level.SOON), learnt_only=not ruled)

    def _learnt(self, scorer: Scorer, fired: set[str], words: list[str],
                calmed: bool) -> set[str]:
        """The rules' kinds, with what the learnt model reads in the whole message.

        The model alone fires only when it is confident that this is an emergency and of
        which kind, and the rules found no calm context ("as a baby", "just in case"). Either
        way the reply adds the kinds it finds likely, a crisis line sooner than other advice.
        A calm message that it reads as a worry for a doctor soon gets that line.
        """
        chance = scorer.probabilities(words)
        likely = {k for k in self._emergency if chance.get(k, 0.0) >= (
            CRISIS_LIKELY if self._crisis.get(k, False) else KIND_LIKELY)}
        if fired & self._emergency or (chance[ANY] >= MODEL_ALONE and likely and not calmed):
            return fired | likely
        if self._doctor is not None and chance.get(DOCTOR, 0.0) >= DOCTOR_LIKELY:
            return fired | {self._doctor}
        return fired

    def _completed(self, found: dict[Phrase, list[Span]]) -> list[int]:
        """The numbers of the combinations whose every item the phrases found hold."""
        codes = [self._codes[phrase] for phrase in found.keys() & self._codes.keys()]
        if not codes:
            return []
        # Each item once, however many of its phrases were found.
        items = np.unique(np.concatenate(codes))
        counts = np.bincount(items // self._stride, minlength=len(self._sizes))
        return np.flatnonzero(counts == self._sizes).tolist()

    def _fire(self, found: dict[Phrase, list[Span]], combinations: list[int],
              fired: set[str]) -> None:
        """Add the kinds of those combinations that occur in one reading (a sentence, two
        neighbours or the whole message) with no calm context by them."""
        if not combinations or not self._anywhere.isdisjoint(found):
            return
        now = [s for phrase in self._present & found.keys() for s, _ in found[phrase]]
        negations = [e for phrase in self._negations & found.keys() for _, e in found[phrase]]
        for number in combinations:
            k, combination = self._combinations[number]
            compiled = self._kinds[k]
            if compiled.kind.id in fired:
                continue
            places = [[span for phrase in found.keys() & alternatives for span in found[phrase]]
                      for alternatives in combination]
            calm = [span for phrase in found.keys() & compiled.unless for span in found[phrase]]
            if all(places) and compiled.occurs(places, calm, now, negations):
                fired.add(compiled.kind.id)

    def reply(self, kind_ids: Iterable[str], language: str = "en") -> str:
        """The emergency reply: a line in the parent's language, each kind's advice (crisis
        lines first), one footer."""
        kinds = sorted((k for k in self.urgent.kinds if k.id in set(kind_ids)),
                       key=lambda k: not k.crisis)
        first = self.urgent.first_lines.get(language, "")
        # Kinds share lines ("Call your emergency number now: ..."): each is said once.
        said: set[str] = set()
        advice = []
        for kind in kinds:
            lines = [line for line in kind.reply.splitlines()
                     if not line.strip() or line not in said]
            said.update(line for line in lines if line.strip())
            advice.append("\n".join(lines).strip())
        return "\n\n".join(t for t in (first, *advice, self.urgent.footer) if t)
