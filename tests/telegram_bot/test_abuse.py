"""One parent flooding the bot: a single polite notice, few replies, and nobody else slowed."""

from __future__ import annotations

from pathlib import Path

from botharness import running_bot
from fakebotapi import FakeBotApi

from otbot.telegram_bot.ratelimit import BURST, PER_SECOND, RateLimiter

FLOODER = 8100
OTHERS = [8201, 8202, 8203, 8204, 8205]
FLOOD = 100
NOTICE = "faster than I can read"


async def test_a_flood_gets_one_notice_and_others_are_answered_as_usual(
        fake_api: FakeBotApi, tmp_path: Path) -> None:
    """100 messages as fast as possible next to 5 parents asking 3 questions each."""
    questions = ["what is OT", "hello", "/help"]
    async with running_bot(fake_api, tmp_path):
        for n in range(FLOOD):
            fake_api.send_text(FLOODER, f"question number {n} about OT")
            if n % 40 == 0:  # the others write while the flood goes on
                for chat in OTHERS:
                    fake_api.send_text(chat, questions[n // 40])
        for chat in OTHERS:
            await fake_api.wait_for_replies(chat, len(questions), timeout=15)
    # The Application has stopped: every update it took, the whole flood, was handled.
    assert fake_api.pending_updates() == []
    flood = fake_api.chat(FLOODER)
    notices = [m for m in flood if NOTICE in m["text"]]
    assert len(notices) == 1, [m["text"][:60] for m in flood]
    assert len(flood) <= BURST + 3, len(flood)  # the burst, the notice, a token or two
    assert all(NOTICE not in m["text"] for m in flood[:BURST])  # the burst is answered
    for chat in OTHERS:
        texts = [m["text"] for m in fake_api.chat(chat)]
        assert len(texts) == len(questions), texts
        assert not any(NOTICE in text for text in texts)
        assert "Occupational therapy" in texts[0] and texts[1].startswith("Hello")
        assert "How to use me" in texts[2]
    assert fake_api.rejected == [], fake_api.dump_calls()


async def test_an_emergency_after_a_burst_still_gets_the_emergency_reply(
        fake_api: FakeBotApi, tmp_path: Path) -> None:
    """A frightened parent typing fast is still told to call for help."""
    async with running_bot(fake_api, tmp_path):
        for n in range(BURST + 1):
            fake_api.send_text(FLOODER, f"question number {n} about OT")
        fake_api.send_text(FLOODER, "my son is choking and can't breathe")
        await fake_api.wait_for_replies(FLOODER, BURST + 1, timeout=15)
    # The Application has stopped: the emergency message was handled one way or the other.
    texts = [m["text"] for m in fake_api.chat(FLOODER)]
    assert any("emergency" in text.lower() for text in texts), texts[-2:]


def test_a_stream_of_100_messages_in_10_seconds_gets_one_notice() -> None:
    """The docstring's promise: one notice per stream, however long the stream."""
    limiter = RateLimiter()
    verdicts = [limiter.check(1, 1000.0 + n * 0.1) for n in range(100)]
    assert verdicts.count("notify") == 1, verdicts
    allowed = verdicts.count("ok")
    assert allowed <= BURST + 10 * PER_SECOND + 1


def test_a_parent_who_slows_down_is_answered_again() -> None:
    """After the flood, a parent at a normal pace is answered, and a new flood is noticed."""
    limiter = RateLimiter()
    for n in range(30):
        limiter.check(1, 1000.0 + n * 0.01)
    assert limiter.check(1, 1100.0) == "ok"
    verdicts = [limiter.check(1, 1100.0 + n * 0.01) for n in range(1, 30)]
    assert verdicts.count("notify") == 1


def test_each_parent_has_a_bucket_of_their_own() -> None:
    """One parent's flood never spends another's burst."""
    limiter = RateLimiter()
    for n in range(100):
        limiter.check(1, 1000.0 + n * 0.001)
    assert [limiter.check(2, 1000.1) for _ in range(BURST)] == ["ok"] * BURST
