"""Faults from Telegram's side: flood waits, 5xx, timeouts, dropped connections, blocked chats.

One bot serves every case of the module (with short PTB timeouts, so a stalled request times
out quickly); each case has its own chat and injects its own fault into the next call.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from botharness import JSON, data_of, running_bot
from fakebotapi import TOKEN, Call, FakeBotApi
from telegram.error import RetryAfter
from telegram.ext import Application

from otbot.config import Config
from otbot.dialog.conversation import Conversation, Event, EventKind
from otbot.kb import KnowledgeBase
from otbot.store import SqliteStore
from otbot.telegram_bot.app import Runtime, Source
from otbot.telegram_bot.send import NETWORK_ATTEMPTS, deliver

pytestmark = pytest.mark.asyncio(loop_scope="module")

READ_TIMEOUT = 1.5  # PTB gives up on a stalled request after this long (plus the poll's own)
STALL = 5.0  # seconds the fake holds a stalled request: always longer than PTB waits
WAIT = 10.0  # seconds for a reply after a fault: retry delays are 1.5 s at most here
_chats = itertools.count(61_000)


def bot_with_timeouts(api: FakeBotApi, data_dir: Path, **overrides: Any
                      ) -> AbstractAsyncContextManager[Application]:
    """otbot polling the fake server, with timeouts short enough to exercise stalls."""
    return running_bot(api, data_dir, timeout=READ_TIMEOUT, **overrides)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api() -> AsyncIterator[FakeBotApi]:
    """One fake Telegram for the module."""
    async with FakeBotApi(token=TOKEN) as fake:
        yield fake


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bot(api: FakeBotApi, tmp_path_factory: pytest.TempPathFactory
              ) -> AsyncIterator[Application]:
    """One bot for the module."""
    async with bot_with_timeouts(api, tmp_path_factory.mktemp("faults")) as app:
        yield app


@pytest.fixture
def chat(api: FakeBotApi, bot: Application, caplog: pytest.LogCaptureFixture
         ) -> Any:
    """A fresh parent's chat; afterwards nothing unexpected was rejected or logged as an error."""
    caplog.set_level(logging.INFO, logger="otbot")
    before = len(api.rejected)
    yield next(_chats)
    unexpected = [c for c in api.rejected[before:] if not injected(c)]
    assert unexpected == [], "\n".join(c.describe() for c in unexpected)
    assert api.unanswered_callbacks() == []
    errors = [r for r in caplog.records
              if r.name.startswith("otbot") and r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


def injected(call: Call) -> bool:
    """Whether a failed call is one the test injected (not one Telegram would reject)."""
    return call.status in (0, 429, 500, 502) or call.status == 403


FAULTS: dict[str, Callable[[FakeBotApi, str], None]] = {
    "429": lambda api, method: api.fail_next(method, status=429, retry_after=1),
    "500": lambda api, method: api.fail_next(method, status=500),
    "502": lambda api, method: api.fail_next(method, status=502),
    "timeout": lambda api, method: api.stall_next(method, STALL),
    "dropped": lambda api, method: api.drop_next(method),
}


def successful(api: FakeBotApi, method: str, chat: int) -> list[Call]:
    """Accepted calls of method for chat."""
    return [c for c in api.calls if c.method == method and c.ok and c.params.get("chat_id") == chat]


async def answered(api: FakeBotApi, query_id: str) -> Call:
    """Wait for the accepted answer to a button press."""
    return await api.wait_for_call(
        "answerCallbackQuery",
        lambda c: c.ok and c.params.get("callback_query_id") == query_id, timeout=WAIT)


@pytest.mark.parametrize("fault", FAULTS)
async def test_send_message_fault_is_retried_and_delivered_once(
        api: FakeBotApi, chat: int, fault: str) -> None:
    """The reply goes out exactly once after the fault."""
    FAULTS[fault](api, "sendMessage")
    api.send_text(chat, "what is OT")
    [reply] = await api.wait_for_replies(chat, timeout=WAIT)
    assert "Occupational therapy" in reply["text"]
    assert [m["message_id"] for m in api.chat(chat)] == [reply["message_id"]]
    assert len(successful(api, "sendMessage", chat)) == 1
    failed = [c for c in api.rejected if c.method == "sendMessage" and c.params["chat_id"] == chat]
    assert len(failed) == 1  # the injected fault happened, to this very reply


@pytest.mark.parametrize("fault", FAULTS)
async def test_edit_fault_is_retried_and_the_message_edited_once(
        api: FakeBotApi, chat: int, fault: str) -> None:
    """A navigation edit survives the fault: edited in place, no second message."""
    api.send_text(chat, "/topics")
    [themes] = await api.wait_for_replies(chat, timeout=WAIT)
    FAULTS[fault](api, "editMessageText")
    query = api.press_button(chat, themes["message_id"], data_of(themes, "School or private"))
    [theme] = await api.wait_for_replies(chat, timeout=WAIT)
    await answered(api, query)
    assert theme["message_id"] == themes["message_id"]
    assert [m["message_id"] for m in api.chat(chat)] == [themes["message_id"]]
    assert "Pick a question" in api.chat(chat)[0]["text"]
    assert len(successful(api, "editMessageText", chat)) == 1
    assert len(successful(api, "sendMessage", chat)) == 1  # only the /topics reply


@pytest.mark.parametrize("fault", FAULTS)
async def test_callback_answer_fault_is_retried_and_the_press_answered(
        api: FakeBotApi, chat: int, fault: str) -> None:
    """The spinner stops: the press is answered once, after the fault."""
    api.send_text(chat, "Is OT covered by insurance?")
    [answer] = await api.wait_for_replies(chat, timeout=WAIT)
    FAULTS[fault](api, "answerCallbackQuery")
    query = api.press_button(chat, answer["message_id"], data_of(answer, "Helpful"))
    [voted] = await api.wait_for_replies(chat, timeout=WAIT)
    answer_call = await answered(api, query)
    assert answer_call.params.get("text") == "Thank you for telling us."
    assert api.callback_answers[query]["text"] == "Thank you for telling us."
    assert "Was this helpful?" not in voted["text"]
    attempts = [c for c in api.calls if c.method == "answerCallbackQuery"
                and c.params.get("callback_query_id") == query]
    assert [c.ok for c in attempts] == [False, True]


@pytest.mark.parametrize("fault", FAULTS)
async def test_polling_recovers_by_itself_after_a_get_updates_fault(
        api: FakeBotApi, chat: int, fault: str) -> None:
    """After a failed poll the bot polls again and answers what came meanwhile."""
    FAULTS[fault](api, "getUpdates")
    api.send_text(chat, "hello")  # ends the pending poll: the next one meets the fault
    [hello] = await api.wait_for_replies(chat, timeout=WAIT)
    await api.wait_for_call("getUpdates", lambda c: not c.ok, timeout=WAIT)
    api.send_text(chat, "what is OT")
    [answer] = await api.wait_for_replies(chat, timeout=WAIT)
    assert hello["text"].startswith("Hello") and "Occupational therapy" in answer["text"]
    assert len(api.chat(chat)) == 2


async def test_polling_recovers_after_an_outage_of_several_polls(
        api: FakeBotApi, chat: int) -> None:
    """Failed polls in a row (502, then a dropped connection), then service again."""
    api.fail_next("getUpdates", status=502)
    api.drop_next("getUpdates")
    api.send_text(chat, "hello")  # ends the pending poll: the next two fail
    await api.wait_for_replies(chat, timeout=WAIT)
    await api.wait_for_call("getUpdates", lambda c: c.status == 502, timeout=WAIT)
    api.send_text(chat, "what is OT")  # arrives during the outage
    [reply] = await api.wait_for_replies(chat, timeout=WAIT)
    assert "Occupational therapy" in reply["text"]
    await api.wait_for_call("getUpdates", lambda c: c.error == "connection dropped", timeout=0.1)


async def test_a_blocked_chat_is_logged_and_dropped_and_others_are_unaffected(
        api: FakeBotApi, chat: int, caplog: pytest.LogCaptureFixture) -> None:
    """403: one attempt, an INFO line, nothing left to retry; the next parent is answered."""
    other = next(_chats)
    api.blocked_chats.add(chat)
    try:
        api.send_text(chat, "what is OT")
        api.send_text(other, "what is OT")
        [reply] = await api.wait_for_replies(other, timeout=WAIT)
        await api.wait_for_call("sendMessage", lambda c: c.params.get("chat_id") == chat
                                and c.status == 403, timeout=WAIT)
        api.send_text(chat, "hello")  # still blocked: dropped again, never queued
        api.send_text(other, "hello")
        [hello] = await api.wait_for_replies(other, timeout=WAIT)
        await api.wait_for_call("sendMessage", lambda c: c.params.get("chat_id") == chat
                                and c.status == 403, timeout=WAIT)
    finally:
        api.blocked_chats.discard(chat)
    assert "Occupational therapy" in reply["text"] and hello["text"].startswith("Hello")
    attempts = [c for c in api.calls if c.method == "sendMessage"
                and c.params.get("chat_id") == chat]
    assert [c.status for c in attempts] == [403, 403]  # never retried
    assert api.chat(chat) == []
    blocked = [r for r in caplog.records if r.name == "otbot" and "blocked" in r.getMessage()]
    assert len(blocked) == 2 and all(r.levelno == logging.INFO for r in blocked)
    # Unblocking later does not bring back stale replies: they were dropped, not queued.
    api.send_text(chat, "hello")
    [later] = await api.wait_for_replies(chat, timeout=WAIT)
    assert later["text"].startswith("Hello") and len(api.chat(chat)) == 1


class FloodedBot:
    """A bot whose sendMessage gets a flood wait the first `floods` times."""

    def __init__(self, floods: int) -> None:
        """No message sent yet."""
        self.floods = floods
        self.sent: list[str] = []

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> JSON:
        """Fail with RetryAfter while floods remain, then deliver."""
        if self.floods:
            self.floods -= 1
            raise RetryAfter(dt.timedelta(0))
        self.sent.append(text)
        return {"chat_id": chat_id, "text": text}


async def test_a_long_flood_wait_never_loses_the_reply(
        shipped_kb: KnowledgeBase, tmp_path: Path) -> None:
    """Telegram asks to wait again and again: the reply is sent later, or kept, never dropped."""
    store = SqliteStore(tmp_path / "otbot.sqlite3")
    runtime = Runtime(Config(token=TOKEN, data_dir=tmp_path), Conversation(shipped_kb), store)
    bot = FloodedBot(floods=NETWORK_ATTEMPTS + 5)
    with contextlib.suppress(RetryAfter):  # giving up loudly is fine if the reply is kept
        await runtime.process(bot, Source(chat_id=7, user_id=7, update_id=1),
                              Event(EventKind.TEXT, text="what is OT"))
    kept = store.pending(7)
    store.close()
    assert bot.sent or kept, "the reply was neither sent nor kept for later"


async def test_deliver_honours_flood_waits_of_a_few_seconds() -> None:
    """A couple of flood waits in a row still end in the message being sent."""
    bot = FloodedBot(floods=2)
    result = await deliver(lambda: bot.send_message(1, "hi"))
    assert result == {"chat_id": 1, "text": "hi"} and bot.sent == ["hi"]
