"""Where conversations live between messages: one protocol, a database behind it."""

from otbot.store.protocol import Received, Retention, Store
from otbot.store.sqlite import SqliteStore

__all__ = ["Received", "Retention", "SqliteStore", "Store"]
