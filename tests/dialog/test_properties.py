"""Properties over any input: decisions, replies Telegram accepts, round-trips of stored data."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otbot.dialog.callbacks import MAX_BYTES, SEPARATOR, Callback, decode, encode
from otbot.dialog.conversation import COMMANDS, Conversation, Event, EventKind
from otbot.dialog.replies import Button, Document, Reply, Target, dump, load
from otbot.kb import KnowledgeBase
from otbot.kb.markup import (
    MAX_CALLBACK_ANSWER,
    MAX_MESSAGE,
    html_problems,
    split_message,
    utf16_length,
    visible_text,
)

KINDS = {"answer", "clarify", "fallback", "urgent", "smalltalk"}
START = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)
SETTINGS = settings(deadline=None, max_examples=150,
                    suppress_health_check=[HealthCheck.too_slow])

# Text as parents type it, and text as an attacker would: any code point but surrogates.
words = st.sampled_from(["what", "is", "OT", "my", "son", "daughter", "insurance", "school",
                         "choking", "hello", "thanks", "sensory", "handwriting", "autism",
                         "<b>", "&", "</i>", "*", "_", "🙂", "\u200b", "\n", "  "])
phrases = st.lists(words, max_size=30).map(" ".join)
texts = st.one_of(st.text(max_size=400), phrases,
                  st.text(alphabet=st.characters(codec="utf-8"), max_size=200))


@pytest.fixture(scope="module")
def conversation(shipped_kb: KnowledgeBase) -> Conversation:
    """The conversation over the shipped knowledge base, shared by every example."""
    return Conversation(shipped_kb)


def button_data(conversation: Conversation) -> st.SearchStrategy[str]:
    """Button data: garbage, well-formed with odd arguments, and every real button."""
    kb = conversation.kb
    parts = st.text(alphabet=st.characters(exclude_characters=SEPARATOR), max_size=12)
    real = [encode("a", topic) for topic in kb.entries] + [
        encode("m", name) for name in ("topics", "ask", "privacy", "start")] + [
        encode("t", theme.id) for theme in kb.themes] + [
        encode("fg", "y"), encode("fg", "n"), encode("n"), encode("scr")]
    forged = st.builds(lambda action, args: SEPARATOR.join(["1", action, *args]),
                       st.sampled_from(["a", "v", "n", "m", "t", "scr", "s", "fg", "zz"]),
                       st.lists(parts, max_size=6))
    return st.one_of(st.text(max_size=80), st.sampled_from(real), forged)


def events(conversation: Conversation) -> st.SearchStrategy[Event]:
    """Any event a parent can cause: text, a command with any arguments, a button, a sticker."""
    commands = st.sampled_from([*COMMANDS, "reload", "stats", "x", "start"])
    return st.one_of(
        texts.map(lambda text: Event(EventKind.TEXT, text=text)),
        st.builds(lambda name, args: Event(EventKind.COMMAND, text=args, command=name), commands,
                  st.one_of(texts, st.sampled_from(["screen", "topic-insurance", "topic-",
                                                    "topic-" + "x" * 300, "../../etc"]))),
        button_data(conversation).map(lambda data: Event(EventKind.BUTTON, text=data)),
        st.just(Event(EventKind.OTHER)),
    )


def check_reply(reply: Reply) -> None:
    """What Telegram would accept and what a parent can use."""
    if reply.document is not None:
        assert reply.document.content and reply.document.filename
        assert html_problems(reply.text) == [], reply.text
    else:
        chunks = split_message(reply.text)
        assert chunks, reply
        for chunk in chunks:
            assert html_problems(chunk) == [], (chunk[:200], html_problems(chunk))
            assert utf16_length(visible_text(chunk)) <= MAX_MESSAGE
    assert utf16_length(reply.notice) <= MAX_CALLBACK_ANSWER
    assert sum(len(row) for row in reply.buttons) <= 100
    for row in reply.buttons:
        assert 1 <= len(row) <= 8
        for button in row:
            assert button.label.strip(), reply.buttons
            if button.share is None:
                assert 1 <= len(button.data.encode()) <= MAX_BYTES, button
                assert decode(button.data) is not None, button  # our own buttons are understood
            else:
                assert isinstance(button.share, str) and not button.data


@SETTINGS
@given(text=texts)
def test_any_text_gets_one_of_the_five_decisions(conversation: Conversation, text: str) -> None:
    """The matcher always decides, and what it names exists."""
    decision = conversation.matcher.decide(text)
    kb = conversation.kb
    assert decision.kind in KINDS
    if decision.kind == "answer":
        assert decision.topic in kb.entries
    if decision.kind == "clarify":
        assert decision.options and set(decision.options) <= set(kb.entries)
    if decision.kind == "urgent":
        assert decision.urgent and set(decision.urgent) <= {kind.id for kind in kb.urgent.kinds}
    if decision.kind == "smalltalk":
        assert decision.detail in {kind.id for kind in kb.smalltalk.kinds}


@SETTINGS
@given(data=st.data())
def test_any_sequence_of_events_gets_valid_replies(conversation: Conversation,
                                                   data: st.DataObject) -> None:
    """Replies to anything, in any order, over days: valid HTML, within limits, state is JSON."""
    state: dict[str, Any] = {}
    now = START
    for event in data.draw(st.lists(events(conversation), min_size=1, max_size=8)):
        now += dt.timedelta(hours=data.draw(st.sampled_from([0, 0, 1, 24 * 40])))
        turn, state = conversation.handle(Event(event.kind, event.text, event.command, now),
                                          state)
        assert turn.replies
        for reply in turn.replies:
            check_reply(reply)
        state = json.loads(json.dumps(state))  # what the store keeps and gives back


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_pressing_any_offered_button_gets_valid_replies(conversation: Conversation,
                                                        data: st.DataObject) -> None:
    """A parent wanders through menus, topics and the checklist pressing what is shown."""
    start = data.draw(st.sampled_from(["start", "topics", "screen", "help", "forget"]))
    turn, state = conversation.handle(Event(EventKind.COMMAND, command=start, now=START), {})
    shown = [button.data for reply in turn.replies for row in reply.buttons for button in row
             if button.share is None]
    for _ in range(data.draw(st.integers(1, 25))):
        if not shown:
            break
        pressed = data.draw(st.sampled_from(shown))
        turn, state = conversation.handle(Event(EventKind.BUTTON, text=pressed, now=START), state)
        assert turn.replies
        for reply in turn.replies:
            check_reply(reply)
        state = json.loads(json.dumps(state))
        offered = [button.data for reply in turn.replies for row in reply.buttons
                   for button in row if button.share is None]
        shown = offered or shown


arg = st.text(alphabet=st.characters(exclude_characters=SEPARATOR), max_size=20)


@SETTINGS
@given(action=arg.filter(bool), args=st.lists(arg, max_size=5))
def test_callback_data_round_trips_or_is_refused(action: str, args: list[str]) -> None:
    """encode gives data decode reads back, or refuses what Telegram would not carry."""
    try:
        data = encode(action, *args)
    except ValueError:
        raw = SEPARATOR.join(["1", action, *args])
        surrogate = any(0xD800 <= ord(char) <= 0xDFFF for char in raw)  # not sendable text
        assert surrogate or len(raw.encode()) > MAX_BYTES
        return
    assert 1 <= len(data.encode()) <= MAX_BYTES
    assert decode(data) == Callback(action, tuple(args))


@SETTINGS
@given(data=st.one_of(st.none(), st.text(max_size=120)))
def test_decode_never_raises(data: str | None) -> None:
    """Any data from any client decodes to a press or to None."""
    press = decode(data)
    assert press is None or (isinstance(press, Callback) and press.action)


labels = st.text(max_size=90).filter(lambda label: label.strip())
buttons = st.one_of(
    st.builds(Button, labels, st.text(min_size=1, max_size=64)),
    st.builds(lambda label, share: Button(label, share=share), labels, st.text(max_size=50)),
)
replies = st.builds(
    Reply,
    text=st.text(max_size=300),
    buttons=st.lists(st.lists(buttons, min_size=1, max_size=3).map(tuple),
                     max_size=4).map(tuple),
    edit=st.booleans(),
    document=st.one_of(st.none(), st.builds(Document, st.text(min_size=1, max_size=30),
                                            st.binary(max_size=200))),
    notice=st.text(max_size=200),
)


@SETTINGS
@given(reply=replies, message_id=st.one_of(st.none(), st.integers(1, 2**31)))
def test_outbox_payload_round_trips(reply: Reply, message_id: int | None) -> None:
    """What the outbox keeps across a crash is the very reply, and the message it edits."""
    target = Target(7, None, message_id)
    assert load(dump(reply, target)) == (reply, target)
