"""The Telegram adapter: python-telegram-bot's Application, sending, rate limits."""
