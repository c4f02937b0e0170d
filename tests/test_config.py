"""Configuration from the environment: clear messages, no token anywhere it should not be."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from otbot.config import ConfigError, RedactToken, from_env, knowledge_folder
from otbot.kb import default_dir

TOKEN = "123456:AAbbCCddEEffGGhhIIjjKKllMMnn"


def test_defaults_and_every_setting() -> None:
    config = from_env({"TELEGRAM_BOT_TOKEN": TOKEN})
    assert config.data_dir == Path("data") and config.log_misses and config.retention_days == 30
    config = from_env({
        "TELEGRAM_BOT_TOKEN": f"  {TOKEN} ", "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot",
        "OTBOT_DATA_DIR": "/var/otbot", "OTBOT_ADMIN_IDS": "12, 34;56", "OTBOT_LOG_LEVEL": "debug",
        "OTBOT_LOG_MISSES": "0", "OTBOT_RETENTION_DAYS": "7", "OTBOT_MISSES_DAYS": "14",
    })
    assert config.token == TOKEN and config.base_url == "http://127.0.0.1:8081/bot"
    assert config.admin_ids == {12, 34, 56} and config.log_level == "DEBUG"
    assert not config.log_misses and (config.retention_days, config.misses_days) == (7, 14)


@pytest.mark.parametrize(("env", "message"), [
    ({}, "TELEGRAM_BOT_TOKEN is not set"),
    ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "does not look like a bot token"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "OTBOT_ADMIN_IDS": "alice"}, "OTBOT_ADMIN_IDS"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "OTBOT_LOG_LEVEL": "LOUD"}, "OTBOT_LOG_LEVEL"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "OTBOT_RETENTION_DAYS": "-1"}, "OTBOT_RETENTION_DAYS"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": "ftp://x"}, "TELEGRAM_API_BASE_URL"),
])
def test_bad_settings_say_which_and_how(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        from_env(env)
    assert "not-a-token" not in str(raised.value)


def test_the_token_is_redacted_from_log_records_and_tracebacks() -> None:
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1,
                               "POST https://api.telegram.org/bot%s/getMe", (TOKEN,), None)
    try:
        raise RuntimeError(f"failed https://api.telegram.org/bot{TOKEN}/sendMessage")
    except RuntimeError as error:
        record.exc_info = (RuntimeError, error, error.__traceback__)
    RedactToken(TOKEN).filter(record)
    shown = logging.Formatter().format(record)
    assert TOKEN not in shown and "<token>" in shown


def test_repr_hides_the_token() -> None:
    assert TOKEN not in repr(from_env({"TELEGRAM_BOT_TOKEN": TOKEN}))


def test_the_knowledge_folder_order(tmp_path: Path) -> None:
    """--knowledge, then OTBOT_KNOWLEDGE_DIR, then ./knowledge with faq/, then the shipped one."""
    (tmp_path / "knowledge" / "faq").mkdir(parents=True)
    env = {"OTBOT_KNOWLEDGE_DIR": "/from/env"}
    assert knowledge_folder("/explicit", env, tmp_path) == Path("/explicit")
    assert knowledge_folder(None, env, tmp_path) == Path("/from/env")
    assert knowledge_folder(None, {}, tmp_path) == tmp_path / "knowledge"
    assert knowledge_folder(None, {}, tmp_path / "knowledge") == default_dir()
