"""The real `otbot run` in a subprocess, polling the fake Bot API served by the test's loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from fakebotapi import FakeBotApi

START_TIMEOUT = 30.0  # seconds for a cold `python -m otbot run` to import, load and poll
STOP_TIMEOUT = 15.0


def bot_env(api: FakeBotApi, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment `otbot run` needs: the fake server, its token, data kept in data_dir."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TELEGRAM_", "OTBOT_"))}
    env.update(TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_API_BASE_URL=api.base_url,
               OTBOT_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


class BotProcess:
    """One `python -m otbot run` process: start it, wait for its logs, kill or stop it."""

    def __init__(self, api: FakeBotApi, data_dir: Path, **env: str) -> None:
        """Not started yet; env adds to (or overrides) the variables of bot_env."""
        self.api = api
        self.env = bot_env(api, data_dir, **env)
        self.process: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []  # stderr, every run of this object, in order
        self._new_line = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        """The running process's id."""
        assert self.process is not None, "not started"
        return self.process.pid

    async def start(self) -> None:
        """Start `otbot run` and wait until it long-polls the fake server."""
        assert self.process is None or self.process.returncode is not None, "already running"
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "otbot", "run", env=self.env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        self._reader = asyncio.create_task(self._read(self.process))
        started = asyncio.create_task(self._polling())
        exited = asyncio.create_task(self.process.wait())
        await asyncio.wait({started, exited}, return_when=asyncio.FIRST_COMPLETED)
        exited.cancel()
        if not started.done():
            started.cancel()
            await self._finish()
            raise AssertionError(f"otbot run exited with {self.process.returncode} before "
                                 f"polling:\n{self.output}")
        started.result()

    async def _polling(self) -> None:
        """Wait until this process polls: deleteWebhook, then a pending getUpdates."""
        # deleteWebhook is the last call before polling starts (getMe and setMyCommands come
        # first); each start consumes its own, so a poll of a killed process cannot fool us.
        await self.api.wait_for_call("deleteWebhook", timeout=START_TIMEOUT)
        await self.api.wait_until_polling(timeout=START_TIMEOUT)

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        """Collect the process's output line by line, so its pipe never fills."""
        assert process.stdout is not None
        while line := await process.stdout.readline():
            self.lines.append(line.decode("utf-8", "replace").rstrip("\n"))
            self._new_line.set()
            self._new_line = asyncio.Event()

    @property
    def output(self) -> str:
        """Everything the process printed so far."""
        return "\n".join(self.lines)

    async def wait_for_log(self, text: str, timeout: float = 10.0) -> str:
        """The first output line containing text (waiting for it)."""
        async with asyncio.timeout(timeout):
            while True:
                found = next((line for line in self.lines if text in line), None)
                if found is not None:
                    return found
                await self._new_line.wait()

    def signal(self, signum: int) -> None:
        """Send a signal to the running process."""
        os.kill(self.pid, signum)

    async def kill(self) -> None:
        """kill -9: no shutdown, no flush, nothing the bot can react to."""
        self.signal(signal.SIGKILL)
        await self._finish()

    async def stop(self) -> int:
        """SIGTERM, as `docker stop` does; return the exit code."""
        if self.process is None or self.process.returncode is not None:
            return self.process.returncode if self.process else 0
        self.signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await self._finish()
        except TimeoutError:
            await self.kill()
        assert self.process.returncode is not None
        return self.process.returncode

    async def _finish(self) -> None:
        """Wait for the process to exit and its output to be read."""
        assert self.process is not None
        await self.process.wait()
        if self._reader is not None:
            await self._reader


@contextlib.asynccontextmanager
async def bot_process(api: FakeBotApi, data_dir: Path, **env: str) -> AsyncIterator[BotProcess]:
    """A started `otbot run`, stopped (or killed) when the block ends, even on failure."""
    bot = BotProcess(api, data_dir, **env)
    await bot.start()
    try:
        yield bot
    finally:
        with contextlib.suppress(ProcessLookupError):
            await bot.stop()
