"""kill -9 of the real `otbot run` process: nothing a parent did is lost, nothing is said twice."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from botharness import JSON, data_of
from botprocess import BotProcess, bot_process
from fakebotapi import Call, FakeBotApi

from otbot.kb import KnowledgeBase
from otbot.telegram_bot.ratelimit import BURST
from otbot.understanding.matcher import Matcher

CHAT = 4242
QUESTIONS = 20
KILL_AFTER = 7  # replies seen before the kill; the burst leaves room for what follows


async def press(api: FakeBotApi, message: JSON, label: str) -> JSON:
    """Press a button and wait for the edit and for the press to be answered."""
    query = api.press_button(CHAT, message["message_id"], data_of(message, label))
    [edited] = await api.wait_for_replies(CHAT, timeout=10)

    def answered(call: Call) -> bool:
        """The accepted answer to this press."""
        return call.ok and call.params.get("callback_query_id") == query

    await api.wait_for_call("answerCallbackQuery", answered, timeout=10)
    return edited


async def test_a_screen_continues_after_kill_9_with_every_answer_kept(
        fake_api: FakeBotApi, tmp_path: Path) -> None:
    """Killed right after a press was answered; the next press on the same message goes on."""
    bot = BotProcess(fake_api, tmp_path)
    try:
        await bot.start()
        fake_api.send_text(CHAT, "/screen")
        [intro] = await fake_api.wait_for_replies(CHAT, timeout=10)
        age = await press(fake_api, intro, "Start")
        q1 = await press(fake_api, age, "3 to 5 years")
        impact = await press(fake_api, q1, "Often")
        worry = await press(fake_api, impact, "Yes")
        q2 = await press(fake_api, worry, "Yes")
        q3 = await press(fake_api, q2, "Not sure")
        assert "Question 3 of 8" in q3["text"]
        await bot.kill()

        await bot.start()
        q4 = await press(fake_api, q3, "Rarely")
        assert "Question 4 of 8" in q4["text"], q4["text"]
        assert q4["message_id"] == intro["message_id"]
        message = q4
        for _ in range(5):
            message = await press(fake_api, message, "Rarely")
        review = await press(fake_api, message, "No")
    finally:
        await bot.stop()
    answers = [line for line in review["text"].splitlines() if re.match(r"\d\. ", line)]
    assert len(answers) == 8, review["text"]
    assert "Often" in answers[0] and "Not sure" in answers[1], answers
    assert all("Rarely" in line for line in answers[2:]), answers
    assert "3 to 5" in review["text"]
    assert fake_api.unanswered_callbacks() == []


def distinct_questions(kb: KnowledgeBase, count: int) -> list[tuple[str, str]]:
    """(question, topic) pairs the matcher answers with that topic, each topic once."""
    matcher = Matcher(kb)
    pairs = []
    for entry in kb.entries.values():
        decision = matcher.decide(entry.question)
        if decision.kind == "answer" and decision.topic == entry.id:
            pairs.append((entry.question, entry.id))
    assert len(pairs) >= count
    return pairs[:count]


def shared_question(message: JSON) -> str | None:
    """The question an answer's share button carries: it tells which answer this is."""
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if "switch_inline_query" in button:
                return button["switch_inline_query"]
    return None


async def wait_for_answer_to(api: FakeBotApi, question: str, timeout: float = 15.0) -> None:
    """Wait until the chat shows the answer to question (per-chat order: all before it too)."""
    async with asyncio.timeout(timeout):
        while not any(shared_question(m) == question for m in api.chat(CHAT)):
            await api.wait_for_replies(CHAT, timeout=timeout)


async def test_a_reply_in_flight_at_kill_9_is_sent_once_after_restart(
        fake_api: FakeBotApi, tmp_path: Path, shipped_kb: KnowledgeBase) -> None:
    """The reply being sent when the process dies goes out once after the restart, in order."""
    questions = [question for question, _ in distinct_questions(shipped_kb, 4)]
    async with bot_process(fake_api, tmp_path) as bot:
        for question in questions[:2]:
            fake_api.send_text(CHAT, question)
        await fake_api.wait_for_replies(CHAT, 2, timeout=15)
        fake_api.stall_next("sendMessage", seconds=60)
        fake_api.send_text(CHAT, questions[2])
        await fake_api.wait_for_call("sendMessage", lambda call: call.status == 0, timeout=15)
        await bot.kill()
        await bot.start()
        await wait_for_answer_to(fake_api, questions[2])
        fake_api.send_text(CHAT, questions[3])
        await wait_for_answer_to(fake_api, questions[3])
    shown = [shared_question(message) for message in fake_api.chat(CHAT)]
    assert shown == questions
    assert [c for c in fake_api.rejected if c.status != 0] == [], fake_api.dump_calls()


async def test_a_burst_killed_midway_is_answered_once_each_in_order(
        fake_api: FakeBotApi, tmp_path: Path, shipped_kb: KnowledgeBase) -> None:
    """20 questions; kill -9 while the 8th reply is in flight; restart; 20 answers, in order."""
    pairs = distinct_questions(shipped_kb, QUESTIONS)
    questions = [question for question, _ in pairs]
    bot = BotProcess(fake_api, tmp_path)
    try:
        await bot.start()
        for question in questions[:KILL_AFTER]:
            fake_api.send_text(CHAT, question)
        await fake_api.wait_for_replies(CHAT, KILL_AFTER, timeout=15)
        # The next reply hangs in the network; the kill comes while it is in flight, so no
        # reply can be both delivered and still unconfirmed in the outbox.
        fake_api.stall_next("sendMessage", seconds=60)
        for question in questions[KILL_AFTER:BURST]:
            fake_api.send_text(CHAT, question)
        await fake_api.wait_for_call("sendMessage", lambda call: call.status == 0, timeout=15)
        # PTB asks for the next updates as soon as it has queued a batch, and that request
        # confirms the batch to Telegram: from then on Telegram will not send it again.
        await fake_api.wait_until_polling(timeout=15)
        assert fake_api.pending_updates() == []
        await bot.kill()

        await bot.start()
        # The restarted bot has a fresh burst of BURST messages for what was pending and what
        # follows; after that the parent types at the sustained rate (1 a second).
        for question in questions[BURST:QUESTIONS - 2]:
            fake_api.send_text(CHAT, question)
        for question in questions[QUESTIONS - 2:]:
            await asyncio.sleep(1.1)  # a parent's typing pace, within the rate limit
            fake_api.send_text(CHAT, question)
        await wait_for_answer_to(fake_api, questions[-1])
        await bot.stop()
    finally:
        await bot.stop()
    shown = [shared_question(message) for message in fake_api.chat(CHAT)]
    assert shown == questions, "\n".join(map(str, shown))
