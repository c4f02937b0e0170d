"""Run the real otbot Application against the fake Bot API, and act as parents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fakebotapi import FakeBotApi
from telegram.ext import Application

from otbot.config import Config
from otbot.telegram_bot.app import build_application

JSON = dict[str, Any]
POLL_TIMEOUT = 1  # seconds a long poll waits: short, so a fault queued for getUpdates comes soon


def config_for(api: FakeBotApi, data_dir: Path, **overrides: Any) -> Config:
    """A configuration pointing otbot at the fake server."""
    return Config(token=api.token, base_url=api.base_url, data_dir=data_dir, **overrides)


@asynccontextmanager
async def running_bot(api: FakeBotApi, data_dir: Path, *, timeout: float | None = None,
                      **overrides: Any) -> AsyncIterator[Application]:
    """otbot polling the fake server, started and stopped in run_polling's order.

    `timeout` shortens otbot's network timeouts, for tests of stalled requests.
    """
    app = build_application(config_for(api, data_dir, **overrides), timeout=timeout)
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    await app.updater.start_polling(poll_interval=0, timeout=POLL_TIMEOUT)
    await app.start()
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)


def buttons(message: JSON) -> list[JSON]:
    """Every inline button of a message, row by row."""
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def labels(message: JSON) -> list[str]:
    """The labels of a message's buttons."""
    return [button["text"] for button in buttons(message)]


def data_of(message: JSON, label: str) -> str:
    """The callback data of the button whose label contains `label`."""
    for button in buttons(message):
        if label.lower() in button["text"].lower() and "callback_data" in button:
            return button["callback_data"]
    raise AssertionError(f"no button {label!r} in {labels(message)}")


class Parent:
    """One parent in a private chat with the bot."""

    def __init__(self, api: FakeBotApi, chat_id: int) -> None:
        self.api = api
        self.chat_id = chat_id

    async def say(self, text: str, replies: int = 1, **fields: Any) -> list[JSON]:
        """Send a text and wait for that many replies (new messages or edits)."""
        self.api.send_text(self.chat_id, text, **fields)
        return await self.api.wait_for_replies(self.chat_id, replies)

    async def press(self, message: JSON, label: str, replies: int = 1) -> list[JSON]:
        """Press the button labelled `label` on a bot message; wait for the replies."""
        self.api.press_button(self.chat_id, message["message_id"], data_of(message, label))
        return await self.api.wait_for_replies(self.chat_id, replies)

    async def press_data(self, message_id: int, data: str, replies: int = 1) -> list[JSON]:
        """Press a button with any data, as an old or crafted client could."""
        self.api.press_button(self.chat_id, message_id, data, force=True)
        return await self.api.wait_for_replies(self.chat_id, replies)

    def last(self) -> JSON:
        """The chat's latest bot message, as the parent sees it now."""
        return self.api.chat(self.chat_id)[-1]
