"""/reload tells the admin the file, the line and the fix of a malformed value, in the chat."""

from __future__ import annotations

import shutil
from pathlib import Path

from botharness import Parent, running_bot
from fakebotapi import FakeBotApi

from otbot.kb import default_dir

ADMIN = 5550011


async def test_a_bad_date_is_told_to_the_admin_with_its_file_and_line(
        fake_api: FakeBotApi, tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(default_dir(), knowledge)
    admin = Parent(fake_api, ADMIN)
    async with running_bot(fake_api, tmp_path, knowledge_dir=str(knowledge),
                           admin_ids=frozenset({ADMIN})):
        (knowledge / "faq" / "new.yaml").write_text(
            "- id: new-topic\n  question: New?\n  alternates: [new]\n  answer: New.\n"
            "  reviewed: 2026-13-45\n", encoding="utf-8")
        [refused] = await admin.say("/reload")
    assert "kept the one already running" in refused["text"]
    assert ("knowledge/faq/new.yaml:5: 'reviewed': 2026-13-45 is not a real date (month must "
            "be in 1..12); write it as year-month-day, like 2026-01-31") in refused["text"]
    assert "went wrong" not in refused["text"]
    assert fake_api.rejected == [], fake_api.dump_calls()
