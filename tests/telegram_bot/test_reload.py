"""Reloading the knowledge base while the bot runs: /reload by an admin, and SIGHUP."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest
from botharness import Parent, data_of, labels, running_bot
from botprocess import bot_process
from fakebotapi import FakeBotApi

from otbot.kb import KnowledgeBase, default_dir

ADMIN = 5550001
PARENT = 5550002
MARK = "Bouncezilla"  # only the new entry's answer says this
QUESTION = "Are trampoline parks good sensory play for my child?"
NEW_ENTRY = f"""- id: trampoline-parks
  question: {QUESTION}
  alternates:
    - is a trampoline park good sensory play
    - trampoline parks for sensory seeking kids
    - should my child go to a trampoline park
  keywords: [trampoline, trampoline park]
  answer: |
    Trampoline parks give lots of movement input, which many sensory seekers enjoy. Ask for
    quiet hours, and try <b>{MARK}</b> sessions for younger children.
"""
BROKEN = """- id: Not A Valid Id
  question: What is this?
  related: [no-such-topic]
"""


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    """A copy of the shipped knowledge folder that the test may change."""
    folder = tmp_path / "knowledge"
    shutil.copytree(default_dir(), folder)
    return folder


def add_entry(folder: Path) -> None:
    """A new FAQ file with one new topic."""
    (folder / "faq" / "trampolines.yaml").write_text(NEW_ENTRY, encoding="utf-8")


def remove_entry(folder: Path) -> None:
    """Take the new topic out again."""
    (folder / "faq" / "trampolines.yaml").unlink()


def break_folder(folder: Path) -> None:
    """An FAQ file with errors."""
    (folder / "faq" / "broken.yaml").write_text(BROKEN, encoding="utf-8")


async def test_an_admin_reload_of_a_good_folder_serves_the_new_entry(
        fake_api: FakeBotApi, tmp_path: Path, knowledge: Path, shipped_kb: KnowledgeBase
        ) -> None:
    """/reload: the admin is told the new size and version; the new topic answers."""
    admin, parent = Parent(fake_api, ADMIN), Parent(fake_api, PARENT)
    async with running_bot(fake_api, tmp_path, knowledge_dir=str(knowledge),
                           admin_ids=frozenset({ADMIN})):
        [before] = await parent.say(QUESTION)
        add_entry(knowledge)
        [done] = await admin.say("/reload")
        [after] = await parent.say(QUESTION)
        [known] = await parent.say("Is OT covered by insurance?")
    assert MARK not in before["text"]
    assert "reloaded" in done["text"] and f"{len(shipped_kb.entries) + 1} topics" in done["text"]
    assert MARK in after["text"] and "Was this helpful?" in after["text"]
    assert "insurance" in known["text"].lower()
    assert fake_api.rejected == [], fake_api.dump_calls()


async def test_an_admin_reload_of_a_broken_folder_says_why_and_keeps_serving(
        fake_api: FakeBotApi, tmp_path: Path, knowledge: Path) -> None:
    """The admin reads the problems (file and line); parents keep the knowledge running."""
    admin, parent = Parent(fake_api, ADMIN), Parent(fake_api, PARENT)
    async with running_bot(fake_api, tmp_path, knowledge_dir=str(knowledge),
                           admin_ids=frozenset({ADMIN})):
        add_entry(knowledge)
        await admin.say("/reload")
        break_folder(knowledge)
        remove_entry(knowledge)
        [refused] = await admin.say("/reload")
        [still] = await parent.say(QUESTION)  # the last good knowledge, new entry and all
        [known] = await parent.say("Is OT covered by insurance?")
    assert "has errors" in refused["text"] and "kept the one already running" in refused["text"]
    assert "broken.yaml" in refused["text"]
    assert MARK in still["text"]
    assert "insurance" in known["text"].lower()
    assert fake_api.rejected == [], fake_api.dump_calls()


@pytest.mark.parametrize("command", ["/reload", "/stats"])
async def test_a_parent_who_is_not_an_admin_gets_the_unknown_command_reply(
        fake_api: FakeBotApi, tmp_path: Path, knowledge: Path, command: str) -> None:
    """Admin commands do not exist for anyone else, and do nothing."""
    parent = Parent(fake_api, PARENT)
    async with running_bot(fake_api, tmp_path, knowledge_dir=str(knowledge),
                           admin_ids=frozenset({ADMIN})):
        add_entry(knowledge)
        [reply] = await parent.say(command)
        [after] = await parent.say(QUESTION)
    assert "don't know that command" in reply["text"]
    assert MARK not in after["text"]  # nothing was reloaded


async def test_a_button_whose_topic_was_removed_by_a_reload_is_out_of_date(
        fake_api: FakeBotApi, tmp_path: Path, knowledge: Path) -> None:
    """An answer's buttons from before the reload: answered, and called out of date."""
    admin, parent = Parent(fake_api, ADMIN), Parent(fake_api, PARENT)
    add_entry(knowledge)
    async with running_bot(fake_api, tmp_path, knowledge_dir=str(knowledge),
                           admin_ids=frozenset({ADMIN})):
        [answer] = await parent.say(QUESTION)
        assert MARK in answer["text"]
        remove_entry(knowledge)
        await admin.say("/reload")
        [stale] = await parent.press(answer, "Helpful")
        [again] = await parent.press_data(answer["message_id"], "1:a:trampoline-parks")
    for reply in (stale, again):
        assert "out of date" in reply["text"] and "Browse topics" in " ".join(labels(reply))
    assert fake_api.unanswered_callbacks() == []
    assert data_of(answer, "Helpful").endswith("trampoline-parks:y")
    assert fake_api.rejected == [], fake_api.dump_calls()


async def test_sighup_reloads_the_running_process(
        fake_api: FakeBotApi, tmp_path: Path, knowledge: Path) -> None:
    """`kill -HUP` on `otbot run`: a good folder is served, a broken one is logged and ignored."""
    parent = Parent(fake_api, PARENT)
    async with bot_process(fake_api, tmp_path / "data",
                           OTBOT_KNOWLEDGE_DIR=str(knowledge)) as bot:
        [before] = await parent.say(QUESTION)
        add_entry(knowledge)
        bot.signal(signal.SIGHUP)
        await bot.wait_for_log("knowledge reloaded")
        [after] = await parent.say(QUESTION)
        break_folder(knowledge)
        bot.signal(signal.SIGHUP)
        await bot.wait_for_log("reload rejected")
        [still] = await parent.say(QUESTION)
    assert MARK not in before["text"]
    assert MARK in after["text"] and MARK in still["text"]
    assert bot.process is not None and bot.process.returncode == 0
