"""Fixtures shared by the test modules."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fakebotapi import TOKEN, FakeBotApi

from otbot.kb import KnowledgeBase, default_dir, load_knowledge

logging.getLogger("httpx").setLevel(logging.WARNING)  # httpx logs URLs, which contain the token


@pytest.fixture(scope="session")
def shipped_kb() -> KnowledgeBase:
    """The knowledge base that ships with otbot, loaded once."""
    return load_knowledge(default_dir())


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    """A copy of the shipped knowledge folder, free to change."""
    copy = tmp_path / "knowledge"
    shutil.copytree(default_dir(), copy)
    return copy


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotApi]:
    """A strict fake Telegram; fails the test if a button press was never answered."""
    async with FakeBotApi(token=TOKEN) as api:
        yield api
        assert api.unanswered_callbacks() == [], f"unanswered button presses:\n{api.dump_calls()}"


TWINS = """\
- id: apples-red
  question: Tell me about red apples
  alternates: [what about apples, apples for children]
  answer: Red apples are sweet.
- id: apples-green
  question: Tell me about green apples
  alternates: [what about apples, apples for children]
  answer: Green apples are sour.
"""


@pytest.fixture
def twins_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A knowledge folder whose two entries are worded alike: "what about apples" is unclear."""
    folder = tmp_path_factory.mktemp("twins")
    (folder / "faq").mkdir()
    (folder / "faq" / "apples.yaml").write_text(TWINS)
    return folder
