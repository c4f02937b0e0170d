"""`otbot run`: the conversation on Telegram, through python-telegram-bot.

This module only translates: Telegram updates into conversation events, replies into Bot
API calls. It adds what only Telegram needs: retries, per-chat order, flood limits, groups.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import json
import logging
import secrets
import signal
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    ExtBot,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from otbot.config import Config
from otbot.dialog import replies
from otbot.dialog.conversation import (
    COMMANDS,
    Conversation,
    Event,
    EventKind,
    Settings,
    State,
    parse_command,
)
from otbot.dialog.replies import Reply, Target, Turn
from otbot.kb import KnowledgeError, load_knowledge
from otbot.kb.markup import MAX_CALLBACK_ANSWER, escape, visible_text
from otbot.store import Received, Retention, SqliteStore, Store
from otbot.telegram_bot.ratelimit import BUTTON_BURST, BUTTON_PER_SECOND, RateLimiter
from otbot.telegram_bot.send import deliver, send_reply
from otbot.telegram_bot.stats import stats_text

log = logging.getLogger("otbot")
COMMAND_HELP = {
    "start": "Welcome and main menu",
    "topics": "Browse everything I can answer",
    "screen": "Check the signs that a child could benefit from OT",
    "help": "How to use this bot",
    "privacy": "What is kept and how to delete it",
    "forget": "Delete everything held about you",
    "cancel": "Stop what we are doing",
}
INLINE_RESULTS = 5
INLINE_QUERY_CHARS = 256
PURGE_EVERY = dt.timedelta(hours=1)
CONCURRENT_UPDATES = 64  # handled at once; each chat still one at a time, in order
# Connections to the Bot API. More is slower: httpx scans its whole pool on every request
# and keeps only 20 idle, so a big pool churns (measured in benchmarks/README.md).
CONNECTIONS = 8


@dataclass(frozen=True)
class Source:
    """Where an event came from: enough to reply, and nothing about the parent's identity."""

    chat_id: int
    user_id: int
    update_id: int
    message_id: int | None = None  # the message whose button was pressed
    thread_id: int | None = None  # the forum topic it was asked in

    @property
    def target(self) -> Target:
        """Where replies to this event go."""
        return Target(self.chat_id, self.thread_id, self.message_id)


class InboxBot(ExtBot[None]):
    """An ExtBot that keeps every fetched update in the store until it has been handled.

    python-telegram-bot confirms a batch of updates to Telegram when it asks for the next
    one, before they are handled; after a kill -9 Telegram would not send them again. The
    inbox lets a restart handle them.
    """

    __slots__ = ("inbox",)

    def __init__(self, *args: Any, inbox: Store, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with self._unfrozen():  # PTB freezes its objects once constructed
            self.inbox = inbox

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        """Fetch updates and write the ones a parent would miss to the inbox first."""
        updates = await super().get_updates(*args, **kwargs)
        kept = [Received(u.update_id, u.effective_chat.id if u.effective_chat else None,
                         json.dumps(u.to_dict()))
                for u in updates
                if u.message or u.edited_message or u.callback_query]
        if kept:
            self.inbox.receive(kept, dt.datetime.now(dt.UTC))
        return updates


class Runtime:
    """What every handler shares: the live conversation, the store, locks and limits."""

    def __init__(self, config: Config, conversation: Conversation, store: Store) -> None:
        self.config = config
        self.conversation = conversation
        self.store = store
        self.limiters = {"text": RateLimiter(),
                         "button": RateLimiter(BUTTON_BURST, BUTTON_PER_SECOND)}
        self._locks: dict[int, asyncio.Lock] = {}
        self.committed: set[int] = set()  # updates whose commit already left the inbox
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
            turn, state = self._turn(source, event)
            self.store.commit(source.chat_id, state, turn.effects, source.update_id, event.now,
                              [replies.dump(r, source.target) for r in turn.replies])
            self.committed.add(source.update_id)
            await self._send_pending(bot, source.chat_id)
            return turn.notice

    def _turn(self, source: Source, event: Event) -> tuple[Turn, State | None]:
        """The conversation's turn, or the flood notice (state untouched) for a parent too fast.

        An emergency is never slowed down, however fast the typing.
        """
        button = event.kind is EventKind.BUTTON
        verdict = self.limiters["button" if button else "text"].check(
            source.user_id, event.now.timestamp())
        if verdict == "ok" or (event.kind is EventKind.TEXT
                               and self.conversation.is_urgent(event.text)):
            return self.conversation.handle(event, self.store.load(source.chat_id))
        notice = Reply(self.conversation.kb.message("rate_limited"))
        return Turn([notice] if verdict == "notify" else []), None

    async def _send_pending(self, bot: Any, chat_id: int | None) -> None:
        """Send the outbox (of one chat, or all), oldest first; a sent reply leaves it.

        A reply that Telegram rejects for good is dropped; one that could not be delivered
        (network down) stays, and goes out before the chat's next reply or at start-up.
        """
        for outbox_id, _, payload in self.store.pending(chat_id):
            reply, target = replies.load(payload)
            try:
                await send_reply(bot, target, reply)
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
            # Each error as FILE:LINE: message, so the admin knows where to look from the chat.
            lines = [str(p) for p in error.problems[:10]]
            if len(error.problems) > 10:
                lines.append(f"... and {len(error.problems) - 10} more: run `otbot kb check`")
            log.warning("reload rejected: %d problem(s) in %s", len(error.problems), folder)
            return False, self.conversation.kb.message(
                "reload_failed", problems=escape("\n".join(lines)))
        except Exception as error:  # never a bare "something went wrong": say what happened
            log.exception("reload failed in %s", folder)
            return False, self.conversation.kb.message(
                "reload_failed", problems=escape(f"{folder}: {type(error).__name__}: {error}"))
        self.conversation = conversation
        settle_memory()
        log.info("knowledge reloaded: %d topics, version %s", len(kb.entries), kb.version)
        return True, kb.message("reload_done", entries=str(len(kb.entries)), version=kb.version)


def _thread(message: Message) -> int | None:
    """The forum topic a message is in, so replies land in the same topic."""
    return message.message_thread_id if message.is_topic_message else None


def _runtime(context: ContextTypes.DEFAULT_TYPE) -> Runtime:
    runtime: Runtime = context.application.bot_data["runtime"]
    return runtime


def message_event(message: Message, username: str, bot_id: int, now: dt.datetime) -> Event | None:
    """The event a message means, or None when the bot should stay silent (groups)."""
    private = message.chat.type == ChatType.PRIVATE
    text = message.text
    if text is None:
        return Event(EventKind.OTHER, now=now) if private else None
    command = parse_command(text)
    if command is not None:
        name, target, args = command
        if target and target.lower() != username.lower():
            return None  # a command for another bot in the same group
        return Event(EventKind.COMMAND, text=args, command=name, now=now)
    if private:
        return Event(EventKind.TEXT, text=text, now=now)
    mention = f"@{username}".lower()
    if mention in text.lower():
        start = text.lower().index(mention)
        return Event(EventKind.TEXT, text=text[:start] + text[start + len(mention):], now=now)
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return Event(EventKind.TEXT, text=text, now=now)
    return None


def _received(update: Update, message: Message | None, context: ContextTypes.DEFAULT_TYPE
              ) -> tuple[Event, Source] | None:
    """What a message means and where it came from, or None when the bot stays silent."""
    if message is None or message.from_user is None:
        return None
    event = message_event(message, context.bot.username, context.bot.id,
                          dt.datetime.now(dt.UTC))
    if event is None:
        return None
    return event, Source(message.chat.id, message.from_user.id, update.update_id,
                         thread_id=_thread(message))


async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A new message: a question, a command, or something that is not text."""
    received = _received(update, update.message, context)
    if received is None:
        return
    runtime, (event, source) = _runtime(context), received
    if event.kind is EventKind.COMMAND and event.command in ("reload", "stats") and \
            source.user_id in runtime.config.admin_ids:
        await _admin(runtime, context, source, event.command)
        return
    await runtime.process(context.bot, source, event)


async def on_edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An edited message is answered only if the edit makes it an emergency.

    Answering every edit again would repeat answers; missing an emergency typed as a
    correction ("he is NOT breathing") would be far worse.
    """
    received = _received(update, update.edited_message, context)
    runtime = _runtime(context)
    if received is None or received[0].kind is not EventKind.TEXT \
            or not runtime.conversation.is_urgent(received[0].text):
        return
    event, source = received
    await runtime.process(context.bot, source, event)


async def _admin(runtime: Runtime, context: ContextTypes.DEFAULT_TYPE, source: Source,
                 command: str) -> None:
    """Admins' /reload and /stats; everyone else got the ordinary unknown-command reply."""
    if command == "reload":
        _, text = await runtime.reload()
    else:
        text = stats_text(runtime.conversation, runtime.store)
    await send_reply(context.bot, Target(source.chat_id, source.thread_id), Reply(text))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button press: always answered, so the parent's client stops its spinner."""
    query = update.callback_query
    if query is None:
        return
    notice = ""
    try:
        message = query.message
        if message is not None:
            # A message Telegram no longer has (date 0) cannot be edited: answer anew.
            message_id = message.message_id if message.is_accessible else None
            thread = _thread(message) if isinstance(message, Message) else None
            source = Source(message.chat.id, query.from_user.id, update.update_id, message_id,
                            thread)
            event = Event(EventKind.BUTTON, text=query.data or "", now=dt.datetime.now(dt.UTC))
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
    text = query.query[:INLINE_QUERY_CHARS]
    if conversation.is_urgent(text):  # the emergency reply, to send where it is needed
        emergency = conversation.decision_replies(conversation.matcher.decide(text))[0]
        await deliver(lambda: query.answer([InlineQueryResultArticle(
            id="emergency", title=conversation.kb.message("inline_emergency"),
            description=visible_text(emergency.text)[:256],
            input_message_content=InputTextMessageContent(emergency.text,
                                                          parse_mode=ParseMode.HTML))],
            cache_time=0, is_personal=True))
        return
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
        for entry in conversation.inline_entries(text, INLINE_RESULTS)
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
        await send_reply(context.bot, Target(chat.id),
                         Reply(_runtime(context).conversation.kb.message("error")))


async def _post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register the command menu, start purging, listen for SIGHUP."""
    runtime: Runtime = application.bot_data["runtime"]
    await deliver(lambda: application.bot.set_my_commands(
        [BotCommand(name, COMMAND_HELP[name]) for name in COMMANDS]))
    await runtime.flush_outbox(application.bot)
    # Updates fetched but not handled before a crash go first, before polling resumes.
    for payload in runtime.store.inbox():
        await application.update_queue.put(Update.de_json(json.loads(payload), application.bot))
    application.bot_data["purger"] = asyncio.create_task(_purge_forever(runtime))
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(runtime.reload()))


async def _handled(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """After every handler of an update: it no longer needs its place in the inbox."""
    runtime = _runtime(context)
    if update.update_id in runtime.committed:
        runtime.committed.discard(update.update_id)  # its commit took it out already
    else:
        runtime.store.handled(update.update_id)  # ignored updates: group chatter, edits


async def _post_shutdown(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
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


def build_application(config: Config, *, store: Store | None = None,
                      timeout: float | None = None) -> Application[Any, Any, Any, Any, Any, Any]:
    """The Application with every handler; tests pass short network timeouts."""
    kb = load_knowledge(config.knowledge_path)
    settings = Settings(retention_days=config.retention_days, misses_days=config.misses_days)
    store = store or SqliteStore(config.data_dir / "otbot.sqlite3", Retention(
        config.retention_days, config.misses_days, config.log_misses))
    bot = InboxBot(
        config.token, base_url=config.base_url, base_file_url=file_url(config.base_url),
        request=_request(timeout, CONNECTIONS), get_updates_request=_request(timeout, 1),
        inbox=store)
    application = (
        ApplicationBuilder().bot(bot).concurrent_updates(CONCURRENT_UPDATES)
        .post_init(_post_init).post_shutdown(_post_shutdown).build()
    )
    application.bot_data["runtime"] = Runtime(config, Conversation(kb, settings), store)
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGE, on_message))
    application.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, on_edited))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(InlineQueryHandler(on_inline))
    application.add_handler(TypeHandler(Update, _handled), group=1)
    application.add_error_handler(on_error)
    settle_memory()
    return application


def _request(timeout: float | None, connections: int) -> HTTPXRequest:
    """An HTTP client for the Bot API, with python-telegram-bot's timeouts unless given."""
    if timeout is None:
        return HTTPXRequest(connection_pool_size=connections)
    return HTTPXRequest(connection_pool_size=connections, read_timeout=timeout,
                        write_timeout=timeout, connect_timeout=timeout)


def file_url(base_url: str) -> str:
    """The file-download URL that goes with a Bot API base URL (…/bot -> …/file/bot)."""
    head, _, _ = base_url.rstrip("/").rpartition("/bot")
    return f"{head}/file/bot" if head else base_url


async def _who_am_i(bot: ExtBot[None]) -> None:
    async with bot:
        log.info("connected to Telegram as @%s", bot.username)


def run(config: Config, webhook_url: str | None, listen: str, port: int) -> None:
    """Run until SIGINT/SIGTERM: long polling, or a webhook with a secret token."""
    application = build_application(config)
    # Ask Telegram who we are first: a revoked token then stops with one clear message,
    # not python-telegram-bot's retry-loop traceback (which quotes the token).
    asyncio.run(_who_am_i(application.bot))
    updates = ["message", "edited_message", "callback_query", "inline_query"]
    if webhook_url:
        application.run_webhook(
            listen=listen, port=port, url_path=urlparse(webhook_url).path.strip("/"),
            webhook_url=webhook_url,
            secret_token=secrets.token_urlsafe(32), allowed_updates=updates)
    else:
        application.run_polling(allowed_updates=updates)
