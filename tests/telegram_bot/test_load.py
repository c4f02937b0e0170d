"""500 parents at once, 5 messages each: every message answered once, each chat in order."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from botharness import JSON, running_bot
from fakebotapi import FakeBotApi

from otbot.kb import KnowledgeBase
from otbot.telegram_bot.ratelimit import BURST

PARENTS = 500
FIRST_CHAT = 700_000
BUDGET = 150.0  # seconds for the whole load, far above what it takes


def has(text: str) -> Callable[[JSON], bool]:
    """A check that a reply's visible text contains text."""
    return lambda message: text in message["text"]


def shares(question: str) -> Callable[[JSON], bool]:
    """A check that a reply is the FAQ answer whose share button carries question."""
    def check(message: JSON) -> bool:
        """Whether the message is that answer."""
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        return any(button.get("switch_inline_query") == question for row in rows for button in row)
    return check


Plan = list[tuple[str, Callable[[JSON], bool]]]


def kinds(kb: KnowledgeBase) -> Plan:
    """Five kinds of message (commands, questions, small talk), each with its own reply."""
    return [
        ("/help", has("How to use me")),
        ("what is OT", shares(kb.entries["what-is-ot"].question)),
        ("hello", has("Hello! I answer questions")),
        ("Does insurance cover occupational therapy?", shares(kb.entries["insurance"].question)),
        ("/privacy", has("What I keep, and for how long")),
    ]


def plan(messages: Plan, parent: int) -> Plan:
    """A parent's five messages: the same five, each parent starting at another one."""
    start = parent % len(messages)
    return messages[start:] + messages[:start]


async def test_500_parents_5_messages_each_all_answered_once_in_order(
        fake_api: FakeBotApi, tmp_path: Path, shipped_kb: KnowledgeBase) -> None:
    """2,500 messages at once; each gets exactly its reply, in the order it was sent."""
    messages = kinds(shipped_kb)
    assert len(messages) < BURST  # the per-parent rate limit must not come into play
    chats = [FIRST_CHAT + n for n in range(PARENTS)]
    plans = {chat: plan(messages, n) for n, chat in enumerate(chats)}
    began = time.monotonic()
    async with running_bot(fake_api, tmp_path, send_rate=0):  # measures us, not the pacing
        for index in range(len(messages)):  # interleaved, as if all typed at the same time
            for chat in chats:
                fake_api.send_text(chat, plans[chat][index][0])
        async with asyncio.timeout(BUDGET):
            for chat in chats:  # one waiter at a time; the others keep arriving meanwhile
                await fake_api.wait_for_replies(chat, len(messages), timeout=BUDGET)
    # The Application has stopped: every update it took was handled to the end.
    elapsed = time.monotonic() - began
    with sqlite3.connect(tmp_path / "otbot.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM outbox").fetchone() == (0,)
    problems = []
    for chat in chats:
        shown = fake_api.chat(chat)
        if len(shown) != len(messages):
            problems.append(f"chat {chat}: {len(shown)} replies: {[m['text'][:40] for m in shown]}")
            continue
        for (text, expected), message in zip(plans[chat], shown, strict=True):
            if not expected(message):
                problems.append(f"chat {chat}: {text!r} got {message['text'][:60]!r}")
    assert problems == [], "\n".join(problems[:20])
    notices = [c for c in fake_api.calls if "faster than I can read" in str(c.params.get("text"))]
    assert notices == []
    assert fake_api.rejected == [], fake_api.dump_calls()
    assert fake_api.pending_updates() == []
    print(f"{PARENTS * len(messages)} messages answered in {elapsed:.1f} s")
