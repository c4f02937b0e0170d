"""End to end: the real Application polls a strict fake Telegram; parents talk to it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from botharness import Parent, buttons, data_of, labels, running_bot
from fakebotapi import FakeBotApi

from otbot.dialog.callbacks import encode
from otbot.dialog.replies import Button
from otbot.telegram_bot.send import keyboard

CHAT = 1001


@pytest.fixture
def parent(fake_api: FakeBotApi) -> Parent:
    """A parent in a private chat."""
    return Parent(fake_api, CHAT)


def assert_strict(api: FakeBotApi) -> None:
    """Telegram would have accepted every request the bot made."""
    assert api.rejected == [], api.dump_calls()


async def test_start_welcomes_with_the_menu_and_registers_commands(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path) -> None:
    async with running_bot(fake_api, tmp_path):
        [welcome] = await parent.say("/start")
    assert "not a therapist" in welcome["text"] and "diagnose" in welcome["text"]
    assert labels(welcome) == ["💬 Ask a question", "📚 Browse topics", "✅ Check the signs",
                               "🔒 Privacy"]
    [commands] = fake_api.commands.values()
    assert {c["command"] for c in commands} >= {"start", "help", "topics", "screen", "privacy",
                                                 "forget", "cancel"}
    assert_strict(fake_api)


async def test_deep_links_open_a_topic_or_the_screen(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path) -> None:
    async with running_bot(fake_api, tmp_path):
        [answer] = await parent.say("/start topic-insurance")
        [screen] = await parent.say("/start screen")
        [unknown] = await parent.say("/start topic-no-such-thing")
    assert "insurance" in answer["text"].lower() and "Was this helpful?" in answer["text"]
    assert "checklist" in screen["text"].lower() and "Start" in labels(screen)
    assert "Ask a question" in " ".join(labels(unknown))  # an unknown link: the welcome
    assert_strict(fake_api)


async def test_a_question_is_answered_with_related_topics_feedback_and_share(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path) -> None:
    async with running_bot(fake_api, tmp_path) as app:
        [answer] = await parent.say("Does insurance cover occupational therapy?")
        assert "Was this helpful?" in answer["text"]
        [voted] = await parent.press(answer, "Helpful")
        counts = app.bot_data["runtime"].store.topic_counts()
    assert "👍 Helpful" not in labels(voted)  # one vote per answer
    assert counts["insurance"] == (1, 1, 0)
    share = [b for b in buttons(answer) if "switch_inline_query" in b]
    assert share and share[0]["switch_inline_query"]
    assert fake_api.callback_answers  # the vote's toast
    assert_strict(fake_api)


async def test_follow_ups_are_read_with_the_last_answer(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path) -> None:
    async with running_bot(fake_api, tmp_path) as app:
        [answer] = await parent.say("my son walks on his toes all the time, he is 5")
        [more] = await parent.say("tell me more")
        [cost] = await parent.say("is it free?")
        kb = app.bot_data["runtime"].conversation.kb
    toes = kb.entries["toe-walking"]
    assert answer["text"].startswith(toes.answer[:40])
    assert more["text"].startswith(toes.more[:40])  # more on the same topic, not a repeat
    assert "Was this helpful?" in more["text"]
    # Another facet, what it costs: answered with a topic of its own, not toe-walking again.
    assert "Was this helpful?" in cost["text"] and toes.answer[:40] not in cost["text"]
    assert_strict(fake_api)


async def test_clarify_offers_buttons_and_none_of_these_leads_to_the_fallback(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path, twins_folder: Path) -> None:
    async with running_bot(fake_api, tmp_path, knowledge_dir=str(twins_folder)) as app:
        [clarify] = await parent.say("What about apples?")
        assert "not sure which" in clarify["text"]
        assert labels(clarify) == ["Tell me about red apples", "Tell me about green apples",
                                   "None of these", "✏️ Ask in other words"]
        [fallback] = await parent.press(clarify, "None of these")
        misses = app.bot_data["runtime"].store.miss_details()
    assert "don't have a good answer" in fallback["text"]
    assert fallback["message_id"] == clarify["message_id"]  # edited in place
    assert [(text, kind, taken) for text, _, kind, taken, _ in misses] == [
        ("what about apples", "clarify", "none")]
    assert_strict(fake_api)


async def test_a_clarify_choice_opens_that_answer(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path, twins_folder: Path) -> None:
    async with running_bot(fake_api, tmp_path, knowledge_dir=str(twins_folder)):
        [clarify] = await parent.say("what about apples")
        [answer] = await parent.press(clarify, "green apples")
    assert answer["text"].startswith("Green apples are sour.")
    assert_strict(fake_api)


async def test_fallback_says_so_and_offers_topics_and_screen(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path) -> None:
    async with running_bot(fake_api, tmp_path):
        [fallback] = await parent.say("what's the capital of Australia")
    assert "don't have a good answer" in fallback["text"]
    assert labels(fallback) == ["✏️ Ask in other words", "📚 Browse topics", "✅ Check the signs"]
    assert "emergency number" in fallback["text"]  # the safety line under an unsure reply
    assert_strict(fake_api)


async def test_urgent_gets_the_emergency_reply_alone(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path) -> None:
    async with running_bot(fake_api, tmp_path) as app:
        [urgent] = await parent.say("my son is choking and can't breathe")
        misses = app.bot_data["runtime"].store.misses()
    assert "emergency" in urgent["text"].lower() and "911" in urgent["text"]
    assert buttons(urgent) == []  # nothing competes with it
    assert misses == []  # urgent messages are never stored
    assert_strict(fake_api)


async def test_small_talk_gets_a_reply_in_kind(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path) -> None:
    async with running_bot(fake_api, tmp_path):
        [hello] = await parent.say("Hello!")
        [thanks] = await parent.say("thanks so much")
    assert hello["text"].startswith("Hello")
    assert "welcome" in thanks["text"].lower()
    assert_strict(fake_api)


async def test_browsing_themes_topics_an_answer_and_back(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path) -> None:
    async with running_bot(fake_api, tmp_path):
        [themes] = await parent.say("/topics")
        [theme] = await parent.press(themes, "School or private")
        assert theme["message_id"] == themes["message_id"]  # navigation edits in place
        [back] = await parent.press(theme, "Back")
        assert "Pick a theme" in back["text"]
        [theme] = await parent.press(back, "School or private")
        [answer] = await parent.press(theme, "insurance")
    assert "Was this helpful?" in answer["text"]
    assert_strict(fake_api)


async def test_the_same_button_twice_is_not_an_error(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path) -> None:
    async with running_bot(fake_api, tmp_path):
        [themes] = await parent.say("/topics")
        data = data_of(themes, "School or private")
        await parent.press_data(themes["message_id"], data)
        fake_api.press_button(CHAT, themes["message_id"], encode("m", "topics"), force=True)
        await fake_api.wait_for_call("answerCallbackQuery")
        fake_api.press_button(CHAT, themes["message_id"], encode("m", "topics"), force=True)
        await fake_api.wait_for_call("answerCallbackQuery")
    # The second "topics" edit would be "message is not modified": handled, never shown.
    assert [c.error for c in fake_api.rejected if "not modified" not in (c.error or "")] == []


async def test_buttons_from_old_messages_or_garbage_are_out_of_date(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path) -> None:
    async with running_bot(fake_api, tmp_path):
        [welcome] = await parent.say("/start")
        for data in ("0:a:insurance", encode("a", "removed-topic"), "garbage", "1:zz",
                     encode("t", "no-theme"), "x" * 64):
            [reply] = await parent.press_data(welcome["message_id"], data)
            assert "out of date" in reply["text"], data
            assert "Browse topics" in " ".join(labels(reply))
    assert_strict(fake_api)


async def test_forget_asks_first_then_deletes_everything(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path) -> None:
    async with running_bot(fake_api, tmp_path):
        [screen] = await parent.say("/screen")
        await parent.press(screen, "Start")
        [confirm] = await parent.say("/forget")
        assert labels(confirm) == ["Yes, delete everything", "No, keep it"]
        [done] = await parent.press(confirm, "Yes")
    assert "deleted" in done["text"]
    rows = sqlite3.connect(tmp_path / "otbot.sqlite3").execute(
        "SELECT COUNT(*) FROM chats WHERE chat_id = ?", (CHAT,)).fetchone()
    assert rows == (0,)
    assert_strict(fake_api)


async def test_state_survives_a_restart(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path) -> None:
    async with running_bot(fake_api, tmp_path):
        [screen] = await parent.say("/screen")
        [age] = await parent.press(screen, "Start")
    async with running_bot(fake_api, tmp_path):
        [question] = await parent.press(age, "3 to 5 years")
    assert "Question 1 of 8" in question["text"]
    assert_strict(fake_api)


@pytest.mark.parametrize("kind", [
    {"sticker": {"file_id": "s1", "file_unique_id": "u1", "width": 512, "height": 512,
                 "is_animated": False, "is_video": False, "type": "regular"}},
    {"photo": [{"file_id": "p1", "file_unique_id": "u2", "width": 90, "height": 90}],
     "caption": "is this normal?"},
    {"voice": {"file_id": "v1", "file_unique_id": "u3", "duration": 3}},
    {"video_note": {"file_id": "n1", "file_unique_id": "u4", "length": 240, "duration": 2}},
    {"document": {"file_id": "d1", "file_unique_id": "u5", "file_name": "report.pdf"}},
    {"location": {"latitude": 51.5, "longitude": -0.1}},
    {"contact": {"phone_number": "+100", "first_name": "Ann"}},
    {"animation": {"file_id": "a1", "file_unique_id": "u6", "width": 1, "height": 1,
                   "duration": 1}},
], ids=["sticker", "photo", "voice", "video_note", "document", "location", "contact", "gif"])
async def test_non_text_messages_get_a_note_that_the_bot_reads_text(
        fake_api: FakeBotApi, tmp_path: Path, kind: dict) -> None:
    async with running_bot(fake_api, tmp_path):
        fake_api.push_update({"message": {
            "chat": {"id": CHAT, "type": "private", "first_name": "P"},
            "from": fake_api.user(CHAT), **kind}})
        [note] = await fake_api.wait_for_replies(CHAT)
    assert "only read text" in note["text"]
    assert_strict(fake_api)


async def test_in_groups_only_commands_and_mentions_are_answered(
        fake_api: FakeBotApi, tmp_path: Path) -> None:
    group = -500
    async with running_bot(fake_api, tmp_path):
        fake_api.send_text(group, "what is OT?", chat_type="group", user_id=7)
        fake_api.send_text(group, "/help@some_other_bot", chat_type="group", user_id=7)
        fake_api.send_text(group, f"@{fake_api.username} does insurance cover OT?",
                           chat_type="group", user_id=7)
        [answer] = await fake_api.wait_for_replies(group)
        fake_api.send_text(group, f"/topics@{fake_api.username}", chat_type="group", user_id=7)
        [topics] = await fake_api.wait_for_replies(group)
    assert "insurance" in answer["text"].lower()
    assert "Pick a theme" in topics["text"]
    assert len(fake_api.chat(group)) == 2  # the chatter and the other bot's command: silence
    assert_strict(fake_api)


async def test_channel_posts_and_edits_are_ignored(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path) -> None:
    async with running_bot(fake_api, tmp_path):
        fake_api.push_update({"channel_post": {
            "chat": {"id": -100200, "type": "channel", "title": "News"}, "text": "what is OT"}})
        fake_api.push_update({"edited_message": {
            "chat": {"id": CHAT, "type": "private", "first_name": "P"},
            "from": fake_api.user(CHAT), "text": "what is OT", "edit_date": 1}})
        [hello] = await parent.say("hi")  # handled after both: they produced nothing
    assert hello["text"].startswith("Hello")
    assert fake_api.chat(-100200) == [] and len(fake_api.chat(CHAT)) == 1


async def test_an_edit_that_makes_a_message_an_emergency_is_answered(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path) -> None:
    async with running_bot(fake_api, tmp_path):
        fake_api.push_update({"edited_message": {
            "chat": {"id": CHAT, "type": "private", "first_name": "P"},
            "from": fake_api.user(CHAT), "text": "my son is not breathing", "edit_date": 1}})
        [emergency] = await fake_api.wait_for_replies(CHAT, 1)
    assert "emergency number" in emergency["text"]
    assert_strict(fake_api)


async def test_an_inline_query_that_is_an_emergency_offers_the_emergency_reply(
        fake_api: FakeBotApi, tmp_path: Path) -> None:
    async with running_bot(fake_api, tmp_path):
        asked = fake_api.inline_query(42, "baby swallowed a button battery")
        await fake_api.wait_for_call("answerInlineQuery")
    [result] = fake_api.inline_answers[asked]["results"]
    assert result["id"] == "emergency"
    assert "emergency department" in result["input_message_content"]["message_text"]
    assert_strict(fake_api)


async def test_inline_mode_offers_answers_to_share(
        fake_api: FakeBotApi, tmp_path: Path) -> None:
    async with running_bot(fake_api, tmp_path):
        asked = fake_api.inline_query(42, "does insurance pay for OT")
        empty = fake_api.inline_query(42, "")
        huge = fake_api.inline_query(42, "x" * 300)
        for _ in range(3):
            await fake_api.wait_for_call("answerInlineQuery")
    results = fake_api.inline_answers[asked]["results"]
    assert results and results[0]["id"] == "insurance"
    assert fake_api.inline_answers[empty]["results"]  # something to browse
    assert fake_api.inline_answers[huge]["results"] == []
    assert_strict(fake_api)


async def test_privacy_help_and_cancel(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path) -> None:
    async with running_bot(fake_api, tmp_path, retention_days=14):
        [privacy] = await parent.say("/privacy")
        [helped] = await parent.say("/help")
        [cancel] = await parent.say("/cancel")
        [unknown] = await parent.say("/frobnicate now")
    assert "14 days" in privacy["text"] and "/forget" in privacy["text"]
    assert "/topics" in helped["text"]
    assert "nothing to stop" in cancel["text"].lower()
    assert "don't know that command" in unknown["text"]
    assert_strict(fake_api)


async def test_a_long_answer_is_split_within_telegram_limits(
        fake_api: FakeBotApi, parent: Parent, tmp_path: Path) -> None:
    knowledge = tmp_path / "kb"
    (knowledge / "faq").mkdir(parents=True)
    # Fits one message alone, not with "Was this helpful?" under it.
    long_answer = "\n\n".join(f"Paragraph {n}: " + "word " * 100 for n in range(8))[:4090]
    (knowledge / "faq" / "long.yaml").write_text(
        "- id: long\n  question: Tell me everything about long answers\n"
        "  alternates: [everything about long answers]\n"
        f"  answer: |\n    {long_answer.replace(chr(10), chr(10) + '    ')}\n")
    async with running_bot(fake_api, tmp_path, knowledge_dir=str(knowledge)):
        replies = await parent.say("tell me everything about long answers", replies=2)
    assert all(len(r["text"]) <= 4096 for r in replies)
    assert buttons(replies[-1]) and not buttons(replies[0])  # buttons under the last part
    assert_strict(fake_api)


def test_share_buttons_only_when_the_bot_has_inline_mode() -> None:
    buttons = ((Button("Related", "1:a:x"),), (Button("Share", share="what is OT"),))
    with_inline = keyboard(buttons, inline=True)
    without = keyboard(buttons, inline=False)
    assert with_inline is not None and len(with_inline.inline_keyboard) == 2
    assert without is not None and [[b.text for b in row] for row in without.inline_keyboard] \
        == [["Related"]]
    assert keyboard(((Button("Share", share="q"),),), inline=False) is None
