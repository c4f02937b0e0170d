"""Sending replies to Telegram so that none is lost: retries, flood waits, edits, splits."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import io
import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from otbot.dialog.replies import Button, Reply, Target
from otbot.kb.markup import MAX_CAPTION, MAX_MESSAGE, split_message, utf16_length

log = logging.getLogger("otbot")
T = TypeVar("T")

NETWORK_ATTEMPTS = 6  # about 8 s of backoff in all, then the reply waits in the outbox
MAX_FLOOD_WAIT = dt.timedelta(minutes=10)  # beyond this, keep the reply for later instead
# Telegram's limits: about 30 messages a second in all, about one a second in a chat (short
# bursts pass), 20 a minute in a group. Kept a little under, shared by every replica.
SEND_RATE = 20.0
CHAT_INTERVAL, CHAT_BURST = 1.0, 20
GROUP_INTERVAL, GROUP_BURST = 60.0 / 17, 3
LANES = 4  # messages on the wire at once, per process
ADMIT_TRIES = 1000  # a bound on waiting for a place; far more than a flood wait needs


class Clock(Protocol):
    """The store's send clocks (see otbot.store.pacing.reserve)."""

    concurrent: bool

    def reserve(self, key: str, interval: float, tolerance: float) -> float: ...
    def hold(self, key: str, seconds: float) -> None: ...
    def admit(self, key: str, limit: int, window: float) -> float: ...


class Pacer:
    """Waits before each message so that all replicas together stay within Telegram's limits.

    A flood wait (429) holds the global clock, so no replica sends until it has passed.
    """

    def __init__(self, clock: Clock, rate: float = SEND_RATE,
                 on_flood: Callable[[], None] | None = None) -> None:
        self.clock = clock
        self.rate = rate
        self.on_flood = on_flood
        # Messages admitted go out at once: a few lanes, so none waits for a connection
        # (and bunches up with others) after its place in the second was counted.
        self.lanes = asyncio.Semaphore(LANES)

    async def send(self, chat_id: int, call: Callable[[], Awaitable[T]]) -> T:
        """Make the call when the chat's and the bot's limits allow."""
        if self.rate <= 0:
            return await call()
        group = chat_id < 0
        interval, burst = (GROUP_INTERVAL, GROUP_BURST) if group else (CHAT_INTERVAL, CHAT_BURST)
        delay = await self._ask(self.clock.reserve, f"chat:{chat_id}", interval,
                                interval * (burst - 1))
        if delay > 0:
            await asyncio.sleep(delay)
        async with self.lanes:
            await self._wait_global()
            return await call()

    async def _wait_global(self) -> None:
        """Return when the bot may send its next message, counting it."""
        delay = await self._ask(self.clock.reserve, "global", 1.0 / self.rate, 0.0)
        if delay > 0:
            await asyncio.sleep(delay)
        # The clock spaces messages out; a late wake-up (a busy loop) could still bunch them,
        # so each message also needs a place among the last second's: a hard cap.
        limit = max(1, int(self.rate))
        for _ in range(ADMIT_TRIES):
            delay = await self._ask(self.clock.admit, "global", limit, 1.0)
            if delay <= 0:
                return
            await asyncio.sleep(delay)

    async def _ask(self, call: Callable[..., float], *args: Any) -> float:
        """The clock's answer, from a worker thread when the store has a pool."""
        if self.clock.concurrent:
            return await asyncio.to_thread(call, *args)
        return call(*args)

    def flood(self, seconds: float) -> None:
        """Telegram asked every sender to wait."""
        if self.on_flood is not None:
            self.on_flood()
        self.clock.hold("global", seconds)


def _retry_after(error: RetryAfter) -> float:
    """Seconds Telegram asked us to wait (PTB warns about reading it as an int)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)


async def deliver(call: Callable[[], Awaitable[T]], pacer: Pacer | None = None,
                  chat_id: int = 0) -> T | None:
    """Make a Bot API call until it goes through: flood waits, network errors, 5xx.

    Flood waits are honoured as long as Telegram asks (up to MAX_FLOOD_WAIT in all); network
    errors are retried with backoff. When either runs out the error is raised, so the caller
    keeps the reply in its outbox. A parent who blocked the bot (403) is dropped: no retry
    can succeed.
    """
    waited = 0.0
    for attempt in range(NETWORK_ATTEMPTS):
        while True:
            try:
                if pacer is not None:
                    return await pacer.send(chat_id, call)
                return await call()
            except RetryAfter as error:
                wait = _retry_after(error)
                waited += wait
                if pacer is not None:
                    pacer.flood(wait)
                if waited > MAX_FLOOD_WAIT.total_seconds():
                    raise
                if pacer is None or pacer.rate <= 0:
                    await asyncio.sleep(wait)
            except Forbidden:
                log.info("a chat has blocked the bot; reply dropped")
                return None
            except BadRequest:
                raise
            except NetworkError as error:
                if attempt == NETWORK_ATTEMPTS - 1:
                    raise
                log.warning("network error (%s), retrying", type(error).__name__)
                await asyncio.sleep(min(0.25 * 2**attempt, 8.0))
                break
    return None  # unreachable: the last attempt returns or raises


def keyboard(buttons: tuple[tuple[Button, ...], ...], *, inline: bool
             ) -> InlineKeyboardMarkup | None:
    """Inline keyboard for reply buttons; share buttons open inline mode in another chat.

    Share buttons are left out unless the bot has inline mode (BotFather's /setinline).
    """
    layout = [[InlineKeyboardButton(b.label, switch_inline_query=b.share) if b.share is not None
               else InlineKeyboardButton(b.label, callback_data=b.data)
               for b in row if b.share is None or inline] for row in buttons]
    layout = [row for row in layout if row]
    return InlineKeyboardMarkup(layout) if layout else None


def _inline_mode(bot: Any) -> bool:
    """Whether Telegram says this bot answers inline queries (known once it is initialised)."""
    try:
        return bool(bot.supports_inline_queries)
    except (RuntimeError, AttributeError):  # not initialised yet: play safe, no share button
        return False


async def send_reply(bot: Any, target: Target, reply: Reply, pacer: Pacer | None = None) -> None:
    """Send one reply: edit the pressed message where asked and possible, else new messages."""
    if reply.document is not None:
        await _send_document(bot, target, reply, pacer)
        return
    markup = keyboard(reply.buttons, inline=_inline_mode(bot))
    message_id = target.message_id
    if reply.edit and message_id is not None and utf16_length(reply.text) <= MAX_MESSAGE:
        try:
            await deliver(lambda: bot.edit_message_text(
                reply.text, chat_id=target.chat_id, message_id=message_id,
                parse_mode=ParseMode.HTML, reply_markup=markup), pacer, target.chat_id)
            return
        except BadRequest as error:
            if "not modified" in str(error).lower():
                return  # the parent pressed the same button twice: nothing to change
            log.info("could not edit a message (%s); sending a new one", error)
    chunks = split_message(reply.text)
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        await deliver(functools.partial(
            bot.send_message, target.chat_id, chunk, parse_mode=ParseMode.HTML,
            message_thread_id=target.thread_id, reply_markup=markup if last else None),
            pacer, target.chat_id)


async def _send_document(bot: Any, target: Target, reply: Reply, pacer: Pacer | None) -> None:
    document = reply.document
    assert document is not None
    caption = reply.text if utf16_length(reply.text) <= MAX_CAPTION else None
    await deliver(lambda: bot.send_document(
        target.chat_id, InputFile(io.BytesIO(document.content), filename=document.filename),
        caption=caption, parse_mode=ParseMode.HTML, message_thread_id=target.thread_id,
        reply_markup=keyboard(reply.buttons, inline=_inline_mode(bot))), pacer, target.chat_id)
