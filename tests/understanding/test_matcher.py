"""What the bot decides for a message: answer, clarify, fallback, urgent or small talk."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otbot.kb import KnowledgeBase
from otbot.understanding.matcher import Decision, Matcher

KINDS = {"answer", "clarify", "fallback", "urgent", "smalltalk"}


@pytest.fixture(scope="module")
def matcher(shipped_kb: KnowledgeBase) -> Matcher:
    """One matcher over the shipped knowledge base for the whole module."""
    return Matcher(shipped_kb)


def topics(decision: Decision) -> list[str]:
    """The candidate topics, best first."""
    return [c.topic for c in decision.candidates]


# --- each kind -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "topic"), [
    ("does insurance cover OT", "insurance"),
    ("My daughter is 5 and still can't use scissors, can OT help?", "fine-motor"),
    ("how often are OT sessions", "session-frequency"),
    ("Can OT help with my son's meltdowns over loud noises?", "meltdowns"),
])
def test_clear_question_is_answered(matcher: Matcher, text: str, topic: str) -> None:
    """A clear question gets the one right answer."""
    decision = matcher.decide(text)
    assert (decision.kind, decision.topic) == ("answer", topic), topics(decision)
    assert decision.candidates[0].topic == topic
    assert decision.score == decision.candidates[0].score


def test_vague_message_gets_choices(matcher: Matcher) -> None:
    """An in-domain but vague message offers the three best topics instead of guessing."""
    decision = matcher.decide("my child has some problems")
    assert decision.kind == "clarify"
    assert decision.topic is None
    assert len(decision.options) == 3


@pytest.mark.parametrize("text", [
    "can you recommend a good stroller",
    "how do I do my taxes",
    "what's the weather tomorrow",
    "best pizza in town",
])
def test_unrelated_question_falls_back(matcher: Matcher, text: str) -> None:
    """A question the knowledge base has nothing on gets no answer and no choices."""
    decision = matcher.decide(text)
    assert decision.kind == "fallback", topics(decision)
    assert decision.topic is None


@pytest.mark.parametrize("text", [
    "my son is not breathing",
    "she's not breathing",
    "my daughter is having a seizure right now",
    "my son swallowed a button battery",
    "my toddler ate some pills from the medicine bottle",
    "he hit his head on the table and threw up twice",
    "HELP my son is choking",
    "my child is having a siezure",
    "hes choking",
    "my son is chocking",
    "my baby cant breath",
    "my son is choking how to help",
    "he had a few seizures as a baby and now he is having a seizure that wont stop",
    "he had seizures as a baby, now he is fitting and won't stop",
])
def test_emergency_is_urgent(matcher: Matcher, text: str) -> None:
    """A possible emergency is recognised, typos and contractions included."""
    decision = matcher.decide(text)
    assert decision.kind == "urgent", (decision.kind, topics(decision))
    assert decision.detail


@pytest.mark.parametrize(("text", "kind"), [
    ("hi", "greeting"), ("Hello there!", "greeting"), ("good morning", "greeting"),
    ("thanks so much!", "thanks"), ("thank you, that was helpful", "thanks"),
    ("bye", "goodbye"), ("ok", "acknowledge"),
    ("ok great, ill try that tomorrow x", "thanks"), ("thanks a million, really kind", "thanks"),
    ("grazie mille!", "thanks"), ("have a lovely evening", "goodbye"),
    ("👍", "thanks"), ("🙏🏽 🙏🏽", "thanks"), ("hiya, just testing", "greeting"),
    ("sorry, brb", "acknowledge"), ("you're amazing, honestly", "thanks"),
    ("sorry for the long message", "apology"), ("oops, wrong chat", "apology"),
    ("that's not what I asked", "missed"), ("??", "missed"), ("noted, will do", "acknowledge"),
    ("haha ok", "acknowledge"), ("bonjour !", "greeting"), ("спасибо", "thanks"),
])
def test_small_talk(matcher: Matcher, text: str, kind: str) -> None:
    """Greetings, thanks, goodbyes, apologies and "that missed" are replied to in kind, and
    never taken for an emergency ("sorry" is typed in panic too, but not only then)."""
    decision = matcher.decide(text)
    assert (decision.kind, decision.detail) == ("smalltalk", kind)


@pytest.mark.parametrize("text", ["what can you do?", "who made you?", "is this ChatGPT?",
                                  "are you a human or a bot lol"])
def test_question_about_the_bot_in_common_words(matcher: Matcher, text: str) -> None:
    """Words too common for the ranking still get the answer about the bot."""
    decision = matcher.decide(text)
    assert (decision.kind, decision.topic) == ("answer", "about-bot")


def test_greeting_with_a_question_is_a_question(matcher: Matcher) -> None:
    """'hello, what is OT?' is answered, not greeted."""
    decision = matcher.decide("hello, what is occupational therapy?")
    assert (decision.kind, decision.topic) == ("answer", "what-is-ot")


# --- urgent first, calm mentions, no false alarms --------------------------------------------


def test_urgent_comes_first_and_is_never_outscored(matcher: Matcher) -> None:
    """An emergency inside an FAQ-like question is still urgent."""
    decision = matcher.decide("my son is choking, is this a sensory thing?")
    assert decision.kind == "urgent"
    assert decision.candidates == ()


@pytest.mark.parametrize(("text", "topic"), [
    ("he had a few seizures as a baby, can OT help his handwriting?", "handwriting"),
    ("my son had a seizure years ago, can OT help with his balance?", "gross-motor"),
    ("is OT good for kids who had a brain injury last year", "brain-injury"),
])
def test_calm_mention_is_not_urgent(matcher: Matcher, text: str, topic: str) -> None:
    """A past or general mention of an emergency word gets the FAQ answer."""
    decision = matcher.decide(text)
    assert decision.kind != "urgent"
    assert topic in topics(decision)


@pytest.mark.parametrize("text", [
    "what should I do if my child chokes on food?",
    "choking hazard toys for a 2 year old with fine motor problems",
    "my daughter is hard to wake in the mornings for school",
    "my son keeps falling asleep in class, could it be attention problems?",
])
def test_general_question_is_not_urgent(matcher: Matcher, text: str) -> None:
    """A calm question about a risk is not an emergency."""
    assert matcher.decide(text).kind != "urgent"


@pytest.mark.parametrize(("text", "urgent"), [
    # Both raised the alarm before negations were read.
    ("my son was not choking, it was a cough", False),
    ("she has not swallowed any magnets, I counted them", False),
    ("my baby is not breathing", True),
    ("he's not responding to me", True),
    ("she has not woken up since she hit her head", True),
])
def test_a_negation_denies_only_what_follows_it(matcher: Matcher, text: str, urgent: bool) -> None:
    """"Is not choking" is no emergency; "not breathing" and "has not woken up" are."""
    assert (matcher.decide(text).kind == "urgent") is urgent


@pytest.mark.parametrize("text", ["up", "why", "how"])
def test_one_common_word_gets_no_topic(matcher: Matcher, text: str) -> None:
    """"up" alone is no question about letter reversals: no answer and no choices."""
    decision = matcher.decide(text)
    assert (decision.kind, decision.light) == ("fallback", True)


def test_no_knowledge_base_wording_is_urgent(shipped_kb: KnowledgeBase, matcher: Matcher) -> None:
    """No question, alternate or keyword of the shipped knowledge base triggers the alarm."""
    alarms = [(e.id, text, [k.id for k in found.emergencies])
              for e in shipped_kb.entries.values() for text in (*e.sentences(), *e.keywords)
              if (found := matcher.urgent.detect(text))]
    assert alarms == []


def test_no_knowledge_base_wording_is_small_talk(shipped_kb: KnowledgeBase,
                                                 matcher: Matcher) -> None:
    """No question, alternate or keyword of the shipped knowledge base is taken for chit-chat
    (a small-talk kind that answers with that very entry aside)."""
    chat = [(e.id, text, kind.id) for e in shipped_kb.entries.values()
            for text in (*e.sentences(), *e.keywords)
            if (kind := matcher.smalltalk.detect(text)) is not None and kind.answer != e.id]
    assert chat == []


@pytest.mark.parametrize("text", [
    "what about my kid",
    "school?",
    "plate",
    "😡",
    "👍 what is OT?",
    "what is this bot",
])
def test_one_word_topic_is_not_small_talk(matcher: Matcher, text: str) -> None:
    """A terse topic word is a question, not a greeting or goodbye."""
    assert matcher.decide(text).kind != "smalltalk"


# --- determinism and candidates ----------------------------------------------------------------


MESSAGES = [
    "does insurance cover OT",
    "my child has some problems",
    "My son struggles at school",
    "how do I do my taxes",
    "my son is choking",
    "thanks!",
]


@pytest.fixture(scope="module")
def second_matcher(shipped_kb: KnowledgeBase) -> Matcher:
    """Another matcher over the same knowledge base, built separately."""
    return Matcher(shipped_kb)


@pytest.mark.parametrize("text", MESSAGES)
def test_same_message_same_decision(matcher: Matcher, second_matcher: Matcher,
                                    text: str) -> None:
    """Twice, and on a second matcher, the decision is identical."""
    first = matcher.decide(text)
    assert matcher.decide(text) == first
    assert second_matcher.decide(text) == first


def test_messages_cover_every_kind(matcher: Matcher) -> None:
    """The two tests around this one see all five kinds of decision."""
    assert {matcher.decide(text).kind for text in MESSAGES} == KINDS


@pytest.mark.parametrize("text", MESSAGES)
def test_candidates_three_best_first_or_none(matcher: Matcher, text: str) -> None:
    """Three distinct candidates best first for FAQ decisions; none for urgent or small talk."""
    decision = matcher.decide(text)
    if decision.kind in ("urgent", "smalltalk"):
        assert decision.candidates == ()
        assert decision.topic is None
        return
    assert len(decision.candidates) == 3
    assert len(set(topics(decision))) == 3
    scores = [c.score for c in decision.candidates]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)


# --- bad input ---------------------------------------------------------------------------------


BAD_INPUTS = {
    "empty": "",
    "spaces": "   ",
    "newline-tab": "\n\t",
    "20000-a": "a" * 20000,
    "long-sentence": "My son has trouble holding a pencil and his handwriting is messy. " * 300,
    "emoji": "\U0001f600\U0001f62d\U0001f64f\u2764\ufe0f",
    "chinese": "\u6211\u7684\u5b69\u5b50\u9700\u8981\u804c\u4e1a\u6cbb\u7597\u5417",
    "arabic": "\u0647\u0644 \u064a\u062d\u062a\u0627\u062c \u0637\u0641\u0644\u064a "
              "\u0625\u0644\u0649 \u0639\u0644\u0627\u062c",
    "cyrillic": "\u041c\u043e\u0435\u043c\u0443 \u0441\u044b\u043d\u0443 \u043d\u0443\u0436"
                "\u043d\u0430 \u0442\u0435\u0440\u0430\u043f\u0438\u044f?",
    "hebrew": "\u05d4\u05d0\u05dd \u05d4\u05d9\u05dc\u05d3 \u05e9\u05dc\u05d9 \u05e6\u05e8\u05d9"
              "\u05da \u05e8\u05d9\u05e4\u05d5\u05d9",
    "control-zero-width": "\x00\x01\x07\x1b[31m\u200b\u200d\u2060\ufeff\u202e",
    "html": "<b>hi</b> &amp; <script>",
    "markdown": "*_`[]()~>#+-=|{}.!",
    "slash-start": "/start",
    "numbers": "12345 3.14 42",
    "math-letters": "\U0001d54f\U0001d560\U0001d566",
}


@pytest.mark.parametrize("text", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_gets_a_decision(matcher: Matcher, text: str) -> None:
    """Any text gets one of the five decisions, never an exception."""
    decision = matcher.decide(text)
    assert decision.kind in KINDS
    if decision.kind == "answer":
        assert decision.topic in matcher.kb.entries


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "\U0001f600\U0001f62d", "*_`[]()~>#+-=|{}.!",
                                  "12345", BAD_INPUTS["chinese"], BAD_INPUTS["hebrew"]])
def test_message_without_english_words_is_not_answered(matcher: Matcher, text: str) -> None:
    """Nothing to go on: no answer is guessed."""
    assert matcher.decide(text).kind == "fallback"


def test_long_message_is_still_understood(matcher: Matcher) -> None:
    """A long message is cut, not refused: its topic still comes through."""
    decision = matcher.decide(BAD_INPUTS["long-sentence"])
    assert decision.kind in ("answer", "clarify")
    assert "handwriting" in topics(decision)


@settings(max_examples=150, deadline=None)
@given(text=st.text())
def test_any_text_gets_a_decision(matcher: Matcher, text: str) -> None:
    """Whatever arrives, the matcher returns a Decision of a known kind."""
    decision = matcher.decide(text)
    assert isinstance(decision, Decision)
    assert decision.kind in KINDS


# --- typos -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "topic"), [
    ("hand writting is realy mesy", "handwriting"),
    ("does insurence cover ocupashional therapy", "insurance"),
    ("my dauhgter has sensery problms", "sensory-processing"),
    ("scisors and buttns are hard for my son", "fine-motor"),
    ("my son has autsim, can ocupashional therapy help", "autism"),
    ("how ofen are the sesions", "session-frequency"),
    ("he is so clumsey and uncordinated", "clumsiness"),
    ("what hapens at the frist evaluation", "assessment"),
])
def test_two_typos_still_reach_the_topic(matcher: Matcher, text: str, topic: str) -> None:
    """Messages with two or more typos still find the right topic among the candidates."""
    decision = matcher.decide(text)
    assert decision.kind in ("answer", "clarify")
    assert topic in topics(decision)
    if decision.kind == "answer":
        assert decision.topic == topic


def test_ocupational_therapist_typo(matcher: Matcher) -> None:
    """A common misspelling of 'occupational' finds the same topic as the right spelling."""
    right = matcher.decide("what does an occupational therapist do")
    typo = matcher.decide("what does an ocupational therapist do")
    assert (typo.kind, typo.topic) == (right.kind, right.topic)
