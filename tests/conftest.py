"""Fixtures shared by the test modules."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from fakebotapi import FakeBotApi

from otbot.knowledge import KnowledgeBase, default_dir, load_knowledge

TOKEN = "123456:TEST-token-for-otbot-tests_0123"  # shaped like a real one: otbot checks

logging.getLogger("httpx").setLevel(logging.WARNING)  # httpx logs URLs, which contain the token


@pytest.fixture(scope="session")
def shipped_kb() -> KnowledgeBase:
    """The knowledge base that ships with otbot, loaded once."""
    return load_knowledge(default_dir())


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotApi]:
    """A strict fake Telegram; fails the test if a button press was never answered."""
    async with FakeBotApi(token=TOKEN) as api:
        yield api
        assert api.unanswered_callbacks() == [], f"unanswered button presses:\n{api.dump_calls()}"
