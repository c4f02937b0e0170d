"""`otbot run --webhook`: Telegram's updates come in over HTTPS, each with the secret token."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from pathlib import Path

import aiohttp
from botprocess import bot_env
from fakebotapi import FakeBotApi

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PUBLIC_URL = "https://bot.example.org:8443/otbot"


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def post(url: str, update: dict, secret: str | None) -> int:
    """POST an update as Telegram would; the HTTP status."""
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    async with aiohttp.ClientSession() as session, session.post(
            url, json=update, headers=headers) as response:
        return response.status


async def wait_until_listening(port: int, process: asyncio.subprocess.Process) -> None:
    """The webhook server starts right after setWebhook; there is no event to await for it."""
    for _ in range(200):
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        assert process.returncode is None, "otbot run exited"
        await asyncio.sleep(0.05)
    raise TimeoutError("the webhook server never listened")


def update(update_id: int, text: str) -> dict:
    """A private message update, as Telegram posts it."""
    person = {"id": 4242, "is_bot": False, "first_name": "Ann"}
    return {"update_id": update_id, "message": {
        "message_id": 1, "date": 1_700_000_000, "text": text, "from": person,
        "chat": {"id": 4242, "type": "private", "first_name": "Ann"}}}


async def test_webhook_needs_the_secret_and_answers_with_it(
        fake_api: FakeBotApi, tmp_path: Path) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "otbot", "run", "--webhook", PUBLIC_URL, "--listen",
        "127.0.0.1", "--port", str(port), env=bot_env(fake_api, tmp_path),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    try:
        registered = await fake_api.wait_for_call("setWebhook", timeout=30)
        secret = registered.params["secret_token"]
        assert registered.params["url"] == PUBLIC_URL and len(secret) >= 32
        await wait_until_listening(port, process)
        local = f"http://127.0.0.1:{port}/otbot"
        fake_api.send_text(4242, "hello")  # so the fake knows the chat; polling is off
        assert await post(local, update(1, "what is OT?"), secret=None) == 403
        assert await post(local, update(2, "what is OT?"), secret="wrong") == 403
        assert await post(local, update(3, "does insurance cover OT?"), secret) == 200
        [answer] = await fake_api.wait_for_replies(4242)
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 30) == 0  # SIGTERM: a clean stop
    assert "insurance" in answer["text"].lower()
    assert len(fake_api.chat(4242)) == 1  # the refused updates were never handled
