# otbot: the Telegram bot. Build: docker build -t otbot .
# Run:   docker run -e TELEGRAM_BOT_TOKEN=... -v otbot-data:/data otbot
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OTBOT_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY otbot ./otbot
COPY knowledge ./knowledge
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin otbot \
    && mkdir -p /data \
    && chown otbot /data

USER 10001
VOLUME ["/data"]
# The bot is healthy while its knowledge base loads and its database is writable.
HEALTHCHECK --interval=60s --timeout=10s --start-period=20s --retries=3 \
    CMD ["otbot", "health"]
# Exec form: otbot itself is PID 1 and gets SIGTERM, so it stops cleanly.
CMD ["otbot", "run"]
