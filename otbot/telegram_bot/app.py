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
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar
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
from otbot.effects import Answered, Miss
from otbot.kb import KnowledgeError, load_knowledge
from otbot.kb.markup import MAX_CALLBACK_ANSWER, escape, visible_text
from otbot.store import Outcome, Received, Retention, Session, Store, open_store
from otbot.telegram_bot.metrics import Metrics
from otbot.telegram_bot.ratelimit import BURST, BUTTON_BURST, BUTTON_PER_SECOND, PER_SECOND
from otbot.telegram_bot.send import Pacer, deliver, send_reply
from otbot.telegram_bot.stats import stats_text

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
INLINE_RESULTS = 5
INLINE_QUERY_CHARS = 256
PURGE_EVERY = dt.timedelta(hours=1)
CONCURRENT_UPDATES = 64  # handled at once; each chat still one at a time, in order
# Connections to the Bot API. More is slower: httpx scans its whole pool on every request
# and keeps only 20 idle, so a big pool churns (measured in benchmarks/README.md).
CONNECTIONS = 8
LEASE = 10.0  # seconds a replica may send a chat's replies before another may take over
SWEEP_EVERY = 1.0  # seconds between looks for replies nobody is sending, and for reloads
MAX_TRIES = 3  # a webhook update that fails this often is set aside, not retried again


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

    __slots__ = ("inbox", "on_set_aside", "skip_to")

    def __init__(self, *args: Any, inbox: Store, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with self._unfrozen():  # PTB freezes its objects once constructed
            self.inbox = inbox
            self.skip_to = 0  # the highest update id set aside: polling goes on past it
            self.on_set_aside: Any = None

    async def _post(self, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        """Sift a batch of updates: one python-telegram-bot cannot read is set aside.

        Otherwise one bad update fails the whole batch, and python-telegram-bot asks for the
        same batch again and again, logging it (parents' texts included) every time.
        """
        result = await super()._post(endpoint, *args, **kwargs)
        if endpoint != "getUpdates" or not isinstance(result, list):
            return result
        kept = []
        for item in result:
            try:
                Update.de_json(item, self)
            except Exception as error:
                update_id = item.get("update_id") if isinstance(item, dict) else None
                set_aside(update_id, error, self.on_set_aside)
                if isinstance(update_id, int):
                    with self._unfrozen():
                        self.skip_to = max(self.skip_to, update_id)
                continue
            kept.append(item)
        return kept

    async def get_updates(self, offset: int | None = None, *args: Any,
                          **kwargs: Any) -> tuple[Update, ...]:
        """Fetch updates and write the ones a parent would miss to the inbox first."""
        if self.skip_to and (offset is None or offset <= self.skip_to):
            offset = self.skip_to + 1  # confirm what was set aside, so it never comes back
        updates = await super().get_updates(offset, *args, **kwargs)
        kept = [Received(u.update_id, u.effective_chat.id if u.effective_chat else None,
                         json.dumps(u.to_dict()))
                for u in updates
                if u.message or u.edited_message or u.callback_query]
        if kept:
            self.inbox.receive(kept, dt.datetime.now(dt.UTC))
        return updates


def set_aside(update_id: object, error: BaseException, count: Any = None) -> None:
    """Give up on an update: counted, logged by id and error type only, never its text."""
    log.error("update %s set aside: %s", update_id if isinstance(update_id, int) else "?",
              type(error).__name__)
    if count is not None:
        count()


class Runtime:
    """What every handler shares: the live conversation, the store, locks and limits."""

    def __init__(self, config: Config, conversation: Conversation, store: Store, *,
                 owner: str | None = None) -> None:
        self.config = config
        self.conversation = conversation
        self.store = store
        self.metrics = Metrics()
        self.metrics.watch_outbox(lambda: len(self.store.pending()))
        self.pacer = Pacer(store, config.send_rate, self.metrics.flood_waits.inc)
        # Who this process is among the replicas (leases name it).
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.defer_sends = False  # webhook: answer Telegram at the commit, send afterwards
        self.generation = store.generation()
        self.tries: dict[int, int] = {}  # webhook updates that failed, and how often
        self.failed: dict[int, BaseException] = {}  # the failure of the update just handled
        self._locks: dict[int, asyncio.Lock] = {}
        self.committed: set[int] = set()  # updates whose commit already left the inbox
        self._waiting: dict[int, int] = {}
        self._drains: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()  # chats to drain once more when their drain ends

    async def db(self, call: Callable[..., T], *args: Any) -> T:
        """Call the store: in a worker thread when it has a pool (PostgreSQL), so waiting for
        the database or another replica's lock never stalls the event loop; else here."""
        if self.store.concurrent:
            return await asyncio.to_thread(call, *args)
        return call(*args)

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
        """Handle an event for a chat and send the replies; return the button notice.

        Everything the event changes, its update id and its replies are committed in one
        transaction under the chat's lock (across replicas on PostgreSQL) before anything is
        sent; an update handled before is skipped in that same transaction.
        """
        async with self.chat_lock(source.chat_id):
            turns: list[Turn] = []

            def step(session: Session) -> Outcome:
                turn, state = self._turn(source, event, session)
                turns.append(turn)
                return Outcome(state, turn.effects,
                               [replies.dump(r, source.target) for r in turn.replies])

            outcome = await self.db(self.store.handle, source.chat_id, source.update_id,
                                    event.now, step)
            if outcome is None:
                self.metrics.duplicates.inc()
                return ""  # Telegram re-sent an update we handled before (a crash, a retry)
            self.committed.add(source.update_id)
            self.metrics.updates.inc()
            self.metrics.latency.observe(max(0.0, time.time() - event.now.timestamp()))
            turn = turns[-1]
            self.metrics.decisions.labels(_decision(event, turn)).inc()
            if self.defer_sends:
                self.drain_soon(bot, source.chat_id)
            else:
                await self.drain(bot, source.chat_id)
            return turn.notice

    def _turn(self, source: Source, event: Event, session: Session) -> tuple[Turn, State | None]:
        """The conversation's turn, or the flood notice (state untouched) for a parent too fast.

        An emergency is never slowed down, however fast the typing.
        """
        button = event.kind is EventKind.BUTTON
        burst, rate = (BUTTON_BURST, BUTTON_PER_SECOND) if button else (BURST, PER_SECOND)
        verdict = session.spend(f"{'button' if button else 'text'}:{source.user_id}", burst,
                                rate, event.now.timestamp())
        if verdict == "ok" or (event.kind is EventKind.TEXT
                               and self.conversation.is_urgent(event.text)):
            return self.conversation.handle(event, session.load())
        notice = Reply(self.conversation.kb.message("rate_limited"))
        return Turn([notice] if verdict == "notify" else [], [_FLOODED]), None

    async def drain(self, bot: Any, chat_id: int) -> None:
        """Send a chat's outbox, oldest first, if no other replica is sending it.

        A sent reply leaves the outbox. One that Telegram rejects for good is dropped; one
        that could not be delivered (network down) stays, and the sweeper sends it later.
        The lease is renewed while sending and given back only when nothing waits, so
        replies committed meanwhile by another replica are sent here, in order.
        """
        store = self.store
        while await self.db(store.claim, chat_id, self.owner, LEASE):
            heartbeat = asyncio.ensure_future(self._keep_lease(chat_id))
            try:
                for outbox_id, _, payload in await self.db(store.pending, chat_id):
                    reply, target = replies.load(payload)
                    try:
                        await send_reply(bot, target, reply, self.pacer)
                        self.metrics.replies.inc()
                    except BadRequest as error:
                        log.error("Telegram rejected a reply (%s); dropped", type(error).__name__)
                    await self.db(store.delivered, outbox_id)
            except BaseException:
                heartbeat.cancel()
                store.release(chat_id, self.owner, force=True)
                raise
            heartbeat.cancel()
            if await self.db(store.release, chat_id, self.owner):
                return

    async def _keep_lease(self, chat_id: int) -> None:
        """Renew the chat's lease while its replies are being sent (a send can take long:
        a busy connection pool, a flood wait); it lapses only when this replica is gone."""
        while True:
            await asyncio.sleep(LEASE / 3)
            try:
                await self.db(self.store.claim, chat_id, self.owner, LEASE)
            except Exception as error:  # the database is away: the lease may lapse
                log.warning("could not renew a lease (%s)", type(error).__name__)

    def drain_soon(self, bot: Any, chat_id: int) -> None:
        """Send a chat's outbox in the background (one task per chat at a time)."""
        running = self._drains.get(chat_id)
        if running is not None and not running.done():
            self._again.add(chat_id)  # once it ends: replies committed meanwhile may wait
            return
        task = asyncio.ensure_future(self._drain_quietly(bot, chat_id))
        self._drains[chat_id] = task

        def done(finished: asyncio.Task[None]) -> None:
            if self._drains.get(chat_id) is finished:
                del self._drains[chat_id]
            if chat_id in self._again and not finished.cancelled():
                self._again.discard(chat_id)
                self.drain_soon(bot, chat_id)

        task.add_done_callback(done)

    async def _drain_quietly(self, bot: Any, chat_id: int) -> None:
        try:
            await self.drain(bot, chat_id)
        except TelegramError as error:  # still unreachable: the sweeper tries again
            log.warning("could not send a reply yet (%s)", type(error).__name__)

    async def flush_outbox(self, bot: Any) -> None:
        """At start-up: send what was committed but not sent before a crash."""
        for chat_id in await self.db(self.store.unclaimed, 10_000):
            try:
                await self.drain(bot, chat_id)
            except TelegramError as error:  # still unreachable: the sweeper retries
                log.warning("could not send the outbox yet (%s)", type(error).__name__)
                return

    async def sweep(self, bot: Any) -> None:
        """Send what nobody is sending: a dead replica's replies, those a failure left."""
        for chat_id in await self.db(self.store.unclaimed, 100):
            self.drain_soon(bot, chat_id)

    async def follow_reloads(self) -> None:
        """Reload when another replica did (its /reload or SIGHUP bumped the generation)."""
        generation = await self.db(self.store.generation)
        if generation != self.generation:
            self.generation = generation
            await self.reload(announce=False)

    async def reload(self, announce: bool = True) -> tuple[bool, str]:
        """Re-read the knowledge folder; keep the running one if the new one has errors.

        A reload asked of this replica is announced to the others through the store.
        """
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
        self.metrics.reloads.inc()
        if announce:
            self.generation = await self.db(self.store.bump_generation)
        log.info("knowledge reloaded: %d topics, version %s", len(kb.entries), kb.version)
        return True, kb.message("reload_done", entries=str(len(kb.entries)), version=kb.version)


_FLOODED = Miss("")  # marks a turn held back by the flood limit (an empty miss is never kept)


def _decision(event: Event, turn: Turn) -> str:
    """What was decided, for the metrics: the kind of answer or miss, else the event's kind."""
    for effect in turn.effects:
        if effect is _FLOODED:
            return "flood_limited"
        if isinstance(effect, Answered):
            return "answer"
        if isinstance(effect, Miss):
            return effect.kind.value
    return event.kind.value


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
    """Log a failure (its type and where, never the message text) and tell the parent.

    A webhook update that will be tried again (Telegram re-sends it) tells nobody yet.
    """
    error = context.error
    update_id = getattr(update, "update_id", None)
    log.error("failed to handle update %s: %s", update_id if update_id is not None else "?",
              type(error).__name__, exc_info=(type(error), error, error.__traceback__)
              if log.isEnabledFor(logging.DEBUG) and error is not None else None)
    runtime = _runtime(context)
    if isinstance(update_id, int) and error is not None and update_id in runtime.tries:
        runtime.failed[update_id] = error
        if runtime.tries[update_id] < MAX_TRIES:
            return
    chat = getattr(update, "effective_chat", None)
    if chat is None or chat.type != ChatType.PRIVATE:
        return
    with contextlib.suppress(TelegramError):
        await send_reply(context.bot, Target(chat.id),
                         Reply(_runtime(context).conversation.kb.message("error")))


async def _post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register the command menu, start purging and sweeping, listen for SIGHUP."""
    runtime: Runtime = application.bot_data["runtime"]
    bot = application.bot
    if isinstance(bot, InboxBot):
        with bot._unfrozen():
            bot.on_set_aside = runtime.metrics.set_aside.inc
    await deliver(lambda: application.bot.set_my_commands(
        [BotCommand(name, COMMAND_HELP[name]) for name in COMMANDS]))
    await runtime.flush_outbox(application.bot)
    # Updates fetched but not handled before a crash go first, before polling resumes.
    for payload in runtime.store.inbox():
        data = json.loads(payload)
        try:
            update = Update.de_json(data, application.bot)
        except Exception as error:
            set_aside(data.get("update_id"), error, runtime.metrics.set_aside.inc)
            runtime.store.handled(data.get("update_id", 0))
            continue
        await application.update_queue.put(update)
    application.bot_data["purger"] = asyncio.create_task(_purge_forever(runtime))
    application.bot_data["sweeper"] = asyncio.create_task(_sweep_forever(runtime, bot))
    metrics_at = application.bot_data.get("metrics_at")
    if metrics_at is not None:
        from otbot.telegram_bot.serve import start_metrics

        application.bot_data["metrics_runner"] = await start_metrics(runtime, *metrics_at)
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
    """Stop the background tasks and close the database."""
    metrics_runner = application.bot_data.pop("metrics_runner", None)
    if metrics_runner is not None:
        await metrics_runner.cleanup()
    for name in ("purger", "sweeper"):
        task = application.bot_data.pop(name, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    runtime: Runtime = application.bot_data["runtime"]
    for task in list(runtime._drains.values()):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    runtime.store.close()


async def _purge_forever(runtime: Runtime) -> None:
    while True:
        try:
            runtime.store.purge(dt.datetime.now(dt.UTC))
        except Exception as error:  # the database is away: try again next time
            log.warning("purge failed (%s)", type(error).__name__)
        await asyncio.sleep(PURGE_EVERY.total_seconds())


async def _sweep_forever(runtime: Runtime, bot: Any) -> None:
    """Every second: replies nobody is sending, and reloads other replicas did."""
    while True:
        await asyncio.sleep(SWEEP_EVERY)
        try:
            await runtime.sweep(bot)
            await runtime.follow_reloads()
        except Exception as error:  # the database is away: try again next time
            log.warning("sweep failed (%s)", type(error).__name__)


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
    store = store or open_store(config.database_url, config.data_dir, Retention(
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


def run(config: Config, webhook_url: str | None, listen: str, port: int,
        metrics_port: int | None = None) -> None:
    """Run until SIGINT/SIGTERM: long polling, or a webhook with a secret token.

    The webhook is served by otbot's own server (see serve.py), which answers Telegram only
    after an update is committed; the secret is TELEGRAM_WEBHOOK_SECRET, else a fresh one.
    """
    from otbot.telegram_bot.serve import ALLOWED_UPDATES, serve

    application = build_application(config)
    # Ask Telegram who we are first: a revoked token then stops with one clear message,
    # not python-telegram-bot's retry-loop traceback (which quotes the token).
    asyncio.run(_who_am_i(application.bot))
    if webhook_url:
        config = replace(config, webhook_secret=config.webhook_secret or secrets.token_urlsafe(32))
        asyncio.run(serve(application, config, listen, port, urlparse(webhook_url).path,
                          webhook_url=webhook_url))
    else:
        if metrics_port is not None:
            application.bot_data["metrics_at"] = (listen, metrics_port)
        application.run_polling(allowed_updates=ALLOWED_UPDATES)


def serve_replica(config: Config, listen: str, port: int, path: str) -> None:
    """`otbot serve`: webhook updates only, no setWebhook (the deploy step sets it once)."""
    from otbot.telegram_bot.serve import serve

    application = build_application(config)
    asyncio.run(_who_am_i(application.bot))
    asyncio.run(serve(application, config, listen, port, path))
