"""`otbot serve`: webhook updates answered only after they are committed; health and metrics.

python-telegram-bot's own webhook server answers 200 as soon as an update is queued, before
it is handled: a crash then loses it. Here the HTTP reply waits for the update's transaction
(state, update id, replies to send): 200 only once it is committed, 500 on any failure, so
Telegram delivers the update again. Telegram sends a chat's next update only after that, so
each chat stays in order across replicas. Replies go out after the commit, from the outbox.

`serve` never calls setWebhook: any number of replicas can run it behind a load balancer;
`otbot webhook set` is the deploy step.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from otbot.config import Config
from otbot.telegram_bot.app import MAX_TRIES, Runtime, _post_init, _post_shutdown, set_aside

log = logging.getLogger("otbot")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # Telegram's updates are far smaller
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "inline_query"]

App = Application[Any, Any, Any, Any, Any, Any]


def health_routes(runtime: Runtime) -> list[web.RouteDef]:
    """GET /healthz (alive), /readyz (database reachable, knowledge loaded), /metrics."""

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(request: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(asyncio.to_thread(runtime.store.ping), timeout=5)
        except Exception as error:
            return web.Response(status=503, text=f"database: {type(error).__name__}\n")
        if not runtime.conversation.kb.entries:
            return web.Response(status=503, text="knowledge: not loaded\n")
        return web.Response(text="ready\n")

    async def metrics(request: web.Request) -> web.Response:
        body = await asyncio.to_thread(runtime.metrics.render)
        return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})

    return [web.get("/healthz", healthz), web.get("/readyz", readyz),
            web.get("/metrics", metrics)]


def webhook_route(application: App, path: str, secret: str) -> web.RouteDef:
    """POST path: one update, acknowledged after its commit."""
    runtime: Runtime = application.bot_data["runtime"]
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return web.Response(status=403)
        body = await request.read()
        try:
            data = json.loads(body)
            update_id = data.get("update_id") if isinstance(data, dict) else None
        except ValueError as error:  # not JSON at all: retrying cannot help
            set_aside(None, error, runtime.metrics.set_aside.inc)
            return web.Response()
        try:
            update = Update.de_json(data, application.bot)
        except Exception as error:  # python-telegram-bot cannot read it: retrying cannot help
            set_aside(update_id, error, runtime.metrics.set_aside.inc)
            return web.Response()
        if not isinstance(update_id, int):
            set_aside(None, ValueError("no update_id"), runtime.metrics.set_aside.inc)
            return web.Response()
        if len(runtime.tries) > 10_000:  # failures retried on other replicas: forget them
            runtime.tries.clear()
        runtime.tries[update_id] = runtime.tries.get(update_id, 0) + 1
        try:
            await application.process_update(update)
        except Exception as crash:  # python-telegram-bot itself failed
            runtime.failed[update_id] = crash
        failure = runtime.failed.pop(update_id, None)
        if failure is None:
            runtime.tries.pop(update_id, None)
            return web.Response()
        if runtime.tries[update_id] >= MAX_TRIES:
            runtime.tries.pop(update_id, None)
            set_aside(update_id, failure, runtime.metrics.set_aside.inc)
            return web.Response()
        return web.Response(status=500)  # not committed: Telegram delivers it again

    return web.post(path, receive)


async def serve(application: App, config: Config, listen: str, port: int, path: str, *,
                webhook_url: str | None = None) -> None:
    """Serve webhook updates until SIGTERM or SIGINT; set the webhook first if asked to."""
    if not config.webhook_secret:
        raise ValueError("no webhook secret")
    runtime: Runtime = application.bot_data["runtime"]
    runtime.defer_sends = True
    await application.initialize()
    runner: web.AppRunner | None = None
    try:
        await _post_init(application)
        await application.start()
        if webhook_url is not None:
            await application.bot.set_webhook(webhook_url, secret_token=config.webhook_secret,
                                              allowed_updates=ALLOWED_UPDATES)
        app = web.Application(client_max_size=MAX_BODY)
        app.add_routes([webhook_route(application, "/" + path.strip("/"),
                                      config.webhook_secret), *health_routes(runtime)])
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, listen, port).start()
        log.info("serving webhook updates on %s:%d/%s", listen, port, path.strip("/"))
        await _until_stopped()
    finally:
        if runner is not None:
            await runner.cleanup()  # no new updates; those in flight are finished first
        await _finish_sending(runtime)
        if application.running:
            await application.stop()
        await _post_shutdown(application)
        await application.shutdown()


async def start_metrics(runtime: Runtime, listen: str, port: int) -> web.AppRunner:
    """Health and metrics for polling mode (`otbot run --metrics-port`)."""
    app = web.Application()
    app.add_routes(health_routes(runtime))
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, listen, port).start()
    return runner


async def _finish_sending(runtime: Runtime, timeout: float = 5.0) -> None:
    """Give replies being sent a moment to go out; what is left stays in the outbox."""
    tasks = [task for task in runtime._drains.values() if not task.done()]
    if tasks:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout)


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    await stop.wait()
