"""Nothing leaks: the token never reaches a log, an error or a message; parents' words stay out
of the logs; a bad token is refused with a clear message and no traceback."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from botharness import data_of, running_bot
from botprocess import BotProcess, bot_env
from fakebotapi import TOKEN, FakeBotApi

from otbot.config import Config, RedactToken, setup_logging

SECRET = TOKEN.split(":", 1)[1]  # the part that makes it a secret
CHAT = 9300
# What the parent writes: words no log line has any business containing.
QUESTION = "Does insurance cover OT for my son Zebulon Quixley?"
SCREAM = "Zebulon keeps biting Quixley at daycare"
PRIVATE_WORDS = ("Zebulon", "Quixley")


def leaks(text: str) -> list[str]:
    """The lines of text that show the token or its secret part."""
    return [line for line in text.splitlines() if SECRET in line or TOKEN in line]


@dataclass
class DebugRun:
    """What `otbot run` at DEBUG printed during a conversation with errors, and what it sent."""

    output: str
    sent: str
    exit_code: int


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def debug_run(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DebugRun]:
    """Run `otbot run` with OTBOT_LOG_LEVEL=DEBUG through answers, buttons and failures."""
    async with FakeBotApi(token=TOKEN) as api:
        bot = BotProcess(api, tmp_path_factory.mktemp("secrets"), OTBOT_LOG_LEVEL="DEBUG")
        await bot.start()
        try:
            api.send_text(CHAT, "/start")
            [welcome] = await api.wait_for_replies(CHAT, timeout=10)
            api.send_text(CHAT, QUESTION)
            [answer] = await api.wait_for_replies(CHAT, timeout=10)
            api.fail_next("sendMessage", status=400)  # Telegram rejects a reply: logged
            api.send_text(CHAT, SCREAM)
            await api.wait_for_call("sendMessage", lambda c: c.status == 400, timeout=10)
            api.fail_next("answerCallbackQuery", status=429, retry_after=1)
            api.press_button(CHAT, answer["message_id"], data_of(answer, "Helpful"))
            await api.wait_for_replies(CHAT, timeout=10)
            await api.wait_for_call("answerCallbackQuery", lambda c: c.ok, timeout=10)
            api.fail_next("getUpdates", status=500)  # PTB logs this with a traceback
            api.send_text(CHAT, "hello")
            await api.wait_for_replies(CHAT, timeout=10)
            await api.wait_for_call("getUpdates", lambda c: c.status == 500, timeout=10)
            api.send_text(CHAT, "/topics")
            await api.wait_for_replies(CHAT, timeout=10)
            assert welcome
        finally:
            code = await bot.stop()
        sent = "\n".join(repr(call.params) + repr(call.result) for call in api.calls)
        yield DebugRun(bot.output, sent, code)


@pytest.mark.asyncio(loop_scope="module")
async def test_otbot_run_at_debug_never_prints_the_token(debug_run: DebugRun) -> None:
    """Every line `otbot run` printed, errors and tracebacks included, is free of the token."""
    assert "DEBUG" in debug_run.output and "Telegram rejected a reply" in debug_run.output
    assert "Traceback" in debug_run.output  # the failed poll: tracebacks were checked too
    assert leaks(debug_run.output) == []
    assert debug_run.exit_code == 0


@pytest.mark.asyncio(loop_scope="module")
async def test_the_bot_never_sends_its_token_to_anyone(debug_run: DebugRun) -> None:
    """No request parameter or message the bot sent contains the token."""
    assert SECRET not in debug_run.sent


@pytest.mark.asyncio(loop_scope="module")
async def test_otbot_run_at_debug_never_logs_what_parents_wrote(debug_run: DebugRun) -> None:
    """Health questions stay out of the logs, even at DEBUG."""
    shown = [line[:160] for line in debug_run.output.splitlines()
             if any(word in line for word in PRIVATE_WORDS)]
    assert shown == []


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Logging exactly as `otbot run` sets it up at DEBUG, written to a string."""
    root = logging.getLogger()
    before, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    setup_logging(Config(token=TOKEN, log_level="DEBUG"))
    [handler] = root.handlers
    stream = io.StringIO()
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    root.handlers[:] = [handler, *before]  # pytest's own capture keeps working
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        for name, old in quiet.items():
            logging.getLogger(name).setLevel(old)


async def test_a_handler_exception_carrying_the_token_is_logged_without_it(
        fake_api: FakeBotApi, tmp_path: Path, debug_log: io.StringIO) -> None:
    """A library error that quotes the request URL: logged with its traceback, token masked."""
    async with running_bot(fake_api, tmp_path) as app:
        runtime = app.bot_data["runtime"]
        url = f"{fake_api.base_url}{fake_api.token}/sendMessage"

        def broken(*args: object) -> None:
            """Fail like a library that puts the request URL in its error."""
            raise RuntimeError(f"request to {url} failed")

        runtime.conversation.handle = broken
        fake_api.send_text(CHAT, "what is OT")
        [sorry] = await fake_api.wait_for_replies(CHAT)
    output = debug_log.getvalue()
    assert "Sorry, something went wrong" in sorry["text"]
    assert "failed to handle update" in output and "RuntimeError" in output
    assert "request to http://127.0.0.1" in output  # the traceback is there, masked
    assert leaks(output) == []
    assert fake_api.rejected == []


def test_the_redact_filter_masks_messages_arguments_and_tracebacks() -> None:
    """The filter `otbot run` installs covers every way the token can enter a record."""
    redact = RedactToken(TOKEN)
    plain = logging.LogRecord("httpx", logging.INFO, __file__, 1,
                              "POST %s", (f"https://api.telegram.org/bot{TOKEN}/getMe",), None)
    try:
        raise ValueError(f"bad token {TOKEN}")
    except ValueError:
        failed = logging.LogRecord("otbot", logging.ERROR, __file__, 1, "failed", (),
                                   sys.exc_info())
    assert redact.filter(plain) and redact.filter(failed)
    formatter = logging.Formatter("%(message)s")
    assert leaks(formatter.format(plain)) == [] and "<token>" in formatter.format(plain)
    assert leaks(formatter.format(failed)) == [] and "ValueError" in formatter.format(failed)


def test_repr_and_str_of_the_config_hide_the_token(tmp_path: Path) -> None:
    """A Config printed, logged or shown in an error shows no token."""
    config = Config(token=TOKEN, base_url="http://127.0.0.1:1/bot", data_dir=tmp_path,
                    admin_ids=frozenset({1}))
    for shown in (repr(config), str(config), f"{config}", f"{config!r}", repr([config]),
                  repr({"config": config})):
        assert leaks(shown) == [], shown


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m otbot run` with this environment, to completion."""
    return subprocess.run([sys.executable, "-m", "otbot", "run", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def cli_env(tmp_path: Path, token: str | None) -> dict[str, str]:
    """The environment for `otbot run`, with this token (or none at all)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TELEGRAM_", "OTBOT_"))}
    env.update(OTBOT_DATA_DIR=str(tmp_path), TELEGRAM_API_BASE_URL="http://127.0.0.1:9/bot")
    if token is not None:
        env["TELEGRAM_BOT_TOKEN"] = token
    return env


@pytest.mark.parametrize("token", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_otbot_run_without_a_token_exits_2_with_a_clear_message(
        tmp_path: Path, token: str | None) -> None:
    """Says what is missing and how to get it; no traceback."""
    result = run_cli(cli_env(tmp_path, token))
    assert result.returncode == 2, result.stderr
    assert "TELEGRAM_BOT_TOKEN is not set" in result.stderr and "BotFather" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("token", [
    "not-a-token-at-all-but-long-enough",
    "123456:short",
    f"'{TOKEN}'",
    f"{TOKEN[:10]} {TOKEN[10:]}",
    f"bot{TOKEN}",
    f"{TOKEN}\u200b",
], ids=["words", "short", "quoted", "space", "bot-prefix", "zero-width"])
def test_otbot_run_with_a_malformed_token_exits_2_without_printing_it(
        tmp_path: Path, token: str) -> None:
    """Explains the expected shape; never echoes what was given."""
    result = run_cli(cli_env(tmp_path, token))
    output = result.stderr + result.stdout
    assert result.returncode == 2, output
    assert "does not look like a bot token" in result.stderr
    assert "Traceback" not in output
    assert token.strip() not in output and token.split(":")[-1].strip("'\u200b") not in output


async def test_otbot_run_with_a_token_telegram_rejects_exits_cleanly_without_printing_it(
        fake_api: FakeBotApi, tmp_path: Path) -> None:
    """A revoked token: a clear message, exit 2, no traceback, no token."""
    revoked = "654321:REVOKED-token-for-otbot-tests_99"
    env = {**bot_env(fake_api, tmp_path), "TELEGRAM_BOT_TOKEN": revoked}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "otbot", "run", env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    output = out.decode()
    assert "Traceback" not in output, output[-600:]
    assert revoked.split(":")[1] not in output
    assert process.returncode == 2
