"""Odd, hostile and unexpected updates through the real Application: no crash, no rejected
request, and either a sensible reply or a deliberate silence.

One bot serves the module; every case has its own chat. Silence is proven, not waited for:
after the update under test the same chat sends a command the bot always answers, and per
chat the bot handles updates in order, so the next reply must be that command's.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import pytest_asyncio
from botharness import JSON, running_bot
from fakebotapi import TOKEN, FakeBotApi
from telegram.ext import Application

from otbot.dialog.callbacks import encode

pytestmark = pytest.mark.asyncio(loop_scope="module")

BOT_ID = int(TOKEN.split(":")[0])
_chats = itertools.count(71_000)
_groups = itertools.count(-1_000_071_000, -1)

FALLBACK = "don't have a good answer"
CLARIFY = "not sure which"
NOT_TEXT = "only read text"
OUT_OF_DATE = "out of date"
WELCOME = "I answer parents' questions"
HELP = "How to use me"
PRIVACY = "What I keep, and for how long"  # the witness: no case under test gets this reply
UNKNOWN = "don't know that command"


def is_answer(message: JSON) -> bool:
    """An FAQ answer: it always carries a share button."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return any("switch_inline_query" in button for row in rows for button in row)


def sensible(message: JSON) -> bool:
    """An answer, a choice of topics, or an honest "no answer": what any question may get."""
    return is_answer(message) or FALLBACK in message["text"] or CLARIFY in message["text"]


def says(*marks: str) -> Callable[[JSON], bool]:
    """A check that a reply contains every mark."""
    return lambda message: all(mark in message["text"] for mark in marks)


@dataclass(frozen=True)
class Case:
    """One kind of update: how to send it, and what the bot should do about it."""

    send: Callable[[FakeBotApi, int], Awaitable[None] | None]
    expect: Callable[[JSON], bool] | None  # None: deliberate silence
    chat_type: str = "private"


def private(chat: int) -> JSON:
    """The Chat object of a parent's private chat."""
    return {"id": chat, "type": "private", "first_name": f"Parent{chat}"}


def raw_message(api: FakeBotApi, chat: int, **content: object) -> None:
    """A private message with any content, as Telegram would send it."""
    api.push_update({"message": {"chat": private(chat), "from": api.user(chat), **content}})


def text(value: str, **fields: object) -> Callable[[FakeBotApi, int], None]:
    """A parent types value."""
    return lambda api, chat: api.send_text(chat, value, **fields) and None


def content(**fields: object) -> Callable[[FakeBotApi, int], None]:
    """A parent sends a message of another kind."""
    return lambda api, chat: raw_message(api, chat, **fields)


async def bot_message(api: FakeBotApi, chat: int, command: str = "/start") -> JSON:
    """A message of the bot in the chat, with buttons, to press or reply to."""
    api.send_text(chat, command)
    [message] = await api.wait_for_replies(chat)
    return message


def press(data: str) -> Callable[[FakeBotApi, int], Awaitable[None]]:
    """A parent (or a crafted client) presses a button carrying data on a fresh bot message."""
    async def send(api: FakeBotApi, chat: int) -> None:
        """Get a bot message with buttons, then press."""
        message = await bot_message(api, chat)
        api.press_button(chat, message["message_id"], data, force=True)
    return send


async def reply_to_bot(api: FakeBotApi, chat: int) -> None:
    """A parent replies (swipe-reply) to a bot message."""
    message = await bot_message(api, chat)
    api.send_text(chat, "and for a 3 year old?", reply_to_message=message)


async def press_on_vanished_message(api: FakeBotApi, chat: int) -> None:
    """A press on a message Telegram no longer has: the query carries an InaccessibleMessage."""
    await bot_message(api, chat)
    query_id = "4382000000099999"
    query = {"id": query_id, "from": api.user(chat), "chat_instance": "42",
             "message": {"chat": private(chat), "message_id": 999_999, "date": 0},
             "data": encode("m", "topics")}
    api._callback_queries[query_id] = query  # the fake issues ids only for pressable buttons
    api.push_update({"callback_query": query})


def member(chat: int) -> int:
    """The group member who writes in a group chat (one per group: rate limits are per user)."""
    return -chat % 1_000_000 + 2_000_000


def group_text(value: str, chat_type: str = "group", **fields: object
               ) -> Callable[[FakeBotApi, int], None]:
    """Someone writes in a group the bot is in."""
    return lambda api, chat: api.send_text(chat, value, chat_type=chat_type,
                                           user_id=member(chat), **fields) and None


def channel_post(api: FakeBotApi, chat: int) -> None:
    """A post in a channel the bot administers."""
    api.push_update({"channel_post": {"chat": {"id": chat, "type": "channel", "title": "News"},
                                      "text": "what is OT"}})


def edited(api: FakeBotApi, chat: int) -> None:
    """A parent edits an earlier message."""
    api.push_update({"edited_message": {"chat": private(chat), "from": api.user(chat),
                                        "message_id": 1, "date": 1, "edit_date": 2,
                                        "text": "what is OT really"}})


def joined(api: FakeBotApi, chat: int) -> None:
    """The bot is added to a group: a service message without text."""
    api.push_update({"message": {
        "chat": {"id": chat, "type": "group", "title": "Parents"}, "from": api.user(member(chat)),
        "new_chat_members": [{"id": BOT_ID, "is_bot": True, "first_name": "OTBot Test",
                              "username": "otbot_test_bot"}]}})


def anonymous_admin(api: FakeBotApi, chat: int) -> None:
    """An anonymous group admin writes: the sender is the group itself."""
    api.push_update({"message": {
        "chat": {"id": chat, "type": "supergroup", "title": "Parents"},
        "from": {"id": 1087968824, "is_bot": True, "first_name": "Group",
                 "username": "GroupAnonymousBot"},
        "sender_chat": {"id": chat, "type": "supergroup", "title": "Parents"},
        "text": "what is OT"}})


STICKER = {"file_id": "s1", "file_unique_id": "u1", "width": 512, "height": 512,
           "is_animated": False, "is_video": False, "type": "regular"}
BIDI = "\u202e\u2066"
LONG_STORY = ("My daughter is four and gets very upset when her clothes feel scratchy; she "
              "refuses socks and cries at the hairdresser. Her teacher says she cannot sit "
              "still and struggles to hold a pencil. ")

CASES: dict[str, Case] = {
    # Size
    "text-5000": Case(text((LONG_STORY * 40)[:5000]), sensible),
    "text-50000": Case(text(("what is OT " * 5000)[:50_000]), sensible),
    "text-4096-one-word": Case(text("a" * 4096), says(FALLBACK)),
    # Blank and invisible
    "blank": Case(text(" "), says(FALLBACK)),
    "newlines-only": Case(text("\n\n\n"), says(FALLBACK)),
    "emoji-only": Case(text("😀🙏🏽👨‍👩‍👧"), says(FALLBACK)),
    "zero-width": Case(text("what\u200b is\u200d O\u200cT\ufeff?"), sensible),
    "control-chars": Case(text("\x00\x01\x07what is OT\x1b[31m\x7f"), sensible),
    "bidi-override": Case(text(f"{BIDI}what is OT"), sensible),
    "lone-combining-marks": Case(text("\u0301\u0308\u0333" * 50), says(FALLBACK)),
    # Scripts
    "arabic": Case(text("ما هو العلاج الوظيفي للأطفال؟"), says(FALLBACK)),
    "hebrew-mixed": Case(text("מה זה OT? does insurance cover occupational therapy"), sensible),
    "cjk": Case(text("职业治疗是什么\uff1f"), says(FALLBACK)),
    # Markup a parent might type, to be shown literally, never interpreted
    "html-b": Case(text("<b>"), says(FALLBACK)),
    "html-close-i": Case(text("</i> what is OT"), sensible),
    "ampersand": Case(text("OT & PT & speech &amp; &lt;"), sensible),
    "script-tag": Case(text("<script>alert(1)</script>"), says(FALLBACK)),
    "markdown": Case(text("*_`[]()~>#+-=|{}.!"), says(FALLBACK)),
    "sql-ish": Case(text("'; DROP TABLE chats; --"), sensible),
    # Commands that do not fit
    "start-path": Case(text("/start ../../etc"), says(WELCOME)),
    "start-long-topic": Case(text("/start topic-" + "x" * 300), says(WELCOME)),
    "screen-args": Case(text("/screen now please"), says("checklist")),
    "forget-args": Case(text("/forget me"), says("Delete it all?")),
    "topics-args": Case(text("/topics 123"), says("Pick a theme")),
    "unknown-command": Case(text("/frobnicate"), says(UNKNOWN)),
    "upper-case-command": Case(text("/HELP"), says(HELP)),
    "slash-alone": Case(text("/"), says(FALLBACK)),
    "command-for-this-bot": Case(text("/topics@otbot_test_bot"), says("Pick a theme")),
    "command-33-chars": Case(text("/" + "a" * 33), says(FALLBACK)),
    # Not text
    "sticker": Case(content(sticker=STICKER), says(NOT_TEXT)),
    "photo-caption": Case(content(photo=[{"file_id": "p1", "file_unique_id": "u2", "width": 9,
                                          "height": 9}], caption="<b>is this normal?</b>"),
                          says(NOT_TEXT)),
    "voice": Case(content(voice={"file_id": "v1", "file_unique_id": "u3", "duration": 3}),
                  says(NOT_TEXT)),
    "document": Case(content(document={"file_id": "d1", "file_unique_id": "u5",
                                       "file_name": "../../report.pdf"}), says(NOT_TEXT)),
    "location": Case(content(location={"latitude": 51.5, "longitude": -0.1}), says(NOT_TEXT)),
    "contact": Case(content(contact={"phone_number": "+100", "first_name": "Ann"}),
                    says(NOT_TEXT)),
    "poll": Case(content(poll={"id": "1", "question": "OT?", "options": [
        {"text": "yes", "voter_count": 0, "persistent_id": "0"},
        {"text": "no", "voter_count": 0, "persistent_id": "1"}],
        "total_voter_count": 0, "is_closed": False, "is_anonymous": True, "type": "regular",
        "allows_multiple_answers": False, "allows_revoting": False,
        "members_only": False}), says(NOT_TEXT)),
    "dice": Case(content(dice={"emoji": "🎲", "value": 3}), says(NOT_TEXT)),
    # Other shapes of message
    "edited-message": Case(edited, None),
    "forwarded": Case(text("what is OT", forward_origin={
        "type": "hidden_user", "sender_user_name": "Someone", "date": 1}), sensible),
    "reply-to-bot": Case(reply_to_bot, sensible),
    "via-bot": Case(text("Is OT covered by insurance?", via_bot={
        "id": BOT_ID, "is_bot": True, "first_name": "OTBot Test",
        "username": "otbot_test_bot"}), sensible),
    "no-language-no-username": Case(
        lambda api, chat: api.send_text(chat, "/start", language_code="") and None, says(WELCOME)),
    # Buttons
    "callback-garbage": Case(press("garbage"), says(OUT_OF_DATE)),
    "callback-too-long": Case(press("1:a:" + "x" * 200), says(OUT_OF_DATE)),
    "callback-other-version": Case(press("0:a:x"), says(OUT_OF_DATE)),
    "callback-unknown-topic": Case(press(encode("a", "no-such-topic")), says(OUT_OF_DATE)),
    "callback-screen-forged": Case(press(encode("s", "abcdef", "q.x", "a", "often")),
                                   says("no longer works")),
    "callback-empty-parts": Case(press("1:::::"), says(OUT_OF_DATE)),
    "callback-vanished-message": Case(press_on_vanished_message, says("Pick a theme")),
    # Groups and channels
    "group-chatter": Case(group_text("what is OT"), None, "group"),
    "group-command-other-bot": Case(group_text("/help@some_other_bot"), None, "group"),
    "group-mention": Case(group_text("@otbot_test_bot what is OT"), sensible, "group"),
    "group-mention-only": Case(group_text("@otbot_test_bot"), sensible, "group"),
    "supergroup-command": Case(group_text("/topics@otbot_test_bot", "supergroup"),
                               says("Pick a theme"), "supergroup"),
    "supergroup-topic-thread": Case(group_text(
        "/help@otbot_test_bot", "supergroup", message_thread_id=7, is_topic_message=True),
        says(HELP), "supergroup"),
    "group-service-message": Case(joined, None, "group"),
    "anonymous-admin": Case(anonymous_admin, None, "supergroup"),
    "channel-post": Case(channel_post, None, "channel"),
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api() -> AsyncIterator[FakeBotApi]:
    """One fake Telegram for the module; every press answered by the end."""
    async with FakeBotApi(token=TOKEN) as fake:
        yield fake
        assert fake.unanswered_callbacks() == []


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bot(api: FakeBotApi, tmp_path_factory: pytest.TempPathFactory
              ) -> AsyncIterator[Application]:
    """One bot for the module."""
    async with running_bot(api, tmp_path_factory.mktemp("hostile")) as app:
        yield app


async def replies_before_witness(api: FakeBotApi, chat: int, chat_type: str) -> list[JSON]:
    """Ask the chat's /privacy and return every reply that came before its answer."""
    command = "/privacy" if chat_type == "private" else f"/privacy@{api.username}"
    api.send_text(chat, command, chat_type=chat_type,
                  user_id=None if chat_type == "private" else member(chat))
    replies: list[JSON] = []
    while not replies or PRIVACY not in replies[-1]["text"]:
        replies += await api.wait_for_replies(chat)
    return replies[:-1]


def new_chat(chat_type: str) -> int:
    """A chat id of the right sign for its type."""
    return next(_chats) if chat_type == "private" else next(_groups)


@pytest.mark.parametrize("name", list(CASES))
async def test_hostile_update(api: FakeBotApi, bot: Application, name: str,
                              caplog: pytest.LogCaptureFixture) -> None:
    """No crash, nothing Telegram would reject, the reply or the silence that was meant."""
    case = CASES[name]
    chat = new_chat(case.chat_type)
    caplog.set_level(logging.WARNING)
    rejected_before = len(api.rejected)
    sent = case.send(api, chat)
    if sent is not None:
        await sent
    if case.chat_type == "channel":  # nothing can be asked there: a parent elsewhere asks
        witness = next(_chats)
        await replies_before_witness(api, witness, "private")
        replies = api.chat(chat)
    else:
        replies = await replies_before_witness(api, chat, case.chat_type)
    shown = [r["text"][:100] for r in replies]
    if case.expect is None:
        assert replies == [], shown
    else:
        assert len(replies) == 1 and case.expect(replies[0]), shown
    rejected = api.rejected[rejected_before:]
    assert rejected == [], "\n".join(c.describe() for c in rejected)
    problems = [f"{r.name} {r.levelname} {r.getMessage()}" for r in caplog.records
                if r.levelno >= logging.ERROR]
    assert problems == []
    assert api.unanswered_callbacks() == []


async def test_a_question_in_a_forum_topic_is_answered_in_that_topic(
        api: FakeBotApi, bot: Application) -> None:
    """The reply goes to the thread the question came from."""
    chat = new_chat("supergroup")
    api.send_text(chat, f"/help@{api.username}", chat_type="supergroup", user_id=member(chat),
                  message_thread_id=7, is_topic_message=True)
    await api.wait_for_replies(chat)
    call = await api.wait_for_call("sendMessage", lambda c: c.params.get("chat_id") == chat)
    assert call.params.get("message_thread_id") == 7


@pytest.mark.parametrize("query", ["", " ", "x" * 300, "what is OT", "<b>&amp;", "🙂" * 200],
                         ids=["empty", "blank", "huge", "question", "markup", "emoji"])
async def test_inline_queries_are_answered_within_telegram_limits(
        api: FakeBotApi, bot: Application, query: str) -> None:
    """Every inline query gets an answer Telegram accepts (possibly with no results)."""
    rejected_before = len(api.rejected)
    query_id = api.inline_query(next(_chats), query)
    await api.wait_for_call("answerInlineQuery",
                            lambda c: c.params.get("inline_query_id") == query_id)
    assert api.rejected[rejected_before:] == []
    results = api.inline_answers[query_id]["results"]
    assert len(results) <= 50
    if query.strip() in ("", "what is OT"):
        assert results  # something to browse, or the answer
    if query == "x" * 300:
        assert results == []
