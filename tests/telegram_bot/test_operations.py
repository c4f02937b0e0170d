"""What an operator does and sees: the webhook deploy steps, a reload reaching every replica,
health and metrics in polling mode, and a poisoned update that never stops polling."""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from botharness import POLL_TIMEOUT, config_for
from botprocess import bot_env
from distributor import SECRET, Distributor, Replica, TimedFakeBotApi, free_port
from fakebotapi import TOKEN, FakeBotApi
from pgtest import fresh_database

from otbot.kb import default_dir
from otbot.telegram_bot.app import build_application

POISON = "my son's private words that must never be logged"
PROBE = """\
- id: reload-probe
  question: What is the zebra crossing rule for reloads?
  alternates: [zebra crossing rule]
  answer: Zebras cross only after a reload.
"""


@pytest.fixture
async def api() -> AsyncIterator[TimedFakeBotApi]:
    async with TimedFakeBotApi(token=TOKEN) as fake:
        yield fake


async def otbot(api: FakeBotApi, tmp_path: Path, *args: str, **env: str) -> tuple[int, str]:
    """Run an otbot command against the fake server; (exit code, output)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "otbot", *args, env=bot_env(api, tmp_path, **env),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, output.decode()


async def test_the_webhook_deploy_steps(api: TimedFakeBotApi, tmp_path: Path) -> None:
    url = "https://bot.example.org/telegram"
    code, output = await otbot(api, tmp_path, "webhook", "set", url)
    assert code == 2 and "TELEGRAM_WEBHOOK_SECRET" in output  # replicas would refuse all
    code, output = await otbot(api, tmp_path, "webhook", "set", url, "--drop-pending",
                               TELEGRAM_WEBHOOK_SECRET=SECRET)
    assert code == 0, output
    [call] = [c for c in api.calls if c.method == "setWebhook"]
    assert call.params["url"] == url and call.params["secret_token"] == SECRET
    assert call.params["drop_pending_updates"] is True
    assert SECRET not in output
    code, output = await otbot(api, tmp_path, "webhook", "info")
    assert code == 0 and f"url: {url}" in output and "pending updates: 0" in output
    code, output = await otbot(api, tmp_path, "webhook", "delete")
    assert code == 0 and api.webhook_url == ""


async def test_a_reload_on_one_replica_reaches_the_others(
        api: TimedFakeBotApi, tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(default_dir(), knowledge)
    url = fresh_database()
    replicas = [Replica(api, tmp_path / f"r{n}", OTBOT_DATABASE_URL=url,
                        OTBOT_KNOWLEDGE_DIR=str(knowledge)) for n in range(2)]
    await asyncio.gather(*(replica.start() for replica in replicas))
    try:
        (knowledge / "faq" / "probe.yaml").write_text(PROBE)
        assert replicas[0].process is not None
        replicas[0].process.send_signal(signal.SIGHUP)
        async with Distributor(api, [replicas[1]], duplicates=0) as telegram:
            async with asyncio.timeout(20):  # the other replica follows within a second or so
                while "knowledge reloaded" not in replicas[1].output:
                    await asyncio.sleep(0.1)
            api.send_text(5151, "what is the zebra crossing rule")
            [reply] = await api.wait_for_replies(5151, timeout=20)
            await telegram.idle(timeout=20)
    finally:
        await asyncio.gather(*(replica.stop() for replica in replicas))
    assert "Zebras cross only after a reload" in reply["text"]
    assert "knowledge reloaded" in replicas[0].output


async def test_polling_serves_health_and_metrics_and_sets_poison_aside(
        api: TimedFakeBotApi, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A batch with an update python-telegram-bot cannot read: the others are answered, the
    poisoned one is set aside once (counted, logged without its text), polling goes on."""
    caplog.set_level(logging.DEBUG)
    # As setup_logging does: python-telegram-bot's DEBUG lines quote whole updates.
    caplog.set_level(logging.INFO, logger="telegram")
    port = free_port()
    app = build_application(config_for(api, tmp_path))
    app.bot_data["metrics_at"] = ("127.0.0.1", port)
    await app.initialize()
    assert app.post_init is not None and app.post_shutdown is not None
    await app.post_init(app)
    try:
        api.send_text(6161, "hello")
        api.push_update({"message": {"message_id": 9, "date": "yesterday", "text": POISON,
                                     "chat": {"id": 6161, "type": "private"}}})
        api.send_text(6161, "what is OT")
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=POLL_TIMEOUT)
        await app.start()
        hello, answer = await api.wait_for_replies(6161, 2, timeout=15)
        await api.wait_until_polling(timeout=10)
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{port}"
            async with session.get(base + "/healthz") as response:
                assert response.status == 200
            async with session.get(base + "/readyz") as response:
                assert response.status == 200
            async with session.get(base + "/metrics") as response:
                metrics = await response.text()
    finally:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        await app.post_shutdown(app)
    assert hello["text"].startswith("Hello") and "Occupational therapy" in answer["text"]
    assert "otbot_updates_set_aside_total 1.0" in metrics
    assert "otbot_updates_handled_total 2.0" in metrics
    polls = [c for c in api.calls if c.method == "getUpdates"]
    assert len(polls) < 20  # no loop on the poisoned batch
    assert api.pending_updates() == []  # confirmed, so Telegram will not send it again
    lines = [record.getMessage() for record in caplog.records]
    assert [line for line in lines if "private words" in line or "what is OT" in line] == []
    assert any("set aside" in line for line in lines)
