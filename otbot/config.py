"""Settings from the environment, checked once at start-up with messages a person can act on."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from otbot.kb import default_dir

TOKEN_PATTERN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Config:
    """Everything `otbot run` needs to know."""

    token: str
    base_url: str = DEFAULT_BASE_URL
    data_dir: Path = Path("data")
    knowledge_dir: str | None = None
    admin_ids: frozenset[int] = frozenset()
    log_level: str = "INFO"
    log_misses: bool = True
    retention_days: int = 30
    misses_days: int = 90
    database_url: str | None = None  # postgresql://... for replicas; None: SQLite in data_dir
    webhook_secret: str | None = None  # what Telegram sends with every webhook update
    send_rate: float = 20.0  # messages a second to Telegram, all replicas together; 0: no pacing

    @property
    def knowledge_path(self) -> Path:
        """The knowledge folder to serve."""
        return knowledge_folder(self.knowledge_dir, {})

    def __repr__(self) -> str:
        # The token must never reach a log or a traceback through a repr.
        # The database URL may hold a password, the webhook secret is one.
        database = "postgresql" if self.database_url else f"sqlite in {self.data_dir!s}"
        return f"Config(database={database}, admins={len(self.admin_ids)})"


def knowledge_folder(explicit: str | None = None, env: Mapping[str, str] | None = None,
                     cwd: Path | None = None) -> Path:
    """The knowledge folder, in the documented order.

    --knowledge, then OTBOT_KNOWLEDGE_DIR, then ./knowledge when it holds an faq/ folder (a
    maintainer's checkout: edits there take effect), then the copy shipped in the package.
    """
    env = os.environ if env is None else env
    chosen = explicit or env.get("OTBOT_KNOWLEDGE_DIR", "").strip()
    if chosen:
        return Path(chosen)
    local = (cwd or Path.cwd()) / "knowledge"
    return local if (local / "faq").is_dir() else default_dir()


def data_folder(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Path:
    """Where the database lives: --data, else OTBOT_DATA_DIR, else ./data."""
    env = os.environ if env is None else env
    return Path(explicit or env.get("OTBOT_DATA_DIR", "").strip() or "data")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name} must be a whole number of days, 1 or more (got {raw!r})")
    return int(raw)


def _admins(raw: str) -> frozenset[int]:
    ids = [part.strip() for part in raw.replace(";", ",").split(",") if part.strip()]
    bad = [part for part in ids if not part.lstrip("-").isdigit()]
    if bad:
        raise ConfigError("OTBOT_ADMIN_IDS must be Telegram user ids separated by commas "
                          f"(not {', '.join(map(repr, bad))})")
    return frozenset(int(part) for part in ids)


def from_env(env: Mapping[str, str] | None = None) -> Config:
    """Read the configuration; raise ConfigError with a fix-it message when it is wrong."""
    env = os.environ if env is None else env
    token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set. Get a token from @BotFather and run "
                          "TELEGRAM_BOT_TOKEN=... otbot run (or try `otbot chat`, which "
                          "needs none)")
    if not TOKEN_PATTERN.match(token):
        raise ConfigError("TELEGRAM_BOT_TOKEN does not look like a bot token "
                          "(digits, a colon, then letters, digits, - and _); check for quotes or "
                          "spaces")
    level = env.get("OTBOT_LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if level not in logging.getLevelNamesMapping():
        raise ConfigError(f"OTBOT_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR (got {level!r})")
    database_url = env.get("OTBOT_DATABASE_URL", "").strip() or None
    if database_url and not database_url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("OTBOT_DATABASE_URL must be a postgresql://user:password@host/db URL "
                          "(leave it unset to keep the SQLite file in OTBOT_DATA_DIR)")
    secret = env.get("TELEGRAM_WEBHOOK_SECRET", "").strip() or None
    if secret is not None and not WEBHOOK_SECRET.match(secret):
        raise ConfigError("TELEGRAM_WEBHOOK_SECRET must be 1 to 256 characters A-Z, a-z, 0-9, "
                          "_ and - (Telegram's rule for secret_token)")
    rate_text = env.get("OTBOT_SEND_RATE", "").strip()
    try:
        send_rate = float(rate_text) if rate_text else 20.0
    except ValueError:
        send_rate = -1.0
    if not 0 <= send_rate <= 30:
        raise ConfigError(f"OTBOT_SEND_RATE must be messages a second, 0 to 30 (got {rate_text!r})")
    base_url = env.get("TELEGRAM_API_BASE_URL", "").strip() or DEFAULT_BASE_URL
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError("TELEGRAM_API_BASE_URL must start with http:// or https://")
    return Config(
        token=token,
        base_url=base_url,
        data_dir=data_folder(None, env),
        knowledge_dir=str(knowledge_folder(None, env)),
        admin_ids=_admins(env.get("OTBOT_ADMIN_IDS", "")),
        log_level=level,
        log_misses=env.get("OTBOT_LOG_MISSES", "1").strip() not in {"0", "false", "no", "off"},
        retention_days=_int(env, "OTBOT_RETENTION_DAYS", 30),
        misses_days=_int(env, "OTBOT_MISSES_DAYS", 90),
        database_url=database_url,
        webhook_secret=secret,
        send_rate=send_rate,
    )


class RedactToken(logging.Filter):
    """Replaces the token in every log record: httpx logs request URLs that contain it."""

    def __init__(self, token: str, *secrets: str | None) -> None:
        super().__init__()
        self.token = token
        self.secrets = [(token, "<token>")] + [(s, "<secret>") for s in secrets if s]

    def _mask(self, text: str) -> str:
        for secret, mask in self.secrets:
            text = text.replace(secret, mask)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with the token (and the webhook secret) masked."""
        message = record.getMessage()
        masked = self._mask(message)
        if masked != message:
            record.msg = masked
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self._mask(
                logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def setup_logging(config: Config) -> None:
    """Log to stderr at the configured level, never the token, never httpx's URLs."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactToken(config.token, config.webhook_secret))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.log_level)
    # httpx logs every request URL at INFO, and the URL holds the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # At DEBUG, python-telegram-bot logs whole updates: parents' messages stay out of logs.
    logging.getLogger("telegram").setLevel(max(root.level, logging.INFO))
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    # aiohttp's access log names no parent, but its error log can quote a request: keep it out.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("psycopg.pool").setLevel(logging.WARNING)
