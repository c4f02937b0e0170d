"""A draft never reaches a parent: not as an answer, a choice, a topic, a deep link or inline."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from otbot.dialog.conversation import Conversation, Event, EventKind, parse_command
from otbot.kb import default_dir, load_knowledge

NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
DRAFT = """\
- id: wobble-boards
  question: Are wobble boards good for balance?
  alternates: [wobble boards, is a wobble board good for balance, wobble board for my son]
  keywords: [wobble]
  answer: WOBBLEMARK They can be, with an adult close by.
  draft: true
"""


def test_a_draft_is_never_shown(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(default_dir(), folder)
    (folder / "faq" / "drafts.yaml").write_text(DRAFT, encoding="utf-8")
    kb = load_knowledge(folder)
    assert "wobble-boards" in kb.drafts and "wobble-boards" not in kb.entries
    bot = Conversation(kb)
    seen = []
    for text in ("are wobble boards good for balance", "wobble board for my son",
                 "/start topic-wobble-boards", "/topics"):
        command = parse_command(text)
        event = (Event(EventKind.COMMAND, text=command[2], command=command[0], now=NOW)
                 if command else Event(EventKind.TEXT, text=text, now=NOW))
        turn, _ = bot.handle(event, {})
        seen += [reply.text for reply in turn.replies]
        seen += [button.label for reply in turn.replies for row in reply.buttons for button in row]
    assert seen and not any("WOBBLEMARK" in text or "wobble boards good" in text.lower()
                            for text in seen)
    assert all(e.id != "wobble-boards" for e in bot.inline_entries("wobble boards", 5))
