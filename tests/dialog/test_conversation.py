"""The transport-free conversation: event + state in, replies + effects + new state out."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from otbot.dialog.callbacks import decode, encode
from otbot.dialog.conversation import Conversation, Event, EventKind, State, parse_command
from otbot.dialog.replies import Reply, Turn
from otbot.effects import NONE_OF_THESE, Answered, Decided, Forget, Miss, MissKind, Vote
from otbot.kb import KnowledgeBase, load_knowledge

NOW = dt.datetime(2026, 11, 27, 20, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def bot(shipped_kb: KnowledgeBase) -> Conversation:
    """One conversation over the shipped knowledge base."""
    return Conversation(shipped_kb)


def say(bot: Conversation, text: str, state: State | None = None) -> tuple[Turn, State]:
    """A parent types text (or a /command)."""
    command = parse_command(text)
    event = (Event(EventKind.COMMAND, text=command[2], command=command[0], now=NOW) if command
             else Event(EventKind.TEXT, text=text, now=NOW))
    return bot.handle(event, state or {})


def press(bot: Conversation, data: str, state: State) -> tuple[Turn, State]:
    """A parent presses a button."""
    return bot.handle(Event(EventKind.BUTTON, text=data, now=NOW), state)


def actions(reply: Reply) -> list[str]:
    """The decoded actions of a reply's buttons (share buttons as 'share')."""
    return [(decode(b.data).action if b.data else "share") for row in reply.buttons for b in row]


def test_parse_command() -> None:
    assert parse_command("/start topic-insurance") == ("start", "", "topic-insurance")
    assert parse_command("/Topics@otbot_bot") == ("topics", "otbot_bot", "")
    assert parse_command("what is /start") is None and parse_command("/") is None


def test_an_answer_has_related_topics_feedback_and_share(bot: Conversation) -> None:
    turn, state = say(bot, "does insurance pay for OT?")
    [reply] = turn.replies
    assert actions(reply) == ["a", "a", "a", "v", "v", "share"]
    assert turn.effects == [Decided("answer"), Answered("insurance")]
    # Only what a follow-up may lean on is kept: the topic and its runners-up, no text.
    assert set(state) == {"context"} and state["context"]["topic"] == "insurance"


def test_an_entry_that_offers_the_screen_gets_its_button(bot: Conversation) -> None:
    [reply] = say(bot, "what are the signs my child needs OT")[0].replies
    assert "scr" in actions(reply)


def test_clarify_keeps_the_question_one_turn_for_none_of_these(twins_folder: Path) -> None:
    bot = Conversation(load_knowledge(twins_folder))
    turn, state = say(bot, "what about apples?")
    assert actions(turn.replies[0]) == ["a", "a", "n", "m"] and state["asked"]
    offered = tuple(state["asked"]["options"])
    turn, state = press(bot, encode("n"), state)
    assert turn.effects == [Miss("what about apples", MissKind.CLARIFY, NONE_OF_THESE, offered)]
    assert "asked" not in state and turn.replies[0].edit


def test_fallback_is_recorded_as_a_miss_but_urgent_never(bot: Conversation) -> None:
    turn, _ = say(bot, "zebra crossing paint colours")
    assert turn.effects == [Decided("fallback"), Miss("zebra crossing paint colours")]
    assert actions(turn.replies[0]) == ["m", "m", "scr"]  # other words, topics, checklist
    assert "emergency number" in turn.replies[0].text  # the safety line
    turn, _ = say(bot, "he swallowed a button battery")
    assert turn.effects == [Decided("urgent")]
    assert len(turn.replies) == 1 and not turn.replies[0].buttons


def test_self_harm_adds_the_crisis_line(bot: Conversation) -> None:
    [reply] = say(bot, "my teenager says he wants to kill himself")[0].replies
    assert "988" in reply.text and "emergency number" in reply.text


def test_votes_count_and_remove_the_vote_buttons(bot: Conversation) -> None:
    turn, _ = press(bot, encode("v", "insurance", "y"), {})
    assert turn.effects == [Vote("insurance", helpful=True)]
    assert "v" not in actions(turn.replies[0]) and turn.replies[0].notice


@pytest.mark.parametrize("data", ["", "junk", "1", "1:", "2:a:insurance", encode("a", "gone"),
                                  encode("v", "insurance", "maybe"), encode("t", "nope"),
                                  encode("m", "nowhere"), encode("fg", "perhaps"), "1:s:zz",
                                  "é" * 40])
def test_any_unknown_button_gets_out_of_date_and_the_menu(bot: Conversation, data: str) -> None:
    turn, _ = press(bot, data, {"x": 1})
    [reply] = turn.replies
    assert "out of date" in reply.text or "no longer works" in reply.text
    assert turn.effects == []


def test_forget_needs_a_confirmation_then_clears_the_state(bot: Conversation) -> None:
    _, state = say(bot, "/screen")
    assert state
    turn, state = say(bot, "/forget", state)
    assert actions(turn.replies[0]) == ["fg", "fg"] and state
    turn, kept = press(bot, encode("fg", "n"), state)
    assert kept == state and turn.effects == []
    turn, state = press(bot, encode("fg", "y"), state)
    assert state == {} and turn.effects == [Forget()]


def test_deep_links(bot: Conversation) -> None:
    assert "insurance" in say(bot, "/start topic-insurance")[0].replies[0].text.lower()
    assert "checklist" in say(bot, "/start screen")[0].replies[0].text.lower()
    assert say(bot, "/start")[0].replies[0].text == say(bot, "/start whatever")[0].replies[0].text


def test_browsing_edits_in_place_and_every_theme_lists_its_topics(
        bot: Conversation, shipped_kb: KnowledgeBase) -> None:
    [themes] = say(bot, "/topics")[0].replies
    assert len(actions(themes)) == len(shipped_kb.themes)
    for theme in shipped_kb.themes:
        [listing] = press(bot, encode("t", theme.id), {})[0].replies
        assert listing.edit and actions(listing) == ["a"] * len(theme.entry_ids) + ["m"]


def test_text_during_the_screen_is_answered_then_the_screen_is_offered(bot: Conversation) -> None:
    turn, state = say(bot, "/screen")
    start = turn.replies[0].buttons[0][0].data
    _, state = press(bot, start, state)
    turn, state = say(bot, "what is OT?", state)
    assert len(turn.replies) == 2 and "Continue" in turn.replies[1].buttons[0][0].label
    turn, _ = say(bot, "she is choking", state)
    assert len(turn.replies) == 1  # nothing competes with the emergency reply
    turn, state = say(bot, "/cancel", state)
    assert "screen" not in state and turn.replies


def test_old_screens_expire_when_the_parent_comes_back(bot: Conversation) -> None:
    _, state = say(bot, "/screen")
    later = Event(EventKind.TEXT, text="hi", now=NOW + dt.timedelta(days=31))
    _, state = bot.handle(later, state)
    assert "screen" not in state


def test_non_text_and_unknown_commands(bot: Conversation) -> None:
    assert "only read text" in bot.handle(Event(EventKind.OTHER, now=NOW), {})[0].replies[0].text
    assert "don't know that command" in say(bot, "/frobnicate")[0].replies[0].text


def test_inline_entries(bot: Conversation) -> None:
    assert [e.id for e in bot.inline_entries("insurance cover OT", 5)] == ["insurance"]
    assert len(bot.inline_entries("", 5)) == 5
    assert bot.inline_entries("my son is choking", 5) == []


def test_tell_me_more_shows_more_then_moves_on(bot: Conversation) -> None:
    _, state = say(bot, "what is sensory processing?")
    entry = bot.kb.entries[state["context"]["topic"]]
    turn, state = say(bot, "tell me more", state)
    assert turn.replies[0].text.startswith(entry.more)
    assert Answered(entry.id) in turn.effects and state["context"]["topic"] == entry.id
    turn, state = say(bot, "go on", state)
    assert Answered(entry.related[0]) in turn.effects
    assert state["context"]["topic"] == entry.related[0]


def test_a_vote_under_more_keeps_the_more_text(bot: Conversation) -> None:
    _, state = say(bot, "my son walks on his toes all the time")
    turn, state = say(bot, "tell me more", state)
    entry = bot.kb.entries["toe-walking"]
    [yes, _] = turn.replies[0].buttons[-2]
    voted, _ = press(bot, yes.data, state)
    assert voted.replies[0].edit and voted.replies[0].text.startswith(entry.more)
    assert Vote("toe-walking", helpful=True) in voted.effects


@pytest.mark.parametrize(("first", "answered", "then", "topic"), [
    # a short question about OT in general is about the topic just answered
    ("my son walks on his toes all the time", "toe-walking", "what would OT do for him?",
     "toe-walking"),
    # one that asks about another facet in its own words gets that facet
    ("what is sensory processing disorder?", "sensory-processing-disorder",
     "how long does it take?", "therapy-progress"),
    # a new, self-contained question is not bent towards the last topic
    ("what is sensory processing?", "sensory-processing", "does insurance pay for OT?",
     "insurance"),
])
def test_a_second_message_read_after_an_answer(bot: Conversation, first: str, answered: str,
                                                then: str, topic: str) -> None:
    _, state = say(bot, first)
    assert state["context"]["topic"] == answered
    turn, _ = say(bot, then, state)
    assert Answered(topic) in turn.effects


def test_a_declined_follow_up_stays_declined(bot: Conversation) -> None:
    _, state = say(bot, "can OT help with ADHD?")
    turn, _ = say(bot, "what dose of ritalin is normal for that?", state)
    assert not any(isinstance(e, Answered) for e in turn.effects)


def test_an_ordinal_picks_an_offered_option(twins_folder: Path) -> None:
    bot = Conversation(load_knowledge(twins_folder))
    _, state = say(bot, "what about apples?")
    second = state["asked"]["options"][1]
    turn, _ = say(bot, "the second one", state)
    assert Answered(second) in turn.effects
    assert turn.effects[0].kind is MissKind.CLARIFY and turn.effects[0].topic == second


def test_context_expires(bot: Conversation) -> None:
    _, state = say(bot, "what is sensory processing?")
    later = NOW + dt.timedelta(hours=1)
    turn, state = bot.handle(Event(EventKind.TEXT, "tell me more", now=later), state)
    assert "context" not in state or state["context"]["at"] == later.isoformat()
    assert not any(isinstance(e, Answered) for e in turn.effects)


def test_not_helpful_offers_other_topics_and_other_words(bot: Conversation) -> None:
    _, state = say(bot, "does insurance pay for OT?")
    turn, _ = press(bot, encode("v", "insurance", "n"), state)
    thanked, offer = turn.replies
    assert thanked.edit and "a" in actions(offer) and "m" in actions(offer)
    assert Miss("", MissKind.UNHELPFUL, "insurance") in turn.effects


def test_typed_not_what_i_asked_after_an_answer_works_as_thumbs_down(bot: Conversation) -> None:
    """'That's not what I asked' right after an answer offers the next-best topics, and
    maintainers learn the answer missed; without an answer before it, it is small talk."""
    _, state = say(bot, "does insurance pay for OT?")
    turn, state = say(bot, "that's not what I asked", state)
    [offer] = turn.replies
    assert "a" in actions(offer) and "m" in actions(offer)
    assert turn.effects == [Miss("", MissKind.UNHELPFUL, "insurance")]
    assert state["context"]["topic"] == "insurance"  # a pick among the offer still leans on it
    turn, _ = say(bot, "that's not what I asked")
    assert turn.effects == [Decided("smalltalk")] and not turn.replies[0].buttons


def test_a_second_fallback_is_worded_differently(bot: Conversation) -> None:
    first, state = say(bot, "zebra crossing paint colours")
    second, _ = say(bot, "zebra crossing paint colours please", state)
    assert first.replies[0].text != second.replies[0].text


def test_another_language_gets_a_note_in_it(bot: Conversation) -> None:
    [reply] = say(bot, "¿el seguro médico cubre la terapia ocupacional de mi hijo?")[0].replies
    assert reply.text.startswith("Solo puedo responder en inglés")


def test_a_typed_answer_during_the_checklist_answers_its_question(bot: Conversation) -> None:
    state: State = {}
    turn, state = bot.handle(Event(EventKind.COMMAND, command="screen", now=NOW), state)
    # The intro and the age take buttons; press the first until a sign's question waits.
    while "Sometimes" not in [b.label for row in turn.replies[-1].buttons for b in row]:
        turn, state = press(bot, turn.replies[-1].buttons[0][0].data, state)
    turn, state = say(bot, "sometimes", state)
    assert turn.replies and not turn.effects  # taken as the answer, not as a question
    turn, _ = say(bot, "my son is not breathing", state)
    assert "emergency number" in turn.replies[0].text
