"""`otbot serve` on SQLite: the secret, health and metrics, poisoned updates set aside without
their text, and kill -9 of the one process losing nothing (acknowledged after the commit)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from botprocess import bot_env
from distributor import (
    MAX_IN_FLIGHT,
    SECRET,
    SECRET_HEADER,
    Distributor,
    Replica,
    TimedFakeBotApi,
    distinct_questions,
    leaked,
    shared_question,
    without_repeats,
)
from fakebotapi import TOKEN

from otbot.kb import KnowledgeBase

POISON = "my daughter's secret poisoned words"


@pytest.fixture
async def api() -> AsyncIterator[TimedFakeBotApi]:
    async with TimedFakeBotApi(token=TOKEN) as fake:
        yield fake


async def post(url: str, body: bytes, secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    async with aiohttp.ClientSession() as session, session.post(
            url, data=body, headers=headers) as response:
        return response.status


def test_serve_needs_the_webhook_secret(tmp_path: Path) -> None:
    env = bot_env(TimedFakeBotApi(token=TOKEN), tmp_path)
    done = subprocess.run([sys.executable, "-m", "otbot", "serve"], env=env, timeout=60,
                          capture_output=True, text=True)
    assert done.returncode == 2 and "TELEGRAM_WEBHOOK_SECRET" in done.stderr


async def test_serve_checks_the_secret_answers_health_and_sets_poison_aside(
        api: TimedFakeBotApi, tmp_path: Path) -> None:
    replica = Replica(api, tmp_path, OTBOT_LOG_LEVEL="DEBUG")
    await replica.start()
    try:
        hook = replica.url + "/telegram"
        api.send_text(4242, "does insurance cover OT?")
        update = api._updates.popleft()
        body = json.dumps(update).encode()
        assert await post(hook, body, None) == 403
        assert await post(hook, body, "wrong") == 403
        assert await replica.get("/healthz") == (200, "ok\n")
        assert (await replica.get("/readyz"))[0] == 200
        # Not JSON, and JSON python-telegram-bot cannot read: 200, so Telegram stops retrying.
        assert await post(hook, POISON.encode(), SECRET) == 200
        bad = {"update_id": 77, "message": {"message_id": 1, "date": "yesterday", "text": POISON,
                                             "chat": {"id": 4242, "type": "private"}}}
        assert await post(hook, json.dumps(bad).encode(), SECRET) == 200
        assert await post(hook, body, SECRET) == 200
        [answer] = await api.wait_for_replies(4242, timeout=15)
        assert await post(hook, body, SECRET) == 200  # a re-delivery: not answered again
        status, metrics = await replica.get("/metrics")
    finally:
        assert await replica.stop() == 0
    assert "insurance" in answer["text"].lower() and len(api.chat(4242)) == 1
    assert status == 200
    assert "otbot_updates_set_aside_total 2.0" in metrics
    assert "otbot_updates_handled_total 1.0" in metrics
    assert "otbot_updates_duplicate_total 1.0" in metrics
    assert 'otbot_decisions_total{kind="answer"} 1.0' in metrics
    assert "otbot_handling_seconds_bucket" in metrics and "otbot_outbox_depth" in metrics
    assert not [c for c in api.calls if c.method == "setWebhook"]  # serve never sets it
    assert leaked(replica.lines, [POISON, "does insurance cover"]) == []
    assert any("set aside" in line for line in replica.lines)


async def test_kill_9_of_the_one_webhook_process_loses_nothing(
        api: TimedFakeBotApi, tmp_path: Path, shipped_kb: KnowledgeBase) -> None:
    """10 parents, 8 questions each, 15 % duplicate deliveries, kill -9 mid-run, restart."""
    questions = distinct_questions(shipped_kb, 8)
    chats = list(range(81_000, 81_010))
    replica = Replica(api, tmp_path, OTBOT_LOG_LEVEL="DEBUG")
    await replica.start()
    try:
        async with Distributor(api, [replica]) as telegram:
            for question in questions:
                for chat in chats:
                    api.send_text(chat, question)
            async with asyncio.timeout(30):
                while len(api.sent_at) < 25:
                    await asyncio.sleep(0.02)
            await replica.kill()
            await replica.start()
            await telegram.idle(timeout=90)
            async with asyncio.timeout(60):
                for chat in chats:
                    while len(without_repeats(
                            [shared_question(m) for m in api.chat(chat)])[0]) < len(questions):
                        await asyncio.sleep(0.1)
            assert telegram.copies > 0
    finally:
        await replica.stop()
    repeats = 0
    for chat in chats:
        shown, repeated = without_repeats([shared_question(m) for m in api.chat(chat)])
        assert shown == questions, (chat, shown)
        assert repeated <= 1, (chat, repeated)  # a parent sees at most one answer twice
        repeats += repeated
    assert repeats <= MAX_IN_FLIGHT  # at most the replies in flight at the kill
    assert api.busiest_second() <= 30
    assert leaked(replica.lines, questions) == []


async def test_a_failed_update_gets_a_5xx_until_it_is_set_aside(
        api: TimedFakeBotApi, tmp_path: Path) -> None:
    """The database fails: not acknowledged (500), so Telegram retries; the third failure is
    set aside (200), and only then is the parent told something went wrong."""
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer
    from botharness import config_for

    from otbot.telegram_bot.app import MAX_TRIES, build_application
    from otbot.telegram_bot.serve import webhook_route

    application = build_application(config_for(api, tmp_path))
    await application.initialize()
    runtime = application.bot_data["runtime"]
    runtime.defer_sends = True
    real_handle, failures = runtime.store.handle, [MAX_TRIES, 0]

    def flaky_handle(*args: object) -> object:
        if failures[0]:
            failures[0] -= 1
            raise ConnectionError("the database went away")
        return real_handle(*args)

    runtime.store.handle = flaky_handle
    app = web.Application()
    app.add_routes([webhook_route(application, "/telegram", SECRET)])
    statuses = []
    try:
        async with TestClient(TestServer(app)) as client:
            for text in ("does insurance cover OT?", "what is occupational therapy?"):
                api.send_text(4343, text)
                update = api._updates.popleft()
                for _ in range(MAX_TRIES):
                    response = await client.post("/telegram", json=update,
                                                 headers={SECRET_HEADER: SECRET})
                    statuses.append(response.status)
                    if response.status == 200:
                        break
            [sorry, answer] = await api.wait_for_replies(4343, 2, timeout=15)
    finally:
        await application.shutdown()
        runtime.store.close()
    assert statuses == [500, 500, 200, 200]  # the second update went through at once
    assert "went wrong" in sorry["text"].lower() or "sorry" in sorry["text"].lower()
    assert "occupational therapy" in answer["text"].lower()
    assert runtime.metrics.set_aside._value.get() == 1
