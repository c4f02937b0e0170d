"""`otbot run`: the conversation on Telegram, through python-telegram-bot.

This module only translates: Telegram updates into conversation events, replies into Bot
API calls. It adds what only Telegram needs: retries, per-chat order, flood limits, groups.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import io
import logging
import secrets
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputFile,
    InputTextMessageContent,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from otbot import replies
from otbot.config import Config
from otbot.conversation import COMMANDS, Conversation, Event, Settings, parse_command
from otbot.knowledge import KnowledgeError, load_knowledge
from otbot.markup import (
    MAX_CALLBACK_ANSWER,
    MAX_CAPTION,
    MAX_MESSAGE,
    escape,
    split_message,
    utf16_length,
)
from otbot.ratelimit import BUTTON_BURST, BUTTON_PER_SECOND, RateLimiter
from otbot.replies import Button, Reply, Turn
from otbot.stats import stats_text
from otbot.store import Retention, SqliteStore, Store

log = logging.getLogger("otbot")
T = TypeVar("T")

COMMAND_HELP = {
    "start": "Welcome and main menu",
    "topics": "Browse everything I can answer",
    "screen": "Check the signs that a child could benefit from OT",
    "help": "How to use this bot",
    "privacy": "What is kept and how to delete it",
    "forget": "Delete everything held about you",
    "cancel": "Stop what we are doing",
}
MAX_ATTEMPTS = 6
INLINE_RESULTS = 5
INLINE_QUERY_CHARS = 256
PURGE_EVERY = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Source:
    """Where an event came from: enough to reply, and nothing about the parent's identity."""

    chat_id: int
    user_id: int
    update_id: int
    message_id: int | None = None  # the message whose button was pressed


class Runtime:
    """What every handler shares: the live conversation, the store, locks and limits."""

    def __init__(self, config: Config, conversation: Conversation, store: Store) -> None:
        self.config = config
        self.conversation = conversation
        self.store = store
        self.limiters = {"text": RateLimiter(),
                         "button": RateLimiter(BUTTON_BURST, BUTTON_PER_SECOND)}
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    @contextlib.asynccontextmanager
    async def chat_lock(self, chat_id: int) -> Any:
        """One event at a time per chat, in arrival order; locks are freed when idle."""
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        self._waiting[chat_id] = self._waiting.get(chat_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[chat_id] -= 1
            if not self._waiting[chat_id]:
                del self._waiting[chat_id], self._locks[chat_id]

    async def process(self, bot: Any, source: Source, event: Event) -> str:
        """Handle an event for a chat and send the replies; return the button notice."""
        async with self.chat_lock(source.chat_id):
            if self.store.was_handled(source.update_id):
                return ""  # Telegram re-sent an update we answered before a crash
            limiter = self.limiters["button" if event.kind == "button" else "text"]
            verdict = limiter.check(source.user_id, event.now.timestamp())
            if verdict == "ok":
                turn, state = self.conversation.handle(event, self.store.load(source.chat_id))
            else:  # too fast: one notice, then silence until the parent slows down
                notice = Reply(self.conversation.kb.message("rate_limited"))
                turn, state = Turn([notice] if verdict == "notify" else []), None
            self.store.commit(source.chat_id, state, turn.effects, source.update_id, event.now,
                              [replies.dump(r, source.message_id) for r in turn.replies])
            await self._send_pending(bot, source.chat_id)
            return next((r.notice for r in turn.replies if r.notice), "")

    async def _send_pending(self, bot: Any, chat_id: int | None) -> None:
        """Send the outbox (of one chat, or all), oldest first; a sent reply leaves it.

        A reply that Telegram rejects for good is dropped; one that could not be delivered
        (network down) stays, and goes out before the chat's next reply or at start-up.
        """
        for outbox_id, chat, payload in self.store.pending(chat_id):
            reply, message_id = replies.load(payload)
            try:
                await send_reply(bot, chat, message_id, reply)
            except BadRequest as error:
                log.error("Telegram rejected a reply (%s); dropped", error)
            self.store.delivered(outbox_id)

    async def flush_outbox(self, bot: Any) -> None:
        """At start-up: send what was committed but not sent before a crash."""
        try:
            await self._send_pending(bot, None)
        except TelegramError as error:  # still unreachable: the next reply retries
            log.warning("could not send the outbox yet (%s)", type(error).__name__)

    async def reload(self) -> tuple[bool, str]:
        """Re-read the knowledge folder; keep the running one if the new one has errors."""
        folder = self.conversation.kb.folder
        try:
            kb = await asyncio.to_thread(load_knowledge, folder)
            conversation = await asyncio.to_thread(Conversation, kb, self.conversation.settings)
        except KnowledgeError as error:
            shown = "\n".join(escape(str(p)) for p in error.problems[:10])
            log.warning("reload rejected: %d problem(s) in %s", len(error.problems), folder)
            return False, self.conversation.kb.message("reload_failed", problems=shown)
        self.conversation = conversation
        settle_memory()
        log.info("knowledge reloaded: %d topics, version %s", len(kb.entries), kb.version)
        return True, kb.message("reload_done", entries=str(len(kb.entries)), version=kb.version)


async def deliver(call: Callable[[], Awaitable[T]]) -> T | None:
    """Make a Bot API call until it goes through: flood waits, network errors, 5xx.

    A parent who blocked the bot (403) is dropped: retrying cannot succeed.
    """
    for attempt in range(MAX_ATTEMPTS):
        try:
            return await call()
        except RetryAfter as error:
            wait = error.retry_after
            await asyncio.sleep(wait.total_seconds() if isinstance(wait, dt.timedelta) else wait)
        except Forbidden:
            log.info("a chat has blocked the bot; reply dropped")
            return None
        except BadRequest:
            raise
        except NetworkError as error:
            if attempt == MAX_ATTEMPTS - 1:
                raise
            log.warning("network error (%s), retrying", type(error).__name__)
            await asyncio.sleep(min(0.25 * 2**attempt, 8.0))
    return None


def keyboard(buttons: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    """Inline keyboard for reply buttons; share buttons open inline mode in another chat."""
    if not buttons:
        return None
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(b.label, switch_inline_query=b.share) if b.share is not None
         else InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
        for row in buttons
    ])


async def send_reply(bot: Any, chat_id: int, message_id: int | None, reply: Reply) -> None:
    """Send one reply: edit the pressed message where asked and possible, else new messages."""
    if reply.document is not None:
        await _send_document(bot, chat_id, reply)
        return
    markup = keyboard(reply.buttons)
    if reply.edit and message_id is not None and utf16_length(reply.text) <= MAX_MESSAGE:
        try:
            await deliver(lambda: bot.edit_message_text(
                reply.text, chat_id=chat_id, message_id=message_id,
                parse_mode=ParseMode.HTML, reply_markup=markup))
            return
        except BadRequest as error:
            if "not modified" in str(error).lower():
                return  # the parent pressed the same button twice: nothing to change
            log.info("could not edit a message (%s); sending a new one", error)
    chunks = split_message(reply.text)
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        await deliver(lambda chunk=chunk, last=last: bot.send_message(
            chat_id, chunk, parse_mode=ParseMode.HTML,
            reply_markup=markup if last else None))


async def _send_document(bot: Any, chat_id: int, reply: Reply) -> None:
    document = reply.document
    assert document is not None
    caption = reply.text if utf16_length(reply.text) <= MAX_CAPTION else None
    await deliver(lambda: bot.send_document(
        chat_id, InputFile(io.BytesIO(document.content), filename=document.filename),
        caption=caption, parse_mode=ParseMode.HTML, reply_markup=keyboard(reply.buttons)))


def _runtime(context: ContextTypes.DEFAULT_TYPE) -> Runtime:
    return context.application.bot_data["runtime"]


def message_event(message: Message, username: str, bot_id: int, now: dt.datetime) -> Event | None:
    """The event a message means, or None when the bot should stay silent (groups)."""
    private = message.chat.type == ChatType.PRIVATE
    text = message.text
    if text is None:
        return Event("other", now=now) if private else None
    command = parse_command(text)
    if command is not None:
        name, target, args = command
        if target and target.lower() != username.lower():
            return None  # a command for another bot in the same group
        return Event("command", text=args, command=name, now=now)
    if private:
        return Event("text", text=text, now=now)
    mention = f"@{username}".lower()
    if mention in text.lower():
        start = text.lower().index(mention)
        return Event("text", text=text[:start] + text[start + len(mention):], now=now)
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return Event("text", text=text, now=now)
    return None


async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A new message: a question, a command, or something that is not text."""
    message = update.message
    if message is None or message.from_user is None:
        return
    runtime = _runtime(context)
    event = message_event(message, context.bot.username, context.bot.id,
                          dt.datetime.now(dt.UTC))
    if event is None:
        return
    source = Source(message.chat.id, message.from_user.id, update.update_id)
    if event.kind == "command" and event.command in ("reload", "stats") and \
            message.from_user.id in runtime.config.admin_ids:
        await _admin(runtime, context, source, event.command)
        return
    await runtime.process(context.bot, source, event)


async def _admin(runtime: Runtime, context: ContextTypes.DEFAULT_TYPE, source: Source,
                 command: str) -> None:
    """Admins' /reload and /stats; everyone else got the ordinary unknown-command reply."""
    if command == "reload":
        _, text = await runtime.reload()
    else:
        text = stats_text(runtime.conversation, runtime.store)
    await send_reply(context.bot, source.chat_id, None, Reply(text))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button press: always answered, so the parent's client stops its spinner."""
    query = update.callback_query
    if query is None:
        return
    notice = ""
    try:
        message = query.message
        if message is not None:
            message_id = message.message_id if isinstance(message, Message) else None
            source = Source(message.chat.id, query.from_user.id, update.update_id, message_id)
            event = Event("button", text=query.data or "", now=dt.datetime.now(dt.UTC))
            notice = await _runtime(context).process(context.bot, source, event)
    finally:
        with contextlib.suppress(TelegramError):
            await deliver(lambda: query.answer(notice[:MAX_CALLBACK_ANSWER] or None))


async def on_inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`@bot question` in any chat: answers the parent can share."""
    query = update.inline_query
    if query is None:
        return
    conversation = _runtime(context).conversation
    username = context.bot.username
    results = [
        InlineQueryResultArticle(
            id=entry.id, title=entry.question[:256],
            description=(entry.alternates[0] if entry.alternates else "")[:256],
            input_message_content=InputTextMessageContent(entry.answer,
                                                          parse_mode=ParseMode.HTML),
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton(
                conversation.kb.message("inline_more"),
                url=f"https://t.me/{username}?start=topic-{entry.id}")]]),
        )
        for entry in conversation.inline_entries(query.query[:INLINE_QUERY_CHARS], INLINE_RESULTS)
    ]
    await deliver(lambda: query.answer(results, cache_time=60, is_personal=False))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log a failure (its type and where, never the message text) and tell the parent."""
    error = context.error
    log.error("failed to handle update %s: %s", getattr(update, "update_id", "?"),
              type(error).__name__, exc_info=(type(error), error, error.__traceback__)
              if log.isEnabledFor(logging.DEBUG) and error is not None else None)
    chat = getattr(update, "effective_chat", None)
    if chat is None or chat.type != ChatType.PRIVATE:
        return
    with contextlib.suppress(TelegramError):
        await deliver(lambda: context.bot.send_message(
            chat.id, _runtime(context).conversation.kb.message("error"),
            parse_mode=ParseMode.HTML))


async def _post_init(application: Application) -> None:
    """Register the command menu, start purging, listen for SIGHUP."""
    runtime: Runtime = application.bot_data["runtime"]
    await deliver(lambda: application.bot.set_my_commands(
        [BotCommand(name, COMMAND_HELP[name]) for name in COMMANDS]))
    await runtime.flush_outbox(application.bot)
    application.bot_data["purger"] = asyncio.create_task(_purge_forever(runtime))
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(runtime.reload()))


async def _post_shutdown(application: Application) -> None:
    """Stop the purge task and close the database."""
    purger = application.bot_data.pop("purger", None)
    if purger is not None:
        purger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purger
    application.bot_data["runtime"].store.close()


async def _purge_forever(runtime: Runtime) -> None:
    while True:
        runtime.store.purge(dt.datetime.now(dt.UTC))
        await asyncio.sleep(PURGE_EVERY.total_seconds())


def settle_memory() -> None:
    """Collect once and freeze what is left (the knowledge base and its index).

    Later collections then skip those long-lived objects, which keeps the garbage
    collector's pauses out of the per-message latency; a reload unfreezes first so the old
    knowledge base can be freed.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def build_application(config: Config, *, builder: ApplicationBuilder | None = None,
                      store: Store | None = None) -> Application:
    """The Application with every handler; tests pass a builder with short timeouts."""
    kb = load_knowledge(config.knowledge_path)
    settings = Settings(retention_days=config.retention_days, misses_days=config.misses_days)
    store = store or SqliteStore(config.data_dir / "otbot.sqlite3", Retention(
        config.retention_days, config.misses_days, config.log_misses))
    builder = builder or ApplicationBuilder()
    application = (
        builder.token(config.token).base_url(config.base_url)
        .concurrent_updates(64).post_init(_post_init).post_shutdown(_post_shutdown).build()
    )
    application.bot_data["runtime"] = Runtime(config, Conversation(kb, settings), store)
    settle_memory()
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGE, on_message))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(InlineQueryHandler(on_inline))
    application.add_error_handler(on_error)
    return application


def run(config: Config, webhook_url: str | None, listen: str, port: int) -> None:
    """Run until SIGINT/SIGTERM: long polling, or a webhook with a secret token."""
    application = build_application(config)
    updates = ["message", "callback_query", "inline_query"]
    if webhook_url:
        application.run_webhook(
            listen=listen, port=port, url_path=urlparse(webhook_url).path.strip("/"),
            webhook_url=webhook_url,
            secret_token=secrets.token_urlsafe(32), allowed_updates=updates)
    else:
        application.run_polling(allowed_updates=updates)
