"""Telegram's side of a webhook, for tests: replicas of `otbot serve`, and updates delivered
to them the way Telegram (and a load balancer in front of the replicas) does.

- one update per chat in flight: a chat's next update only after the last one got a 2xx;
- a non-2xx, a timeout or a refused connection: delivered again (to any replica);
- a share of deliveries duplicated, the copies racing each other to two replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
from botprocess import bot_env
from fakebotapi import Call, FakeBotApi

from otbot.telegram_bot.app import CONNECTIONS

SECRET = "test-webhook-secret_0123456789"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
START_TIMEOUT = 40.0


class TimedFakeBotApi(FakeBotApi):
    """The fake Bot API, remembering when each accepted message (sent or edited) arrived."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent_at: list[float] = []

    def _record(self, call: Call) -> None:
        if call.ok and call.method in self.REPLY_METHODS:
            self.sent_at.append(time.monotonic())
        super()._record(call)

    def busiest_second(self) -> int:
        """The most messages accepted within any one second (a sliding window)."""
        times = sorted(self.sent_at)
        most, start = 0, 0
        for end, stamp in enumerate(times):
            while stamp - times[start] >= 1.0:
                start += 1
            most = max(most, end - start + 1)
        return most


def free_port() -> int:
    """A port nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Replica:
    """One `python -m otbot serve` process."""

    def __init__(self, api: FakeBotApi, data_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = bot_env(api, data_dir, TELEGRAM_WEBHOOK_SECRET=SECRET, **env)
        self.process: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start and wait until /readyz answers 200."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "otbot", "serve", "--listen", "127.0.0.1", "--port",
            str(self.port), env=self.env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        self._reader = asyncio.create_task(self._read(self.process))
        deadline = time.monotonic() + START_TIMEOUT
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    await self._reader
                    raise AssertionError(f"otbot serve exited:\n{self.output}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with session.get(f"{self.url}/readyz") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise AssertionError(f"otbot serve never became ready:\n{self.output}")

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            self.lines.append(line.decode("utf-8", "replace").rstrip("\n"))

    @property
    def output(self) -> str:
        """Everything the process printed, every run."""
        return "\n".join(self.lines)

    async def kill(self) -> None:
        """kill -9."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        await self._finish()

    async def stop(self) -> int:
        """SIGTERM; the exit code."""
        if self.process is None or self.process.returncode is not None:
            return self.process.returncode if self.process else 0
        self.process.terminate()
        try:
            async with asyncio.timeout(20):
                await self._finish()
        except TimeoutError:
            await self.kill()
        return self.process.returncode or 0

    async def _finish(self) -> None:
        assert self.process is not None
        await self.process.wait()
        if self._reader is not None:
            await self._reader

    async def get(self, path: str) -> tuple[int, str]:
        """GET a path of this replica: (status, body)."""
        async with aiohttp.ClientSession() as session, session.get(self.url + path) as response:
            return response.status, await response.text()


def chat_of(update: dict[str, Any]) -> int:
    """The chat an update belongs to."""
    if "message" in update:
        return update["message"]["chat"]["id"]
    return update["callback_query"]["message"]["chat"]["id"]


class Distributor:
    """Takes the updates parents make on the fake and POSTs them to the replicas."""

    def __init__(self, api: FakeBotApi, replicas: list[Replica], *, duplicates: float = 0.15,
                 seed: int = 7, timeout: float = 10.0, path: str = "/telegram") -> None:
        self.api = api
        self.replicas = replicas
        self.duplicates = duplicates
        self.rng = random.Random(seed)
        self.timeout = timeout
        self.path = path
        self.acknowledged: dict[int, list[int]] = defaultdict(list)  # chat -> update ids
        self.copies = 0  # deliveries duplicated on purpose
        self.retries = 0  # deliveries that got no 2xx and were tried again
        self.statuses: dict[int, int] = defaultdict(int)
        self._open = 0  # updates taken and not yet acknowledged
        self._queues: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._extra: set[asyncio.Task[bool]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._pump: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Distributor:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout))
        self._pump = asyncio.create_task(self._take())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._pump is not None and self._session is not None
        self._pump.cancel()
        for task in [*self._workers.values(), *self._extra]:
            task.cancel()
        await asyncio.gather(self._pump, *self._workers.values(), *self._extra,
                             return_exceptions=True)
        await self._session.close()

    async def _take(self) -> None:
        """Move each new update of the fake to its chat's queue."""
        while True:
            while self.api._updates:
                update = self.api._updates.popleft()
                chat = chat_of(update)
                if chat not in self._queues:
                    self._queues[chat] = asyncio.Queue()
                    self._workers[chat] = asyncio.create_task(self._chat(chat))
                self._open += 1
                self._queues[chat].put_nowait(update)
            # asyncio.wait, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that meets a wake-up, and the pump would never stop.
            waiter = asyncio.ensure_future(self.api._changed.wait())
            try:
                await asyncio.wait({waiter}, timeout=0.1)
            finally:
                waiter.cancel()

    async def _chat(self, chat: int) -> None:
        """One update of the chat at a time, each until a replica acknowledged it."""
        queue = self._queues[chat]
        while True:
            update = await queue.get()
            tries = [asyncio.create_task(self._until_acknowledged(update))]
            if self.rng.random() < self.duplicates:
                self.copies += 1
                tries.append(asyncio.create_task(self._until_acknowledged(update)))
            _, pending = await asyncio.wait(tries, return_when=asyncio.FIRST_COMPLETED)
            self._extra.update(pending)
            for task in pending:
                task.add_done_callback(self._extra.discard)
            self.acknowledged[chat].append(update["update_id"])
            self._open -= 1

    async def _until_acknowledged(self, update: dict[str, Any]) -> bool:
        assert self._session is not None
        while True:
            replica = self.rng.choice(self.replicas)
            try:
                async with self._session.post(
                        replica.url + self.path, json=update,
                        headers={SECRET_HEADER: SECRET}) as response:
                    self.statuses[response.status] += 1
                    if 200 <= response.status < 300:
                        return True
            except (aiohttp.ClientError, OSError, TimeoutError):
                self.statuses[0] += 1
            self.retries += 1
            await asyncio.sleep(0.05 + self.rng.random() * 0.1)

    async def idle(self, timeout: float) -> None:
        """Wait until every update so far was acknowledged (and the copies too)."""
        async with asyncio.timeout(timeout):
            while self.api._updates or self._open:
                await asyncio.sleep(0.05)
            while self._extra:
                await asyncio.gather(*list(self._extra), return_exceptions=True)


def distinct_questions(kb: Any, count: int) -> list[str]:
    """Questions the matcher answers each with its own topic (so the answer tells which)."""
    from otbot.understanding.matcher import Matcher

    matcher = Matcher(kb)
    found = []
    for entry in kb.entries.values():
        decision = matcher.decide(entry.question)
        if decision.kind == "answer" and decision.topic == entry.id:
            found.append(entry.question)
    assert len(found) >= count
    return found[:count]


def shared_question(message: dict[str, Any]) -> str | None:
    """The question an answer's share button carries: it tells which answer this is."""
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if "switch_inline_query" in button:
                return button["switch_inline_query"]
    return None


def without_repeats(shown: list[Any]) -> tuple[list[Any], int]:
    """The answers with a reply sent twice in a row (a kill mid-send) counted and left out."""
    kept: list[Any] = []
    repeats = 0
    for item in shown:
        if kept and kept[-1] == item:
            repeats += 1
        else:
            kept.append(item)
    return kept, repeats


# Replies to different chats are sent concurrently, so a kill can catch a few in flight at
# once, each of which goes out again after the restart. What a parent can notice is bounded:
# at most one answer shown twice in a chat, and no more repeats than the process has Bot API
# connections to send them on.
MAX_IN_FLIGHT = CONNECTIONS


def leaked(lines: list[str], texts: list[str]) -> list[str]:
    """Log lines that quote any of the parents' texts."""
    return [line for line in lines if any(text.lower() in line.lower() for text in texts)]
