"""Tests of the fake Bot API server, driven by a real python-telegram-bot Bot and Application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import aiohttp
import pytest
from fakebotapi import FakeBotApi
from telegram import (
    Bot,
    BotCommand,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest

CHAT = 42  # a parent's private chat; its id is the parent's user id


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    """A running fake server."""
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    """A real PTB Bot talking to the fake."""
    async with Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url) as client:
        yield client


@pytest.fixture
async def chat(api: FakeBotApi) -> int:
    """A private chat the bot knows because the parent wrote /start."""
    api.send_text(CHAT, "/start")
    return CHAT


async def rejected(call: Awaitable[Any], error: type[TelegramError], fragment: str) -> str:
    """Await call, expect PTB to raise error with fragment in its message; return the message."""
    with pytest.raises(error) as info:
        await call
    assert fragment.lower() in info.value.message.lower()
    return info.value.message


def keyboard(*data: str) -> InlineKeyboardMarkup:
    """One row of callback buttons."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(d.upper() or "?", callback_data=d) for d in data]]
    )


# -- bot, token and methods ------------------------------------------------------------------


async def test_get_me_describes_the_bot(bot: Bot, api: FakeBotApi) -> None:
    """getMe answers with the bot user."""
    me = await bot.get_me()
    assert (me.username, me.is_bot, me.id) == ("otbot_test_bot", True, 123456)
    assert api.calls[-1].method == "getMe" and api.calls[-1].ok


async def test_wrong_token_is_unauthorized(api: FakeBotApi) -> None:
    """A token the server does not know gets 401 Unauthorized."""
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG-token", base_url=api.base_url):
            pass
    assert (api.rejected[-1].status, api.rejected[-1].error) == (401, "Unauthorized")


async def test_unknown_method_is_not_found(bot: Bot, api: FakeBotApi) -> None:
    """A method Telegram does not have gets 404; a real one the fake lacks gets a clear 501."""
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")
    assert (api.rejected[-1].status, api.rejected[-1].error) == (404, "Not Found")
    await rejected(bot.get_chat(CHAT), NetworkError, "does not implement getChat")


# -- long polling --------------------------------------------------------------------------------


async def test_long_poll_wakes_when_an_update_is_pushed(bot: Bot, api: FakeBotApi) -> None:
    """A pending getUpdates returns as soon as a parent writes, long before its timeout."""
    poll = asyncio.create_task(bot.get_updates(timeout=20))
    await api.wait_until_polling()
    started = asyncio.get_running_loop().time()
    api.send_text(CHAT, "hello", first_name="Dana")
    [update] = await poll
    assert asyncio.get_running_loop().time() - started < 1
    assert update.message.text == "hello"
    assert update.message.from_user.first_name == "Dana"
    assert update.message.chat.type == "private"


async def test_get_updates_returns_nothing_at_the_timeout(bot: Bot) -> None:
    """Without updates, a long poll answers [] when its timeout ends."""
    started = asyncio.get_running_loop().time()
    assert await bot.get_updates(timeout=1) == ()
    assert asyncio.get_running_loop().time() - started >= 0.9


async def test_offset_confirms_and_limit_caps(bot: Bot, api: FakeBotApi) -> None:
    """Updates stay until an offset confirms them; limit caps one answer."""
    ids = [api.send_text(CHAT, f"m{i}") for i in range(3)]
    first = await bot.get_updates(limit=2)
    assert [u.update_id for u in first] == ids[:2]
    assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
    rest = await bot.get_updates(offset=ids[1] + 1)
    assert [u.update_id for u in rest] == ids[2:]
    assert await bot.get_updates(offset=ids[2] + 1) == ()
    assert api.pending_updates() == []


async def test_commands_get_bot_command_entities(bot: Bot, api: FakeBotApi) -> None:
    """Commands, with or without @botname, carry a bot_command entity as on Telegram."""
    api.send_text(-100, "/help@otbot_test_bot now", chat_type="supergroup", user_id=7)
    [update] = await bot.get_updates()
    [entity] = update.message.entities
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 20)
    assert update.message.chat.type == "supergroup" and update.message.from_user.id == 7


async def test_second_poller_terminates_the_first_with_conflict(api: FakeBotApi, bot: Bot) -> None:
    """Two processes polling one token: the older getUpdates gets 409 Conflict."""
    first = asyncio.create_task(bot.get_updates(timeout=20))
    await api.wait_until_polling()
    async with Bot(api.token, base_url=api.base_url) as second:
        assert await second.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


async def test_webhook_rules_and_conflict(bot: Bot, api: FakeBotApi) -> None:
    """setWebhook wants HTTPS on 443/80/88/8443; while set, getUpdates is a conflict."""
    await rejected(bot.set_webhook("http://example.org/hook"), BadRequest, "HTTPS URL")
    await rejected(bot.set_webhook("https://example.org:8080/hook"), BadRequest, "ports 80")
    assert await bot.set_webhook("https://example.org/hook")
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    await rejected(bot.get_updates(), Conflict, "webhook is active")
    api.send_text(CHAT, "pending")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()


async def test_pushed_raw_update_gets_ids_and_registers_the_chat(bot: Bot, api: FakeBotApi) -> None:
    """push_update takes any update (a sticker here) and fills in update_id and message_id."""
    sticker = {"file_id": "CAACAgIAAx", "file_unique_id": "AgADx", "type": "regular"}
    sticker |= {"width": 512, "height": 512, "is_animated": False, "is_video": False}
    user = api.user(9, first_name="Sam")
    update_id = api.push_update(
        {"message": {"chat": {"id": 9, "type": "private"}, "from": user, "sticker": sticker}}
    )
    [update] = await bot.get_updates()
    assert update.update_id == update_id
    assert update.message.sticker.file_id == "CAACAgIAAx" and update.message.message_id == 1
    assert (await bot.send_message(9, "nice sticker")).message_id == 2


# -- sending text ----------------------------------------------------------------------------


async def test_unknown_chat_is_not_found(bot: Bot, api: FakeBotApi) -> None:
    """The bot can only write to chats it has seen; a user who never started it is 403."""
    await rejected(bot.send_message(777, "hi"), BadRequest, "chat not found")
    api.inline_query(778, "cats")
    await rejected(bot.send_message(778, "hi"), Forbidden, "can't initiate conversation")


async def test_sent_message_is_a_full_telegram_message(
    bot: Bot, api: FakeBotApi, chat: int
) -> None:
    """A sent message comes back as a complete Message with increasing ids per chat."""
    first = await bot.send_message(chat, "one")
    second = await bot.send_message(chat, "two", reply_markup=keyboard("a"))
    assert (first.message_id, second.message_id) == (2, 3)  # the parent's /start was 1
    assert second.from_user.username == "otbot_test_bot" and second.chat.id == chat
    assert second.reply_markup == keyboard("a")
    assert [m["text"] for m in api.chat(chat)] == ["one", "two"]
    assert [r["text"] for r in await api.wait_for_replies(chat, 2)] == ["one", "two"]


async def test_text_length_is_counted_in_utf16_after_parsing(bot: Bot, chat: int) -> None:
    """1-4096 UTF-16 code units of visible text; markup does not count, emoji count twice."""
    await bot.send_message(chat, "a" * 4096)
    await bot.send_message(chat, f"<b>{'a' * 4096}</b>", parse_mode="HTML")
    await bot.send_message(chat, "😀" * 2048)
    await rejected(bot.send_message(chat, "a" * 4097), BadRequest, "message is too long")
    await rejected(bot.send_message(chat, "😀" * 2049), BadRequest, "message is too long")


@pytest.mark.parametrize(
    ("text", "parse_mode"), [("", None), (" \n ", None), ("<b></b>", "HTML"), ("<b> </b>", "HTML")]
)
async def test_empty_text_is_rejected(
    bot: Bot, api: FakeBotApi, chat: int, text: str, parse_mode: str | None
) -> None:
    """Text that is empty after parsing and trimming is refused."""
    await rejected(bot.send_message(chat, text, parse_mode=parse_mode), BadRequest, "text is empty")
    assert api.rejected[-1].error == "Bad Request: message text is empty"


async def test_html_supported_tags_and_entities(bot: Bot, chat: int) -> None:
    """Every tag Telegram supports parses into the matching entity."""
    html = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        "<strike>k</strike><del>d</del><a href='https://example.org/x'>a</a><code>c</code>"
        '<pre><code class="language-python">p</code></pre><blockquote>q</blockquote>'
        '<blockquote expandable>x</blockquote><span class="tg-spoiler">h</span>'
        '<tg-spoiler>t</tg-spoiler><tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
        " &lt;&gt;&amp;&quot;&#39;&#x1F600; & &nbsp;"
    )
    message = await bot.send_message(chat, html, parse_mode="HTML")
    assert message.text == "bsieunskdacpqxht👍 <>&\"'😀 & &nbsp;"
    kinds = [(e.type, e.offset, e.length) for e in message.entities]
    assert kinds[:3] == [("bold", 0, 1), ("bold", 1, 1), ("italic", 2, 1)]
    by_type = {e.type: e for e in message.entities}
    assert by_type["text_link"].url == "https://example.org/x"
    assert by_type["pre"].language == "python"
    assert {"expandable_blockquote", "spoiler", "custom_emoji", "strikethrough"} <= set(by_type)
    assert by_type["custom_emoji"].length == 2  # 👍 is two UTF-16 code units


@pytest.mark.parametrize(
    ("html", "description"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x", "Can't find end tag corresponding to start tag b"),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<a href=x", "Unclosed start tag at byte offset 0"),
        ("<tg-emoji emoji-id='x'>y</tg-emoji>", "Invalid custom emoji identifier specified"),
        ("é<p>", 'Unsupported start tag "p" at byte offset 2'),
    ],
)
async def test_html_that_telegram_rejects(
    bot: Bot, api: FakeBotApi, chat: int, html: str, description: str
) -> None:
    """Malformed HTML gets Telegram's exact "can't parse entities" description."""
    await rejected(bot.send_message(chat, html, parse_mode="HTML"), BadRequest, "parse entities")
    assert api.rejected[-1].error == f"Bad Request: can't parse entities: {description}"
    assert api.chat(chat) == []


async def test_strict_ampersand_is_opt_in() -> None:
    """Telegram shows a bare & literally; strict_ampersand makes the fake refuse it."""
    async with FakeBotApi(strict_ampersand=True) as api:
        api.send_text(CHAT, "/start")
        async with Bot(api.token, base_url=api.base_url) as client:
            await client.send_message(CHAT, "a &amp; b", parse_mode="HTML")
            await rejected(client.send_message(CHAT, "a & b", parse_mode="HTML"), BadRequest, "&")


async def test_without_parse_mode_any_text_is_fine(bot: Bot, chat: int) -> None:
    """Without parse_mode, tags and reserved characters are plain text."""
    message = await bot.send_message(chat, "<b>x & y</b> *z* a.b")
    assert (message.text, message.entities) == ("<b>x & y</b> *z* a.b", ())


async def test_markdown_v2_parses_and_rejects_like_telegram(
    bot: Bot, api: FakeBotApi, chat: int
) -> None:
    """MarkdownV2 entities parse; unescaped reserved characters are refused."""
    text = "*b* _i_ __u__ ~s~ ||h|| `c` [l](https://example.org) ```py\nx\n``` 1\\.5"
    message = await bot.send_message(chat, text, parse_mode="MarkdownV2")
    assert message.text == "b i u s h c l x\n 1.5"
    types = [e.type for e in message.entities]
    assert types == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "text_link",
        "pre",
    ]
    await rejected(bot.send_message(chat, "1.5", parse_mode="MarkdownV2"), BadRequest, "reserved")
    assert api.rejected[-1].error == (
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped "
        "with the preceding '\\'"
    )
    await rejected(bot.send_message(chat, "*b", parse_mode="MarkdownV2"), BadRequest, "end of bold")
    legacy = await bot.send_message(chat, "*b* _i_ `c`", parse_mode="Markdown")
    assert legacy.text == "b i c"
    await rejected(
        bot.send_message(chat, "*b", parse_mode="Markdown"), BadRequest, "end of the entity"
    )
    await rejected(
        bot.send_message(chat, "x", parse_mode="html5"), BadRequest, "unsupported parse_mode"
    )


# -- reply markup ----------------------------------------------------------------------------


async def test_callback_data_is_limited_to_64_bytes(bot: Bot, api: FakeBotApi, chat: int) -> None:
    """64 bytes of callback_data pass; 65 (here 33 two-byte letters) are BUTTON_DATA_INVALID."""
    await bot.send_message(chat, "ok", reply_markup=keyboard("é" * 32))
    await rejected(
        bot.send_message(chat, "no", reply_markup=keyboard("é" * 33)),
        BadRequest,
        "button_data_invalid",
    )
    assert api.rejected[-1].error == "Bad Request: BUTTON_DATA_INVALID"


@pytest.mark.parametrize(
    ("button", "fragment"),
    [
        (InlineKeyboardButton("plain"), "Text buttons are unallowed in the inline keyboard"),
        (InlineKeyboardButton("", callback_data="x"), "text must be non-empty"),
        (InlineKeyboardButton("two", url="https://a.org", callback_data="x"), "exactly one"),
        (InlineKeyboardButton("ftp", url="ftp://example.org"), "Unsupported URL protocol"),
        (InlineKeyboardButton("local", url="http://localhost:8080"), "BUTTON_URL_INVALID"),
    ],
)
async def test_malformed_buttons_are_rejected(
    bot: Bot, chat: int, button: InlineKeyboardButton, fragment: str
) -> None:
    """Each inline button needs text and exactly one valid action."""
    markup = InlineKeyboardMarkup([[button]])
    await rejected(bot.send_message(chat, "x", reply_markup=markup), BadRequest, fragment)


async def test_keyboard_size_and_json_are_checked(bot: Bot, api: FakeBotApi, chat: int) -> None:
    """At most 100 buttons; reply_markup that is not JSON is refused."""
    rows = [
        [InlineKeyboardButton(f"{r}{c}", callback_data=f"{r}{c}") for c in range(10)]
        for r in range(11)
    ]
    await rejected(
        bot.send_message(chat, "x", reply_markup=InlineKeyboardMarkup(rows)), BadRequest, "too long"
    )
    raw = {"chat_id": str(chat), "text": "x", "reply_markup": "{not json"}
    url = f"{api.base_url}{api.token}/sendMessage"
    async with aiohttp.ClientSession() as session, session.post(url, data=raw) as response:
        body = await response.json()
    assert (response.status, body["ok"], body["error_code"]) == (400, False, 400)
    assert body["description"] == "Bad Request: can't parse reply keyboard markup JSON object"


async def test_reply_keyboards_are_accepted(bot: Bot, chat: int) -> None:
    """Reply keyboards, their removal and ForceReply pass; messages do not show them."""
    shown = await bot.send_message(chat, "pick", reply_markup=ReplyKeyboardMarkup([["Yes", "No"]]))
    assert shown.reply_markup is None
    await bot.send_message(chat, "ok", reply_markup=ReplyKeyboardRemove())
    await bot.send_message(chat, "why?", reply_markup=ForceReply(input_field_placeholder="Because"))


# -- editing and deleting ----------------------------------------------------------------------


async def test_edit_text_and_not_modified(bot: Bot, api: FakeBotApi, chat: int) -> None:
    """Edits change what the parent sees; an edit that changes nothing is refused."""
    sent = await bot.send_message(
        chat, "<b>Step 1</b>", parse_mode="HTML", reply_markup=keyboard("next")
    )
    await bot.edit_message_text(
        "<b>Step 2</b>", chat, sent.message_id, parse_mode="HTML", reply_markup=keyboard("next")
    )
    again = bot.edit_message_text(
        "<b>Step 2</b>", chat, sent.message_id, parse_mode="HTML", reply_markup=keyboard("next")
    )
    await rejected(again, BadRequest, "message is not modified")
    assert api.rejected[-1].error.startswith("Bad Request: message is not modified: specified new")
    [now] = api.chat(chat)
    assert (
        now["text"] == "Step 2"
        and "edit_date" in now
        and now["reply_markup"] == keyboard("next").to_dict()
    )
    replies = await api.wait_for_replies(chat, 2)
    assert [r["text"] for r in replies] == ["Step 1", "Step 2"]


async def test_edit_without_markup_removes_the_keyboard(
    bot: Bot, api: FakeBotApi, chat: int
) -> None:
    """As on Telegram, editMessageText without reply_markup drops the inline keyboard."""
    sent = await bot.send_message(chat, "Pick one", reply_markup=keyboard("a", "b"))
    await bot.edit_message_text("Picked", chat, sent.message_id)
    assert "reply_markup" not in api.chat(chat)[0]
    await rejected(bot.edit_message_reply_markup(chat, sent.message_id), BadRequest, "not modified")
    await bot.edit_message_reply_markup(chat, sent.message_id, reply_markup=keyboard("undo"))
    assert api.chat(chat)[0]["reply_markup"] == keyboard("undo").to_dict()


async def test_edit_targets_must_be_bot_messages_in_that_chat(
    bot: Bot, api: FakeBotApi, chat: int
) -> None:
    """Missing messages and parents' messages cannot be edited."""
    await rejected(bot.edit_message_text("x", chat, 999), BadRequest, "message to edit not found")
    await rejected(bot.edit_message_text("x", chat, 1), BadRequest, "message can't be edited")
    await rejected(bot.edit_message_text("x", 555, 1), BadRequest, "chat not found")


async def test_delete_message(bot: Bot, api: FakeBotApi, chat: int) -> None:
    """A deleted message disappears; deleting it again is refused."""
    sent = await bot.send_message(chat, "temporary")
    assert await bot.delete_message(chat, sent.message_id)
    assert api.chat(chat) == [] and api.deleted == [(chat, sent.message_id)]
    await rejected(
        bot.delete_message(chat, sent.message_id), BadRequest, "message to delete not found"
    )


# -- callback and inline queries ---------------------------------------------------------------


async def test_button_press_and_answer(bot: Bot, api: FakeBotApi, chat: int) -> None:
    """A press reaches the bot; it may answer once, within 200 characters."""
    sent = await bot.send_message(chat, "Pick", reply_markup=keyboard("yes", "no"))
    query_id = api.press_button(chat, sent.message_id, "no")
    [_, update] = await bot.get_updates()
    assert update.callback_query.id == query_id and update.callback_query.data == "no"
    assert update.callback_query.message.message_id == sent.message_id
    assert api.unanswered_callbacks() == [query_id]
    await rejected(bot.answer_callback_query(query_id, "x" * 201), BadRequest, "message_too_long")
    assert await bot.answer_callback_query(query_id, "Noted")
    assert api.callback_answers[query_id]["text"] == "Noted" and api.unanswered_callbacks() == []
    await rejected(bot.answer_callback_query(query_id), BadRequest, "query is too old")
    await rejected(bot.answer_callback_query("12345"), BadRequest, "query id is invalid")
    with pytest.raises(ValueError, match="no button"):
        api.press_button(chat, sent.message_id, "maybe")


async def test_inline_query_answers(bot: Bot, api: FakeBotApi) -> None:
    """Inline answers: known id, once, at most 50 unique results with valid texts."""

    def article(result_id: str, text: str = "<b>Tip</b>") -> InlineQueryResultArticle:
        content = InputTextMessageContent(text, parse_mode="HTML")
        return InlineQueryResultArticle(result_id, "Tip", content)

    query_id = api.inline_query(31, "sleep")
    answer = bot.answer_inline_query(query_id, [article(str(i)) for i in range(51)])
    await rejected(answer, BadRequest, "results_too_much")
    await rejected(
        bot.answer_inline_query(query_id, [article("1"), article("1")]), BadRequest, "duplicate"
    )
    await rejected(
        bot.answer_inline_query(query_id, [article("x" * 65)]), BadRequest, "result_id_invalid"
    )
    bad_html = bot.answer_inline_query(query_id, [article("1", "<p>x</p>")])
    await rejected(bad_html, BadRequest, "can't parse inline query result")
    assert api.unanswered_inline_queries() == [query_id]
    assert await bot.answer_inline_query(query_id, [article("1")], cache_time=0, is_personal=True)
    assert api.inline_answers[query_id]["is_personal"] is True
    await rejected(bot.answer_inline_query(query_id, []), BadRequest, "query is too old")


# -- commands, documents, other methods ---------------------------------------------------------


async def test_set_my_commands_checks_like_telegram(bot: Bot, api: FakeBotApi) -> None:
    """Command names are 1-32 of a-z, 0-9 and _, descriptions 1-256, at most 100 commands."""
    assert await bot.set_my_commands([BotCommand("start", "Begin"), BotCommand("/help", "Help")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    cases = [
        (BotCommand("Start", "Begin"), "bot_command_invalid"),
        (BotCommand("a-b", "Begin"), "bot_command_invalid"),
        (BotCommand("a" * 33, "Begin"), "must not exceed 32"),
        (BotCommand("start", " "), "description must be non-empty"),
        (BotCommand("start", "d" * 257), "must not exceed 256"),
    ]
    for command, fragment in cases:
        await rejected(bot.set_my_commands([command]), BadRequest, fragment)
    many = [BotCommand(f"c{i}", "x") for i in range(101)]
    await rejected(bot.set_my_commands(many), BadRequest, "bot_commands_too_much")
    assert await bot.delete_my_commands() and await bot.get_my_commands() == ()


async def test_send_document_upload_caption_and_download(
    bot: Bot, api: FakeBotApi, chat: int
) -> None:
    """Uploads become documents that can be re-sent by file_id and downloaded again."""
    sent = await bot.send_document(
        chat, b"hello", filename="tips.txt", caption="<i>Tips</i>", parse_mode="HTML"
    )
    assert (sent.document.file_name, sent.document.file_size, sent.caption) == (
        "tips.txt",
        5,
        "Tips",
    )
    assert api.calls[-1].params["document"].data == b"hello"
    again = await bot.send_document(chat, sent.document.file_id)
    assert again.document.file_unique_id == sent.document.file_unique_id
    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"hello"
    await rejected(
        bot.send_document(chat, b"x", caption="c" * 1025), BadRequest, "caption is too long"
    )
    await rejected(bot.send_document(chat, "no-such-file-id"), BadRequest, "wrong file identifier")
    [first] = await api.wait_for_replies(chat)
    assert first["document"]["file_name"] == "tips.txt"


async def test_upload_over_the_limit_is_too_large(bot: Bot, api: FakeBotApi, chat: int) -> None:
    """Files over 50 MB get Telegram's 413 (PTB: NetworkError); the limit is adjustable."""
    await rejected(
        bot.send_document(chat, b"x" * (50 * 1024 * 1024 + 1)), NetworkError, "entity too large"
    )
    api.max_upload_bytes = 1000
    await rejected(bot.send_document(chat, b"x" * 1001), NetworkError, "entity too large")
    assert api.rejected[-1].status == 413 and api.chat(chat) == []


async def test_chat_action_copy_forward_and_reply(bot: Bot, api: FakeBotApi, chat: int) -> None:
    """sendChatAction, copyMessage, forwardMessage and replies to missing messages."""
    assert await bot.send_chat_action(chat, "typing")
    await rejected(bot.send_chat_action(chat, "dancing"), BadRequest, "wrong parameter action")
    copied = await bot.copy_message(chat, chat, 1)
    assert api.chat(chat)[-1]["text"] == "/start" and copied.message_id == 2
    forwarded = await bot.forward_message(chat, chat, 1)
    assert forwarded.forward_origin.sender_user.id == chat
    await rejected(bot.copy_message(chat, chat, 99), BadRequest, "message to copy not found")
    missing = ReplyParameters(message_id=99)
    await rejected(
        bot.send_message(chat, "re", reply_parameters=missing), BadRequest, "replied not found"
    )
    lenient = ReplyParameters(message_id=99, allow_sending_without_reply=True)
    assert (await bot.send_message(chat, "re", reply_parameters=lenient)).reply_to_message is None
    reply = await bot.send_message(chat, "re", reply_parameters=ReplyParameters(message_id=1))
    assert reply.reply_to_message.text == "/start"


# -- faults ------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_rate_limit_gives_retry_after(bot: Bot, api: FakeBotApi, chat: int) -> None:
    """An injected 429 is RetryAfter with Telegram's retry_after; faults are consumed in order."""
    api.fail_next("sendMessage", retry_after=7)
    api.fail_next("sendMessage", status=403)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(chat, "x")
    assert "Retry in 7" in str(info.value) or "0:00:07" in str(info.value)
    assert api.rejected[-1].error == "Too Many Requests: retry after 7"
    await rejected(bot.send_message(chat, "x"), Forbidden, "blocked")
    await bot.send_message(chat, "finally")
    assert [m["text"] for m in api.chat(chat)] == ["finally"]


async def test_dropped_connection_is_a_network_error(bot: Bot, api: FakeBotApi, chat: int) -> None:
    """A dropped connection raises NetworkError and the message is not sent."""
    api.drop_next("sendMessage")
    await rejected(bot.send_message(chat, "lost"), NetworkError, "disconnected")
    assert api.chat(chat) == []
    await bot.send_message(chat, "retried")


async def test_stalled_request_times_out(api: FakeBotApi, chat: int) -> None:
    """A stalled request makes PTB time out, and the call is not performed."""
    request = HTTPXRequest(read_timeout=0.3, connect_timeout=1)
    async with Bot(api.token, base_url=api.base_url, request=request) as client:
        api.stall_next("sendMessage", 5)
        with pytest.raises(TimedOut):
            await client.send_message(chat, "slow")
        assert api.chat(chat) == []
        await client.send_message(chat, "fast")


async def test_blocked_chat_is_forbidden(bot: Bot, api: FakeBotApi, chat: int) -> None:
    """A parent who blocked the bot gets nothing: 403 Forbidden."""
    api.blocked_chats.add(chat)
    await rejected(bot.send_message(chat, "hi"), Forbidden, "bot was blocked by the user")
    assert api.rejected[-1].error == "Forbidden: bot was blocked by the user"


async def test_wait_for_call_explains_a_timeout(bot: Bot, api: FakeBotApi, chat: int) -> None:
    """wait_for_call finds past calls once each and times out with a dump of recent calls."""
    await rejected(bot.send_message(chat, "<x>", parse_mode="HTML"), BadRequest, "parse")
    call = await api.wait_for_call("sendMessage")
    assert not call.ok and call.params["parse_mode"] == "HTML"
    with pytest.raises(TimeoutError, match=r"(?s)no sendMessage call matched.*REJECTED 400"):
        await api.wait_for_call("sendMessage", timeout=0.05)


# -- a real Application --------------------------------------------------------------------------


async def test_application_polls_and_echoes(api: FakeBotApi) -> None:
    """A real Application polls the fake, handles a parent's text and replies."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(update.message.text)

    app = ApplicationBuilder().token(api.token).base_url(api.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        api.send_text(CHAT, "hello <b>there</b>")
        [reply] = await api.wait_for_replies(CHAT)
        assert reply["text"] == "hello <b>there</b>"
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert api.pending_updates() == [] and api.rejected == []
