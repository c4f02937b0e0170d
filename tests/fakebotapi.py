"""A fake Telegram Bot API server on 127.0.0.1 that is as strict as Telegram.

The real python-telegram-bot ``Application`` polls it through
``ApplicationBuilder().base_url(api.base_url)``. Parsing rules and error descriptions follow
tdlib and telegram-bot-api (MessageEntity.cpp, ReplyMarkup.cpp, BotCommand.cpp, Client.cpp), so
a request this fake accepts is one Telegram accepts, and a rejected one gets Telegram's answer.
A few checks are stricter than Telegram where Telegram silently drops something a parent would
miss; their descriptions say "(fake-only check ...)".
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import mimetypes
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import telegram
from aiohttp import BodyPartReader, web

# The bot token of every test: shaped like a real one, since otbot checks the shape.
TOKEN = "123456:TEST-token-for-otbot-tests_0123"

JSON = dict[str, Any]
Params = dict[str, Any]

# Limits of the Bot API (https://core.telegram.org/bots/api, tdlib sources).
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_BUTTONS = 100
MAX_ROW_BUTTONS = 12
MAX_INLINE_RESULTS = 50
MAX_RESULT_ID_BYTES = 64
MAX_CALLBACK_ANSWER = 200
MAX_COMMANDS = 100
MAX_COMMAND_LENGTH = 32
MAX_COMMAND_DESCRIPTION = 256
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
LONG_POLL_MAX_TIMEOUT = 50

CONFLICT_POLLING = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
BLOCKED = "Forbidden: bot was blocked by the user"
CANT_INITIATE = "Forbidden: bot can't initiate conversation with a user"
DEFAULT_GROUP_USER_ID = 5001

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# Update types Telegram leaves out unless allowed_updates names them.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
MESSAGE_UPDATES = ("message", "edited_message", "channel_post", "edited_channel_post")


# ---------------------------------------------------------------------------------------------
# Errors and small helpers
# ---------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer exactly as the Bot API gives it."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JSON:
        """The JSON body Telegram sends with this error."""
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(message: str) -> ApiError:
    """A 400 whose description is built like telegram-bot-api's fail_query_with_error."""
    # The Bot API keeps server codes (BUTTON_DATA_INVALID) and lower-cases tdlib sentences.
    if len(message) >= 2 and (message[1] == "_" or message[1].isupper()):
        return ApiError(400, f"Bad Request: {message}")
    return ApiError(400, f"Bad Request: {message[:1].lower()}{message[1:]}")


class _ParseError(Exception):
    """tdlib's entity parser rejected the text."""


class _FieldError(Exception):
    """A JSON object sent by the bot has a malformed field."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts text in."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _utf16_units(text: str) -> list[int]:
    """The UTF-16 code units of text."""
    raw = text.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(raw[i : i + 2], "little") for i in range(0, len(raw), 2)]


def _utf16_slice(text: str, start: int, end: int) -> str:
    """text[start:end] in UTF-16 code units."""
    raw = text.encode("utf-16-le", "surrogatepass")
    return raw[2 * start : 2 * end].decode("utf-16-le", "surrogatepass")


def _require_str(obj: JSON, key: str) -> str:
    """A required string field, with telegram-bot-api's error wording."""
    if key not in obj:
        raise _FieldError(f'Can\'t find field "{key}"')
    if not isinstance(obj[key], str):
        raise _FieldError(f'Field "{key}" must be of type String')
    return obj[key]


def _to_bool(value: Any) -> bool:
    """telegram-bot-api's to_bool: true, yes and 1 are true."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "yes", "1")


def _to_int(value: Any, default: int = 0) -> int:
    """An integer parameter; Telegram reads a malformed one as its default."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(float(str(value)))
    except ValueError:
        return default


def _now() -> int:
    """Unix time, as Telegram dates are."""
    return int(time.time())


# ---------------------------------------------------------------------------------------------
# Formatted text: tdlib's parse_html, parse_markdown_v2, parse_markdown and fix_formatted_text
# ---------------------------------------------------------------------------------------------


@dataclass
class Formatted:
    """Text as a parent sees it, with its entities (Bot API MessageEntity dicts)."""

    text: str
    entities: list[JSON]


_SPACE_BYTES = frozenset(b" \t\r\n\v\f\x00")  # tdlib's is_space, NUL included
_ENTITY_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}
_HIDDEN_ENTITIES = frozenset({"text_link", "text_mention", "custom_emoji"})
_USER_LINK = re.compile(r"tg://user\?id=(\d+)", re.IGNORECASE)
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
_BARE_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(?!\d)")


def _is_space(byte: int) -> bool:
    """tdlib's is_space (NUL counts, as tdlib reads NUL-terminated strings)."""
    return byte in _SPACE_BYTES


def _is_first_unit(byte: int) -> bool:
    """Whether a UTF-8 byte starts a character."""
    return byte & 0xC0 != 0x80


def _sort_entities(entities: list[JSON]) -> None:
    """tdlib's sort_entities: by offset, longer first, then by type priority."""
    entities.sort(key=lambda e: (e["offset"], -e["length"], _ENTITY_PRIORITY.get(e["type"], 50)))


def checked_link(url: str) -> str | None:
    """tdlib's get_checked_link, simplified: the URL a text link gets, or None to drop it."""
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return None
    match = _URL_SCHEME.match(url)
    bare_scheme = _BARE_SCHEME.match(url)  # mailto:x or javascript:x, not host:port
    if match is not None:
        scheme = match[1].lower()
    elif bare_scheme is not None:
        scheme = bare_scheme[1].lower()
    else:
        url, scheme = f"http://{url}", "http"
    if scheme in ("tg", "ton"):
        return url
    if scheme not in ("http", "https"):
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return url if host else None


def _link_entity(offset: int, length: int, url: str) -> JSON | None:
    """A text_link or text_mention entity for an <a href> or [text](url), or None to drop it."""
    user = _USER_LINK.fullmatch(url.strip())
    if user:
        mention = {"id": int(user[1]), "is_bot": False, "first_name": "User"}
        return {"type": "text_mention", "offset": offset, "length": length, "user": mention}
    link = checked_link(url)
    if link is None:
        return None
    return {"type": "text_link", "offset": offset, "length": length, "url": link}


def _decode_html_entity(src: bytes, pos: int) -> tuple[int, int]:
    """tdlib's decode_html_entity: (code point, next position), or (0, pos) if not an entity."""

    def at(i: int) -> int:
        return src[i] if i < len(src) else 0

    end = pos + 1
    code = 0
    if at(pos + 1) == ord("#"):
        end += 1
        if at(pos + 2) == ord("x"):
            end += 1
            while at(end) and chr(at(end)) in "0123456789abcdefABCDEF":
                code = code * 16 + int(chr(at(end)), 16)
                end += 1
        else:
            while ord("0") <= at(end) <= ord("9"):
                code = code * 10 + at(end) - ord("0")
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while chr(at(end)).isascii() and chr(at(end)).isalpha():
            end += 1
        named = {b"lt": 0x3C, b"gt": 0x3E, b"amp": 0x26, b"quot": 0x22}
        code = named.get(src[pos + 1 : end], 0)
        if code == 0:
            return 0, pos
    if at(end) == ord(";"):
        end += 1
    return code, end


class _ByteParser:
    """State shared by tdlib's byte-wise entity parsers (offsets in errors are byte offsets)."""

    def __init__(self, text: str) -> None:
        self.src = text.encode("utf-8", "surrogatepass")
        self.out = bytearray()
        self.utf16 = 0
        self.entities: list[JSON] = []

    def at(self, i: int) -> int:
        """The byte at i, or 0 past the end."""
        return self.src[i] if i < len(self.src) else 0

    def copy_byte(self, byte: int) -> None:
        """Copy one source byte to the visible text."""
        if _is_first_unit(byte):
            self.utf16 += 2 if byte >= 0xF0 else 1
        self.out.append(byte)

    def add(self, kind: str, offset: int, **extra: Any) -> None:
        """Add an entity from offset to the current position."""
        self.entities.append(
            {"type": kind, "offset": offset, "length": self.utf16 - offset, **extra}
        )

    def visible_since(self, out_pos: int) -> str:
        """The visible text produced since out_pos."""
        return self.out[out_pos:].decode("utf-8", "replace")

    def result(self) -> Formatted:
        """The visible text and its sorted entities."""
        try:
            text = self.out.decode("utf-8")
        except UnicodeDecodeError:
            raise _ParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            ) from None
        _sort_entities(self.entities)
        return Formatted(text, self.entities)


_HTML_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins"}
    | {"tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote"}
)
_HTML_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}


@dataclass
class _OpenTag:
    """An HTML start tag waiting for its end tag."""

    name: str
    utf16_offset: int
    out_pos: int
    argument: str = ""
    expandable: bool = False


class _HtmlParser(_ByteParser):
    """Port of tdlib's parse_html, with Bot API 7.4's <blockquote expandable>."""

    def __init__(self, text: str, strict_ampersand: bool = False) -> None:
        super().__init__(text)
        self.stack: list[_OpenTag] = []
        self.strict_ampersand = strict_ampersand

    def parse(self) -> Formatted:
        """Parse the whole text."""
        i = 0
        while i < len(self.src):
            i = self.step(i)
        if self.stack:
            raise _ParseError(
                f"Can't find end tag corresponding to start tag {self.stack[-1].name}"
            )
        for entity in self.entities:
            entity.pop("_language", None)  # tdlib clears the class of a <code> not in <pre>
        return self.result()

    def step(self, i: int) -> int:
        """Consume the text at i; return the next position."""
        byte = self.src[i]
        if byte == ord("&"):
            code, end = _decode_html_entity(self.src, i)
            if code:
                self.utf16 += 2 if code > 0xFFFF else 1
                self.out += chr(code).encode("utf-8", "surrogatepass")
                return end
            if self.strict_ampersand:
                raise _ParseError(
                    f"Bare '&' at byte offset {i} (fake-only check: Telegram shows it literally; "
                    "escape it as &amp;)"
                )
        if byte != ord("<"):
            self.copy_byte(byte)
            return i + 1
        if self.at(i + 1) == ord("/"):
            return self.end_tag(i)
        return self.start_tag(i)

    def start_tag(self, begin: int) -> int:
        """Parse <name attr=value ...> starting at begin."""
        i = begin + 1
        while not _is_space(self.at(i)) and self.at(i) != ord(">"):
            i += 1
        if self.at(i) == 0:
            raise _ParseError(f"Unclosed start tag at byte offset {begin}")
        name = self.src[begin + 1 : i].decode("utf-8", "replace").lower()
        if name not in _HTML_TAGS:
            raise _ParseError(f'Unsupported start tag "{name}" at byte offset {begin}')
        tag = _OpenTag(name, self.utf16, len(self.out))
        while self.at(i) != ord(">"):
            i = self.attribute(tag, i, begin)
        if name == "span" and tag.argument != "spoiler":
            raise _ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
        self.stack.append(tag)
        return i + 1

    def skip_spaces(self, i: int) -> int:
        """Skip whitespace but not the end of the text."""
        while self.at(i) != 0 and _is_space(self.at(i)):
            i += 1
        return i

    def attribute(self, tag: _OpenTag, i: int, begin: int) -> int:
        """Parse one attribute of a start tag; return the position after it."""
        i = self.skip_spaces(i)
        if self.at(i) == ord(">"):
            return i
        if self.at(i) == 0:
            raise _ParseError(f"Unclosed start tag at byte offset {begin}")
        name_begin = i
        while not _is_space(self.at(i)) and self.at(i) not in (ord("="), ord(">")):
            i += 1
        name = self.src[name_begin:i].decode("utf-8", "replace")
        if not name:
            raise _ParseError(
                f'Empty attribute name in the tag "{tag.name}" at byte offset {begin}'
            )
        i = self.skip_spaces(i)
        if self.at(i) != ord("="):
            if tag.name == "blockquote" and name == "expandable":
                tag.expandable = True
                return i
            raise _ParseError(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{tag.name}" at byte offset {begin}'
            )
        i = self.skip_spaces(i + 1)
        if self.at(i) == 0:
            raise _ParseError(f'Unclosed start tag "{tag.name}" at byte offset {begin}')
        value, i = self.attribute_value(i)
        if self.at(i) == 0:
            raise _ParseError(f"Unclosed start tag at byte offset {begin}")
        self.apply_attribute(tag, name, value)
        return i

    def attribute_value(self, i: int) -> tuple[str, int]:
        """Parse a quoted string or a name token."""
        quote = self.at(i)
        if quote not in (ord("'"), ord('"')):
            begin = i
            while chr(self.at(i)).isascii() and (chr(self.at(i)).isalnum() or self.at(i) in b".-"):
                i += 1
            if not _is_space(self.at(i)) and self.at(i) != ord(">"):
                raise _ParseError(f"Unexpected end of name token at byte offset {begin}")
            return self.src[begin:i].decode("ascii").lower(), i
        i += 1
        value = bytearray()
        while self.at(i) not in (quote, 0):
            if self.at(i) == ord("&"):
                code, end = _decode_html_entity(self.src, i)
                if code:
                    value += chr(code).encode("utf-8", "surrogatepass")
                    i = end
                    continue
            value.append(self.at(i))
            i += 1
        if self.at(i) == quote:
            i += 1
        return value.decode("utf-8", "replace"), i

    @staticmethod
    def apply_attribute(tag: _OpenTag, name: str, value: str) -> None:
        """Keep the attributes Telegram understands; it ignores all others."""
        if tag.name == "a" and name == "href":
            tag.argument = value
        elif tag.name == "code" and name == "class" and value.startswith("language-"):
            tag.argument = value[len("language-") :]
        elif tag.name == "span" and name == "class" and value.startswith("tg-"):
            tag.argument = value[len("tg-") :]
        elif tag.name == "tg-emoji" and name == "emoji-id":
            tag.argument = value

    def end_tag(self, begin: int) -> int:
        """Parse </name> starting at begin."""
        if not self.stack:
            raise _ParseError(f"Unexpected end tag at byte offset {begin}")
        i = begin + 2
        while not _is_space(self.at(i)) and self.at(i) != ord(">"):
            i += 1
        end_name = self.src[begin + 2 : i].decode("utf-8", "replace").lower()
        i = self.skip_spaces(i)
        if self.at(i) != ord(">"):
            raise _ParseError(f"Unclosed end tag at byte offset {begin}")
        tag = self.stack[-1]
        if end_name and end_name != tag.name:
            raise _ParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{tag.name}>", '
                f'found "</{end_name}>"'
            )
        if self.utf16 > tag.utf16_offset:
            self.close(tag)
        self.stack.pop()
        return i + 1

    def close(self, tag: _OpenTag) -> None:
        """Turn a closed, non-empty tag into its entity."""
        offset = tag.utf16_offset
        if tag.name in _HTML_SIMPLE:
            self.add(_HTML_SIMPLE[tag.name], offset)
        elif tag.name == "tg-emoji":
            if not re.fullmatch(r"-?\d+", tag.argument) or int(tag.argument) == 0:
                raise _ParseError("Invalid custom emoji identifier specified")
            self.add("custom_emoji", offset, custom_emoji_id=str(int(tag.argument)))
        elif tag.name == "a":
            url = tag.argument or self.visible_since(tag.out_pos)
            link = _link_entity(offset, self.utf16 - offset, url)
            if link is not None:
                self.entities.append(link)
        elif tag.name in ("pre", "code"):
            self.close_code(tag)
        else:
            self.add("expandable_blockquote" if tag.expandable else "blockquote", offset)

    def close_code(self, tag: _OpenTag) -> None:
        """<pre> and <code class="language-x"> nested in either order make one pre entity."""
        offset, length = tag.utf16_offset, self.utf16 - tag.utf16_offset
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and (last["offset"], last["length"]) == (offset, length)
        if tag.name == "pre" and same_span and last["type"] == "code" and last.get("_language"):
            last.update(type="pre", language=last.pop("_language"))
        elif tag.name == "pre":
            self.add("pre", offset)
        elif same_span and last["type"] == "pre" and tag.argument:
            last["language"] = tag.argument
        else:
            self.add("code", offset, _language=tag.argument)


_MD2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}
_MD2_RESERVED = b"_*[]()~`>#+-=|{}.!\n"


@dataclass
class _OpenMark:
    """A MarkdownV2 entity waiting for its end."""

    kind: str
    argument: str
    utf16_offset: int
    byte_offset: int
    out_pos: int


class _MarkdownV2Parser(_ByteParser):
    """Port of tdlib's parse_markdown_v2."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.stack: list[_OpenMark] = []
        self.have_blockquote = False

    def parse(self) -> Formatted:
        """Parse the whole text."""
        i = 0
        while i < len(self.src):
            i = self.step(i)
        self.finish()
        return self.result()

    @staticmethod
    def reserved(byte: int) -> _ParseError:
        """The error for an unescaped reserved character."""
        return _ParseError(
            f"Character '{chr(byte)}' is reserved and must be escaped with the preceding '\\'"
        )

    def step(self, i: int) -> int:
        """Consume the text at i; return the next position."""
        byte = self.src[i]
        if byte == ord("\\") and 0 < self.at(i + 1) <= 126:
            self.utf16 += 1
            self.out.append(self.src[i + 1])
            return i + 2
        in_code = self.stack and self.stack[-1].kind in ("code", "pre", "pre_code")
        if byte not in (b"`" if in_code else _MD2_RESERVED):
            self.copy_byte(byte)
            return i + 1
        if self.is_end(byte, i):
            return self.end_entity(byte, i)
        return self.begin_entity(byte, i)

    def is_end(self, byte: int, i: int) -> bool:
        """Whether the reserved character at i ends the innermost entity."""
        if not self.stack:
            return False
        if self.have_blockquote and byte == ord("\n") and self.at(i + 1) != ord(">"):
            return True
        nxt, nxt2 = chr(self.at(i + 1)), chr(self.at(i + 2))
        ends = {
            "bold": byte == ord("*"),
            "italic": byte == ord("_") and nxt != "_",
            "code": byte == ord("`"),
            "pre": byte == ord("`") and nxt == "`" and nxt2 == "`",
            "pre_code": byte == ord("`") and nxt == "`" and nxt2 == "`",
            "text_link": byte == ord("]"),
            "underline": byte == ord("_") and nxt == "_",
            "strikethrough": byte == ord("~"),
            "spoiler": byte == ord("|") and nxt == "|",
            "custom_emoji": byte == ord("]"),
            "blockquote": False,
        }
        return ends[self.stack[-1].kind]

    def begin_entity(self, byte: int, i: int) -> int:
        """Open the entity the reserved character at i starts."""
        start, argument, char = i, "", chr(byte)
        if char == "_":
            kind = "underline" if self.at(i + 1) == ord("_") else "italic"
            if kind == "underline":
                i += 1
        elif char in "*~[":
            kind = {"*": "bold", "~": "strikethrough", "[": "text_link"}[char]
        elif char == "|" and self.at(i + 1) == ord("|"):
            kind, i = "spoiler", i + 1
        elif char == "`":
            kind, argument, i = self.open_code(i)
        elif char == "!" and self.at(i + 1) == ord("["):
            kind, i = "custom_emoji", i + 1
        elif char == "\n":
            return self.newline(i)
        elif char == ">" and i == 0:
            kind, self.have_blockquote = "blockquote", True
        else:
            raise self.reserved(byte)
        self.stack.append(_OpenMark(kind, argument, self.utf16, start, len(self.out)))
        return i + 1

    def open_code(self, i: int) -> tuple[str, str, int]:
        """Open `code` or ```pre```, reading a language after the opening backticks."""
        if not (self.at(i + 1) == ord("`") and self.at(i + 2) == ord("`")):
            return "code", "", i
        i += 3
        kind, language = "pre", ""
        end = i
        while not _is_space(self.at(end)) and self.at(end) != ord("`"):
            end += 1
        if i != end and end < len(self.src) and self.at(end) != ord("`"):
            kind, language, i = "pre_code", self.src[i:end].decode("utf-8", "replace"), end
        if self.at(i) in (ord("\n"), ord("\r")):  # one newline after the language is skipped
            pair = self.at(i + 1) in (ord("\n"), ord("\r")) and self.at(i) != self.at(i + 1)
            i += 2 if pair else 1
        return kind, language, i - 1

    def newline(self, i: int) -> int:
        """A newline, possibly starting a blockquote with '>'."""
        self.utf16 += 1
        self.out.append(ord("\n"))
        if i + 1 < len(self.src) and self.at(i + 1) == ord(">"):
            start = i
            i += 1
            if not self.have_blockquote:
                self.have_blockquote = True
                self.stack.append(_OpenMark("blockquote", "", self.utf16, start, len(self.out)))
        return i + 1

    def end_entity(self, byte: int, i: int) -> int:
        """Close the innermost entity at i."""
        top = self.stack[-1]
        if byte == ord("\n") and top.kind != "blockquote":
            raise self.unclosed(top)
        extra: JSON = {}
        skip = self.utf16 == top.utf16_offset
        if top.kind in ("underline", "spoiler"):
            i += 1
        elif top.kind in ("pre", "pre_code"):
            i += 2
        elif top.kind == "text_link":
            i, url = self.link_target(i, top)
            link = _link_entity(top.utf16_offset, self.utf16 - top.utf16_offset, url)
            skip = skip or link is None
            extra = {} if link is None else {k: v for k, v in link.items() if k in ("url", "user")}
            top.kind = "text_link" if link is None else link["type"]
        elif top.kind == "custom_emoji":
            i, extra = self.emoji_target(i)
        elif top.kind == "blockquote":
            self.have_blockquote = False
            self.copy_byte(byte)
        if not skip:
            self.add_mark(top, extra)
        self.stack.pop()
        return i + 1

    def add_mark(self, top: _OpenMark, extra: JSON) -> None:
        """Add the entity of a closed MarkdownV2 mark."""
        if top.kind == "pre_code":
            self.add("pre", top.utf16_offset, language=top.argument)
        else:
            self.add(top.kind, top.utf16_offset, **extra)

    def read_url(self, i: int) -> tuple[str, int]:
        """Read an escaped URL in parentheses starting at i; return it and the ')' position."""
        begin = i
        url = bytearray()
        while i < len(self.src) and self.src[i] != ord(")"):
            if self.src[i] == ord("\\") and 0 < self.at(i + 1) <= 126:
                url.append(self.src[i + 1])
                i += 2
                continue
            url.append(self.src[i])
            i += 1
        if self.at(i) != ord(")"):
            raise _ParseError(f"Can't find end of a URL at byte offset {begin}")
        return url.decode("utf-8", "replace"), i

    def link_target(self, i: int, top: _OpenMark) -> tuple[int, str]:
        """The URL of [text](url), or the text itself as the URL."""
        if self.at(i + 1) != ord("("):
            return i, self.visible_since(top.out_pos)
        url, i = self.read_url(i + 2)
        return i, url

    def emoji_target(self, i: int) -> tuple[int, JSON]:
        """The custom emoji id of ![emoji](tg://emoji?id=...)."""
        if self.at(i + 1) != ord("("):
            raise _ParseError("Custom emoji entity must contain a tg://emoji URL")
        url, i = self.read_url(i + 2)
        match = re.fullmatch(r"tg://emoji\?id=(\d+)", url)
        if match is None or int(match[1]) == 0:
            raise _ParseError("Invalid custom emoji identifier specified")
        return i, {"custom_emoji_id": match[1]}

    @staticmethod
    def unclosed(top: _OpenMark) -> _ParseError:
        """The error for an entity that never ends."""
        name = _MD2_NAMES[top.kind]
        return _ParseError(f"Can't find end of {name} entity at byte offset {top.byte_offset}")

    def finish(self) -> None:
        """Close a trailing blockquote; any other open entity is an error."""
        if self.have_blockquote and self.stack and self.stack[-1].kind == "blockquote":
            top = self.stack.pop()
            if self.utf16 != top.utf16_offset:
                self.add("blockquote", top.utf16_offset)
        if self.stack:
            raise self.unclosed(self.stack[-1])


class _MarkdownParser(_ByteParser):
    """Port of tdlib's parse_markdown (the legacy "Markdown" parse mode)."""

    def parse(self) -> Formatted:
        """Parse the whole text."""
        i = 0
        while i < len(self.src):
            i = self.step(i)
        return self.result()

    def step(self, i: int) -> int:
        """Consume the text at i; return the next position."""
        byte = self.src[i]
        if byte == ord("\\") and self.at(i + 1) in b"_*`[":
            self.utf16 += 1
            self.out.append(self.src[i + 1])
            return i + 2
        if byte not in b"_*`[":
            self.copy_byte(byte)
            return i + 1
        return self.entity(i)

    def entity(self, begin: int) -> int:
        """Parse one entity starting at begin."""
        char = chr(self.src[begin])
        end_char = ord("]") if char == "[" else ord(char)
        i, language, is_pre = begin + 1, "", False
        if char == "`" and self.at(i) == ord("`") and self.at(i + 1) == ord("`"):
            i, language, is_pre = self.open_pre(i + 2)
        offset = self.utf16
        while i < len(self.src) and (
            self.src[i] != end_char
            or (is_pre and not (self.at(i + 1) == ord("`") and self.at(i + 2) == ord("`")))
        ):
            self.copy_byte(self.src[i])
            i += 1
        if i == len(self.src):
            raise _ParseError(f"Can't find end of the entity starting at byte offset {begin}")
        if offset != self.utf16:
            i = self.close(char, offset, begin, i, language, is_pre)
        return i + (3 if is_pre else 1)

    def open_pre(self, i: int) -> tuple[int, str, bool]:
        """Read the language and first newline after ```."""
        end, language = i, ""
        while not _is_space(self.at(end)) and self.at(end) != ord("`"):
            end += 1
        if i != end and end < len(self.src) and self.at(end) != ord("`"):
            language, i = self.src[i:end].decode("utf-8", "replace"), end
        if self.at(i) in (ord("\n"), ord("\r")):
            pair = self.at(i + 1) in (ord("\n"), ord("\r")) and self.at(i) != self.at(i + 1)
            i += 2 if pair else 1
        return i, language, True

    def close(self, char: str, offset: int, begin: int, i: int, language: str, pre: bool) -> int:
        """Add the entity that ends at i; return the position of its last character."""
        if char in "_*":
            self.add("italic" if char == "_" else "bold", offset)
        elif char == "`" and pre:
            self.add("pre", offset, **({"language": language} if language else {}))
        elif char == "`":
            self.add("code", offset)
        else:
            url = self.src[begin + 1 : i].decode("utf-8", "replace")
            if self.at(i + 1) == ord("("):
                end = self.src.find(b")", i + 2)
                end = len(self.src) if end < 0 else end
                url, i = self.src[i + 2 : end].decode("utf-8", "replace"), end
            link = _link_entity(offset, self.utf16 - offset, url)
            if link is not None:
                self.entities.append(link)
        return i


_ENTITY_TYPES = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
    }
)


def _explicit_entities(text: str, raw: Any) -> list[JSON]:
    """Validate an entities/caption_entities parameter given instead of parse_mode."""
    if isinstance(raw, str):
        raise bad_request("can't parse entities JSON object")
    if not isinstance(raw, list):
        raise bad_request("expected an Array of MessageEntity")
    total = utf16_len(text)
    entities = []
    for item in raw:
        if not isinstance(item, dict) or item.get("type") not in _ENTITY_TYPES:
            raise bad_request("can't parse MessageEntity: unsupported entity type")
        offset, length = item.get("offset"), item.get("length")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length < 0:
            raise bad_request("can't parse MessageEntity: wrong offset or length")
        if offset + length > total:
            raise bad_request(
                f"Entity beginning at UTF-16 offset {offset} ends after the end of the text "
                f"at UTF-16 offset {offset + length}"
            )
        entities.append(dict(item))
    return entities


_DROPPED_CHARS = frozenset({"\r", "\u0333", "\u033f", "\u030a", *map(chr, range(0x2028, 0x202F))})
_WHITESPACE_UNITS = (0x20, 0x0A)


def _clean_chars(text: str) -> tuple[str, list[int]]:
    """tdlib's clean_input_string: map old UTF-16 offsets to new ones while cleaning."""
    kept: list[str] = []
    mapping: list[int] = []
    pos = 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        mapping.extend([pos] * width)
        if char in _DROPPED_CHARS:
            continue
        kept.append(" " if ord(char) < 32 and char != "\n" else char)
        pos += width
    mapping.append(pos)
    return "".join(kept), mapping


def _strip_entity_starts(units: list[int], entities: list[JSON]) -> list[JSON]:
    """tdlib's remove_invalid_entities: entities start at a non-blank character or vanish."""
    kept = []
    for entity in entities:
        if entity["type"] not in _HIDDEN_ENTITIES:
            while entity["length"] > 0 and units[entity["offset"]] in _WHITESPACE_UNITS:
                entity["offset"] += 1
                entity["length"] -= 1
        if entity["length"] > 0:
            kept.append(entity)
    return kept


def _trim(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """tdlib's rtrim and ltrim of spaces and newlines, keeping entity offsets right."""
    units = _utf16_units(text)
    blank = [unit in _WHITESPACE_UNITS for unit in units]
    end = max((i + 1 for i, is_blank in enumerate(blank) if not is_blank), default=0)
    entities = [e for e in entities if e["offset"] < end]
    for entity in entities:
        entity["length"] = min(entity["length"], end - entity["offset"])
    first_entity = min((e["offset"] for e in entities), default=end)
    start = 0
    while start < first_entity and blank[start]:
        start += 1
    for entity in entities:
        entity["offset"] -= start
    return _utf16_slice(text, start, end), entities


def clean_formatted(formatted: Formatted) -> Formatted:
    """tdlib's fix_formatted_text: clean characters, trim, drop blank entities."""
    text, mapping = _clean_chars(formatted.text)
    entities = []
    for entity in formatted.entities:
        start = mapping[min(entity["offset"], len(mapping) - 1)]
        end = mapping[min(entity["offset"] + entity["length"], len(mapping) - 1)]
        entities.append({**entity, "offset": start, "length": end - start})
    entities = _strip_entity_starts(_utf16_units(text), [e for e in entities if e["length"] > 0])
    text, entities = _trim(text, entities)
    _sort_entities(entities)
    return Formatted(text, entities)


def format_text(
    text: str, parse_mode: Any, entities: Any = None, *, strict_ampersand: bool = False
) -> Formatted:
    """What a parent sees for text sent with this parse_mode or these explicit entities."""
    if entities not in (None, "", []):
        return clean_formatted(Formatted(text, _explicit_entities(text, entities)))
    mode = str(parse_mode or "").lower()
    parsers: dict[str, Callable[[], Formatted]] = {
        "": lambda: Formatted(text, []),
        "html": lambda: _HtmlParser(text, strict_ampersand).parse(),
        "markdownv2": lambda: _MarkdownV2Parser(text).parse(),
        "markdown": lambda: _MarkdownParser(text).parse(),
    }
    if mode not in parsers:
        raise bad_request("unsupported parse_mode")
    try:
        parsed = parsers[mode]()
    except _ParseError as exc:
        raise bad_request(f"Can't parse entities: {exc}") from None
    return clean_formatted(parsed)


_BOT_COMMAND = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>@])")


def bot_command_entities(text: str) -> list[JSON]:
    """The bot_command entities Telegram adds to a parent's message."""
    return [
        {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m[0])}
        for m in _BOT_COMMAND.finditer(text)
    ]


# ---------------------------------------------------------------------------------------------
# Reply markup
# ---------------------------------------------------------------------------------------------


@dataclass
class Markup:
    """A validated reply_markup: kind is inline, keyboard, remove, force_reply or none."""

    kind: str
    inline_keyboard: list[list[JSON]] | None = None

    def message_field(self) -> JSON | None:
        """What Telegram puts into Message.reply_markup: only inline keyboards are shown."""
        if self.kind != "inline":
            return None
        return {"inline_keyboard": copy.deepcopy(self.inline_keyboard)}


_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_MARKUP_BOOLS = (
    "resize_keyboard",
    "one_time_keyboard",
    "is_persistent",
    "remove_keyboard",
    "selective",
    "force_reply",
)


def _button_url_error(url: str) -> ApiError | None:
    """Telegram's answer to a bad url button, or None when the URL is fine."""
    match = _URL_SCHEME.match(url)
    scheme = match[1].lower() if match else ("tg" if url.lower().startswith("tg:") else "http")
    if not url.strip():
        return bad_request(f"Inline keyboard button URL '{url}' is invalid: URL must be non-empty")
    if scheme not in ("http", "https", "tg", "ton"):
        return bad_request(
            f"Inline keyboard button URL '{url}' is invalid: Unsupported URL protocol"
        )
    if scheme in ("http", "https"):
        host = urlsplit(url if match else f"http://{url}").hostname or ""
        if "." not in host:  # Telegram's server refuses localhost and bare names
            return bad_request("BUTTON_URL_INVALID")
    return None


def _inline_button(button: Any) -> JSON:
    """Validate one InlineKeyboardButton."""
    if not isinstance(button, dict):
        raise _FieldError("InlineKeyboardButton must be an Object")
    text = _require_str(button, "text")
    actions = [key for key in _BUTTON_ACTIONS if button.get(key) is not None]
    if not actions:
        raise _FieldError("Text buttons are unallowed in the inline keyboard")
    if not text:
        raise _FieldError(
            "Inline keyboard button text must be non-empty "
            "(fake-only check: Telegram silently drops the button)"
        )
    if len(actions) > 1:
        raise _FieldError(
            f"exactly one of the optional fields must be used, got {', '.join(actions)} "
            f"(fake-only check: Telegram silently keeps only {actions[0]})"
        )
    if actions[0] == "callback_data":
        data = _require_str(button, "callback_data")
        if not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if actions[0] == "url":
        error = _button_url_error(_require_str(button, "url"))
        if error is not None:
            raise error
    return {key: value for key, value in button.items() if value is not None}


def _inline_rows(value: Any) -> list[list[JSON]]:
    """Validate the inline_keyboard field."""
    if not isinstance(value, list):
        raise bad_request('Field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    rows = []
    for row in value:
        if not isinstance(row, list):
            raise bad_request(
                'Field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        if len(row) > MAX_ROW_BUTTONS:
            raise bad_request(
                f"Inline keyboard row has {len(row)} buttons (fake-only check: Telegram silently "
                f"drops all but the first {MAX_ROW_BUTTONS})"
            )
        try:
            rows.append([_inline_button(button) for button in row])
        except _FieldError as exc:
            raise bad_request(f"Can't parse inline keyboard button: {exc}") from None
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    return [row for row in rows if row]


def _keyboard_button(button: Any) -> None:
    """Validate one KeyboardButton of a reply keyboard."""
    if isinstance(button, str):
        text = button
    elif isinstance(button, dict):
        text = _require_str(button, "text")
    else:
        raise _FieldError("KeyboardButton must be a String or an Object")
    if not text:
        raise _FieldError(
            "Keyboard button text must be non-empty (fake-only check: Telegram silently drops it)"
        )


def _keyboard_rows(value: Any) -> list[list[Any]]:
    """Validate the keyboard field of a ReplyKeyboardMarkup."""
    if not isinstance(value, list):
        raise bad_request('Field "keyboard" of the ReplyKeyboardMarkup must be an Array')
    for row in value:
        if not isinstance(row, list):
            raise bad_request(
                'Field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays'
            )
        for button in row:
            try:
                _keyboard_button(button)
            except _FieldError as exc:
                raise bad_request(f"Can't parse keyboard button: {exc}") from None
    return [row for row in value if row]


def parse_reply_markup(raw: Any) -> Markup:
    """Validate a reply_markup parameter like telegram-bot-api's get_reply_markup."""
    if raw is None or raw == "":
        return Markup("none")
    if isinstance(raw, str):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if not isinstance(raw, dict):
        raise bad_request("Object expected as reply markup")
    for key in _MARKUP_BOOLS:
        if key in raw and not isinstance(raw[key], bool):
            raise bad_request(f'Field "{key}" of the reply markup must be of the type Boolean')
    keyboard = _keyboard_rows(raw["keyboard"]) if "keyboard" in raw else []
    inline = _inline_rows(raw["inline_keyboard"]) if "inline_keyboard" in raw else []
    if keyboard:
        return Markup("keyboard")
    if inline:
        return Markup("inline", inline)
    if raw.get("remove_keyboard"):
        return Markup("remove")
    if raw.get("force_reply"):
        return Markup("force_reply")
    return Markup("none")


# ---------------------------------------------------------------------------------------------
# Requests, calls and faults
# ---------------------------------------------------------------------------------------------


@dataclass
class UploadedFile:
    """A file the bot uploaded with multipart/form-data."""

    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)

    def __repr__(self) -> str:
        """Short form, so dumps of calls stay readable."""
        return f"UploadedFile({self.filename!r}, {self.content_type!r}, {self.size} bytes)"


@dataclass
class Call:
    """One request the bot made, accepted (ok) or rejected (error is Telegram's description)."""

    method: str
    params: Params
    ok: bool
    error: str | None
    result: Any
    status: int = 200

    def describe(self) -> str:
        """One line for failure messages."""
        shown = ", ".join(f"{k}={_short(v)}" for k, v in self.params.items())
        outcome = "ok" if self.ok else f"REJECTED {self.status} {self.error!r}"
        return f"{self.method}({shown}) -> {outcome}"


def _short(value: Any, limit: int = 70) -> str:
    """A value shortened for one-line dumps."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


@dataclass
class _Fault:
    """An injected failure for the next call of a method."""

    kind: str  # "fail", "drop" or "stall"
    status: int = 0
    description: str = ""
    retry_after: int | None = None
    seconds: float = 0.0


@dataclass
class _StoredFile:
    """A file the server knows by file_id."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None
    path: str = ""

    def document(self) -> JSON:
        """The Document object of this file."""
        doc: JSON = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.file_name:
            doc["file_name"] = self.file_name
        if self.mime_type:
            doc["mime_type"] = self.mime_type
        doc["file_size"] = self.size if self.size is not None else len(self.data)
        return doc


_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "results",
        "commands",
        "reply_parameters",
        "link_preview_options",
        "allowed_updates",
        "scope",
        "button",
        "media",
        "message_ids",
    }
)
_INT_PARAMS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "cache_time",
        "user_id",
        "reply_to_message_id",
        "message_thread_id",
        "max_connections",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "is_personal",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "disable_content_type_detection",
        "show_caption_above_media",
    }
)
_TOKEN_FORMAT = re.compile(r"\d+:[A-Za-z0-9_-]+")
_PATH = re.compile(r"/bot([^/]*)/([A-Za-z0-9_]*)/?")
_FILE_PATH = re.compile(r"/file/bot([^/]*)/(.+)")


def _decode_param(name: str, value: Any) -> Any:
    """Best-effort decoding of one form field: PTB JSON-encodes every non-string value."""
    if not isinstance(value, str):
        return value
    if name in _JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            return value  # the handler answers like Telegram does for malformed JSON
    if name in _INT_PARAMS and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if name in _BOOL_PARAMS:
        return _to_bool(value)
    return value


def _telegram_methods() -> dict[str, str]:
    """Every Bot API method name PTB knows, keyed by its lower-case form."""
    names = [n for n in dir(telegram.Bot) if n[:1].islower() and "_" not in n and n != n.lower()]
    return {name.lower(): name for name in names} | {"close": "close"}


_KNOWN_METHODS = _telegram_methods()


class _Signal:
    """Wakes every coroutine waiting for the fake's state to change."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        """Wake all current waiters."""
        self._event.set()
        self._event = asyncio.Event()

    def wait(self) -> Coroutine[Any, Any, bool]:
        """An awaitable for the next fire(), bound now so a fire() before it runs still counts."""
        return self._event.wait()


Handler = Callable[[Params], Awaitable[Any]]


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


class FakeBotApi:
    """A fake Bot API HTTP server: inject what parents do, observe what the bot sends."""

    REPLY_METHODS = frozenset({"sendMessage", "editMessageText", "sendDocument"})

    def __init__(
        self,
        token: str = "123456:TEST-fake-token",
        username: str = "otbot_test_bot",
        *,
        strict_ampersand: bool = False,
    ) -> None:
        self.token = token
        self.username = username
        self.strict_ampersand = strict_ampersand  # also reject a bare & in HTML (Telegram allows)
        self.max_upload_bytes = MAX_UPLOAD_BYTES
        self.bot_user: JSON = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "OTBot Test",
            "username": username,
        }
        self.base_url = ""
        self.base_file_url = ""
        self.calls: list[Call] = []
        self.rejected: list[Call] = []
        self.blocked_chats: set[int] = set()
        self.deleted: list[tuple[int, int]] = []
        self.callback_answers: dict[str, JSON] = {}
        self.inline_answers: dict[str, JSON] = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.webhook_url = ""
        self._updates: deque[JSON] = deque()
        self._update_ids = itertools.count(100_000_001)
        self._allowed_updates: frozenset[str] | None = None
        self._poller: asyncio.Future[None] | None = None
        self._chats: dict[int, JSON] = {}
        self._users: dict[int, JSON] = {}
        self._messages: dict[int, dict[int, JSON]] = {}
        self._last_message_id: dict[int, int] = {}
        self._replies: dict[int, list[JSON]] = {}
        self._reply_cursor: dict[int, int] = {}
        self._consumed_calls: set[int] = set()
        self._callback_queries: dict[str, JSON] = {}
        self._inline_queries: dict[str, JSON] = {}
        self._query_ids = itertools.count(4_382_000_000_000_000_001)
        self._files: dict[str, _StoredFile] = {}
        self._file_numbers = itertools.count(1)
        self._faults: dict[str, deque[_Fault]] = {}
        self._changed = _Signal()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._handlers = self._handler_table()

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        self._closing.clear()
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # No access log: request paths contain the bot token.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        self.base_file_url = f"http://127.0.0.1:{port}/file/bot"

    async def stop(self) -> None:
        """End pending long polls and stalls, then close the server."""
        self._closing.set()
        self._changed.fire()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotApi:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop the server."""
        await self.stop()

    # -- injecting what parents do -----------------------------------------------------------------

    def user(self, user_id: int, **fields: Any) -> JSON:
        """The parent with this id (created on first use); fields update it."""
        user = self._users.setdefault(
            user_id,
            {
                "id": user_id,
                "is_bot": False,
                "first_name": f"Parent{user_id}",
                "language_code": "en",
            },
        )
        for key, value in fields.items():
            if value == "":
                user.pop(key, None)  # e.g. language_code="" for a parent whose client sends none
            elif value is not None:
                user[key] = value
        return copy.deepcopy(user)

    def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        first_name: str | None = None,
        language_code: str | None = None,
        chat_title: str | None = None,
        **message_fields: Any,
    ) -> int:
        """A parent sends text (commands get bot_command entities); returns the update_id."""
        uid = user_id if user_id is not None else self._default_user_id(chat_id, chat_type)
        sender = self.user(uid, first_name=first_name, language_code=language_code)
        message: JSON = {
            "message_id": self._next_message_id(chat_id),
            "from": sender,
            "chat": self._chat_object(chat_id, chat_type, sender, chat_title),
            "date": _now(),
            "text": text,
        }
        entities = bot_command_entities(text)
        if entities:
            message["entities"] = entities
        message.update(message_fields)
        return self.push_update({"message": message})

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        force: bool = False,
    ) -> str:
        """A parent presses a callback button of a bot message; returns the callback query id.

        Raises ValueError if that message does not show such a button (unless force=True,
        which simulates a crafted or outdated client).
        """
        message = self._messages.get(chat_id, {}).get(message_id)
        if message is None or not self._is_bot_message(message):
            raise ValueError(
                f"chat {chat_id} has no bot message {message_id}: {self.chat(chat_id)}"
            )
        buttons = _callback_data_of(message)
        if data not in buttons and not force:
            raise ValueError(
                f"message {message_id} has no button with data {data!r}; it has {buttons}"
            )
        chat_type = message["chat"]["type"]
        uid = user_id if user_id is not None else self._default_user_id(chat_id, chat_type)
        query_id = str(next(self._query_ids))
        query = {
            "id": query_id,
            "from": self.user(uid),
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(hash((chat_id, self.token))) % 10**18),
            "data": data,
        }
        self._callback_queries[query_id] = query
        self.push_update({"callback_query": query})
        return query_id

    def inline_query(self, user_id: int, query: str, *, offset: str = "") -> str:
        """A parent types an inline query; returns the inline query id."""
        query_id = str(next(self._query_ids))
        inline = {
            "id": query_id,
            "from": self.user(user_id),
            "query": query,
            "offset": offset,
            "chat_type": "sender",
        }
        self._inline_queries[query_id] = inline
        self.push_update({"inline_query": inline})
        return query_id

    def push_update(self, update: JSON) -> int:
        """Queue any raw update; update_id (and a message's missing id and date) are filled in."""
        update = copy.deepcopy(update)
        update["update_id"] = next(self._update_ids)
        self._register(update)
        self._updates.append(update)
        self._changed.fire()
        return update["update_id"]

    def add_file(
        self,
        data: bytes,
        *,
        file_name: str = "file.bin",
        mime_type: str = "application/octet-stream",
    ) -> JSON:
        """A file a parent could send; returns its Document object for use in push_update."""
        return self._store_file(data, file_name, mime_type).document()

    # -- faults ------------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = None,
        description: str | None = None,
        count: int = 1,
    ) -> None:
        """The next count calls of method fail with this status, without being performed."""
        if status == 429 and retry_after is None:
            retry_after = 1
        text = description or _default_description(status, retry_after)
        self._add_faults(method, count, _Fault("fail", status, text, retry_after))

    def drop_next(self, method: str, count: int = 1) -> None:
        """The next count calls of method get their connection closed, not performed."""
        self._add_faults(method, count, _Fault("drop"))

    def stall_next(self, method: str, seconds: float, count: int = 1) -> None:
        """The next count calls of method are held for seconds, then dropped, not performed."""
        self._add_faults(method, count, _Fault("stall", seconds=seconds))

    def _add_faults(self, method: str, count: int, fault: _Fault) -> None:
        """Queue count copies of a fault for method."""
        queue = self._faults.setdefault(method.lower(), deque())
        queue.extend(copy.copy(fault) for _ in range(count))

    # -- observing ---------------------------------------------------------------------------------

    def chat(self, chat_id: int) -> list[JSON]:
        """The chat's bot messages as a parent now sees them (after edits and deletes), in order."""
        messages = self._messages.get(chat_id, {})
        return [
            copy.deepcopy(messages[mid])
            for mid in sorted(messages)
            if self._is_bot_message(messages[mid])
        ]

    def unanswered_callbacks(self) -> list[str]:
        """Ids of callback queries (button presses) the bot never answered."""
        return [qid for qid in self._callback_queries if qid not in self.callback_answers]

    def unanswered_inline_queries(self) -> list[str]:
        """Ids of inline queries the bot never answered."""
        return [qid for qid in self._inline_queries if qid not in self.inline_answers]

    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by the bot."""
        return copy.deepcopy(list(self._updates))

    @property
    def polling(self) -> bool:
        """Whether a getUpdates long poll is waiting right now."""
        return self._poller is not None and not self._poller.done()

    def dump_calls(self, limit: int = 20) -> str:
        """The last calls, one per line, leaving out empty polls."""
        shown = [c for c in self.calls if not (c.method == "getUpdates" and c.ok and not c.result)]
        lines = [call.describe() for call in shown[-limit:]]
        return "\n".join(lines) if lines else "(no calls)"

    async def wait_for_call(
        self, method: str, predicate: Callable[[Call], bool] | None = None, timeout: float = 5.0
    ) -> Call:
        """The earliest call of method (accepted or rejected) matching predicate that no earlier
        wait_for_call returned; waits for it."""
        found: list[Call] = []

        def check() -> bool:
            for index, call in enumerate(self.calls):
                if index in self._consumed_calls or call.method.lower() != method.lower():
                    continue
                if predicate is None or predicate(call):
                    self._consumed_calls.add(index)
                    found.append(call)
                    return True
            return False

        await self._wait_until(check, timeout, lambda: f"no {method} call matched")
        return found[0]

    async def wait_for_replies(
        self, chat_id: int, count: int = 1, timeout: float = 5.0
    ) -> list[JSON]:
        """The next count sendMessage/editMessageText/sendDocument results in chat_id since the
        previous wait_for_replies for that chat."""
        cursor = self._reply_cursor.get(chat_id, 0)

        def new() -> list[JSON]:
            return self._replies.get(chat_id, [])[cursor:]

        await self._wait_until(
            lambda: len(new()) >= count,
            timeout,
            lambda: f"expected {count} new replies in chat {chat_id}, got {len(new())}: {new()}",
        )
        self._reply_cursor[chat_id] = cursor + count
        return copy.deepcopy(new()[:count])

    async def wait_until_polling(self, timeout: float = 5.0) -> None:
        """Wait until the bot has a getUpdates long poll pending."""
        await self._wait_until(lambda: self.polling, timeout, lambda: "the bot is not polling")

    async def _wait_until(
        self, check: Callable[[], bool], timeout: float, explain: Callable[[], str]
    ) -> None:
        """Wait for check() to hold, waking on every change; a TimeoutError says what is missing."""
        try:
            async with asyncio.timeout(timeout):
                while not check():
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(
                f"{explain()} within {timeout} s. Recent calls:\n{self.dump_calls()}"
            ) from None

    # -- HTTP --------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one HTTP request like api.telegram.org."""
        if request.path.startswith("/file/"):
            return self._serve_file(request)
        match = _PATH.fullmatch(request.path)
        if match is None:
            return _error_response(ApiError(404, "Not Found"))
        token, name = match.groups()
        method = _KNOWN_METHODS.get(name.lower(), name)
        try:
            params = {k: _decode_param(k, v) for k, v in (await self._read_params(request)).items()}
        except ApiError as exc:
            return self._reject(method, {}, exc)
        if token != self.token:
            status = 401 if _TOKEN_FORMAT.fullmatch(token) else 404
            return self._reject(
                method, params, ApiError(status, "Unauthorized" if status == 401 else "Not Found")
            )
        handler = self._handlers.get(name.lower())
        if handler is None:
            return self._reject(method, params, _unknown_method(name))
        fault = self._take_fault(method)
        if fault is not None:
            return await self._apply_fault(request, method, params, fault)
        try:
            result = await handler(params)
        except ApiError as exc:
            if _abandoned_poll(method, request):
                return _error_response(exc)
            return self._reject(method, params, exc)
        if _abandoned_poll(method, request):
            return web.json_response({"ok": True, "result": result})
        self._record(Call(method, params, True, None, copy.deepcopy(result)))
        return web.json_response({"ok": True, "result": result})

    async def _read_params(self, request: web.Request) -> Params:
        """Query string plus a form, multipart or JSON body, as Telegram accepts all of them."""
        params: Params = dict(request.query)
        if not request.can_read_body:
            return params
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                body = None
            params.update(body if isinstance(body, dict) else {})
        elif request.content_type.startswith("multipart/"):
            params.update(await self._read_multipart(request))
        else:
            params.update(await request.post())
        return params

    async def _read_multipart(self, request: web.Request) -> Params:
        """Read a multipart body, rejecting files over the upload limit like Telegram (413)."""
        params: Params = {}
        too_large = False
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.filename is None:
                params[part.name] = await part.text()
                continue
            data, size = await self._read_file_part(part)
            too_large = too_large or size > self.max_upload_bytes
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            params[part.name] = UploadedFile(part.filename, content_type, data)
        if too_large:  # read to the end first, so the client sees the answer and not a reset
            raise ApiError(413, "Request Entity Too Large")
        return params

    async def _read_file_part(self, part: BodyPartReader) -> tuple[bytes, int]:
        """Read one file part, keeping at most max_upload_bytes of it."""
        chunks: list[bytes] = []
        size = 0
        while chunk := await part.read_chunk(1 << 16):
            size += len(chunk)
            if size <= self.max_upload_bytes:
                chunks.append(chunk)
        return b"".join(chunks), size

    def _serve_file(self, request: web.Request) -> web.StreamResponse:
        """Download of a file by its file_path, as on api.telegram.org/file/bot<token>/<path>."""
        match = _FILE_PATH.fullmatch(request.path)
        if match is None or match[1] != self.token:
            return _error_response(ApiError(404, "Not Found"))
        for stored in self._files.values():
            if stored.path == match[2]:
                return web.Response(
                    body=stored.data, content_type=stored.mime_type or "application/octet-stream"
                )
        return _error_response(ApiError(404, "Not Found"))

    def _take_fault(self, method: str) -> _Fault | None:
        """The next injected fault for method, if any."""
        queue = self._faults.get(method.lower())
        return queue.popleft() if queue else None

    async def _apply_fault(
        self, request: web.Request, method: str, params: Params, fault: _Fault
    ) -> web.StreamResponse:
        """Answer with an injected failure instead of performing the call."""
        if fault.kind == "fail":
            return self._reject(
                method, params, ApiError(fault.status, fault.description, fault.retry_after)
            )
        if fault.kind == "stall":
            self._record(
                Call(method, params, False, f"stalled {fault.seconds} s, then dropped", None, 0)
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), fault.seconds)
        else:
            self._record(Call(method, params, False, "connection dropped", None, 0))
        if request.transport is not None:
            request.transport.abort()
        return web.Response()

    def _reject(self, method: str, params: Params, error: ApiError) -> web.Response:
        """Record a rejected call and answer with Telegram's error."""
        self._record(Call(method, params, False, error.description, None, error.status))
        return _error_response(error)

    def _record(self, call: Call) -> None:
        """Keep a call for observation and wake waiters."""
        self.calls.append(call)
        if not call.ok:
            self.rejected.append(call)
        elif call.method in self.REPLY_METHODS and isinstance(call.result, dict):
            chat_id = call.result["chat"]["id"]
            self._replies.setdefault(chat_id, []).append(copy.deepcopy(call.result))
        self._changed.fire()

    # -- state helpers -----------------------------------------------------------------------------

    def _handler_table(self) -> dict[str, Handler]:
        """Implemented methods, keyed by lower-case name (Telegram ignores the case)."""
        handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "close": self._true,
            "logOut": self._true,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "sendChatAction": self._send_chat_action,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query,
            "getFile": self._get_file,
        }
        return {name.lower(): handler for name, handler in handlers.items()}

    def _register(self, update: JSON) -> None:
        """Learn chats, users, files and messages from a pushed update."""
        for obj in _walk(update):
            if isinstance(obj.get("id"), int) and obj.get("type") in (
                "private",
                "group",
                "supergroup",
                "channel",
            ):
                self._chats[obj["id"]] = copy.deepcopy(obj)
            elif isinstance(obj.get("id"), int) and "is_bot" in obj and "first_name" in obj:
                self._users.setdefault(obj["id"], copy.deepcopy(obj))
            elif isinstance(obj.get("file_id"), str) and obj["file_id"] not in self._files:
                self._files[obj["file_id"]] = _StoredFile(
                    obj["file_id"],
                    str(obj.get("file_unique_id", obj["file_id"])),
                    b"",
                    obj.get("file_name"),
                    obj.get("mime_type"),
                    obj.get("file_size"),
                    f"parent_files/{obj['file_id']}",
                )
        for key in MESSAGE_UPDATES:
            if isinstance(update.get(key), dict) and isinstance(update[key].get("chat"), dict):
                self._store_incoming(update[key])

    def _store_incoming(self, message: JSON) -> None:
        """Keep a parent's message so the bot can reply to, copy or delete it."""
        chat_id = message["chat"]["id"]
        if "message_id" not in message:
            message["message_id"] = self._next_message_id(chat_id)
        message.setdefault("date", _now())
        self._last_message_id[chat_id] = max(
            self._last_message_id.get(chat_id, 0), message["message_id"]
        )
        self._messages.setdefault(chat_id, {})[message["message_id"]] = copy.deepcopy(message)

    def _next_message_id(self, chat_id: int) -> int:
        """Message ids increase per chat."""
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _default_user_id(self, chat_id: int, chat_type: str) -> int:
        """In a private chat the parent's id is the chat id."""
        return chat_id if chat_type == "private" else DEFAULT_GROUP_USER_ID

    def _chat_object(self, chat_id: int, chat_type: str, sender: JSON, title: str | None) -> JSON:
        """The Chat object of an incoming message."""
        if chat_type == "private":
            chat = {"id": chat_id, "type": "private", "first_name": sender["first_name"]}
            if "username" in sender:
                chat["username"] = sender["username"]
            return chat
        return {"id": chat_id, "type": chat_type, "title": title or f"Test {chat_type} {chat_id}"}

    def _is_bot_message(self, message: JSON) -> bool:
        """Whether the bot sent this message."""
        return message.get("from", {}).get("id") == self.bot_user["id"]

    def _store_file(self, data: bytes, file_name: str | None, mime_type: str | None) -> _StoredFile:
        """Give uploaded content a file_id."""
        number = next(self._file_numbers)
        file_id = f"BQACAgIAAxkBAAI{number:06d}FakeFileId"
        stored = _StoredFile(
            file_id,
            f"AgAD{number:06d}",
            data,
            file_name,
            mime_type,
            len(data),
            f"documents/file_{number}",
        )
        self._files[file_id] = stored
        return stored

    # -- parameter helpers -------------------------------------------------------------------------

    def _chat_id(self, params: Params, key: str = "chat_id") -> int:
        """The target chat, which the bot must know from an update, else "chat not found"."""
        raw = params.get(key)
        if raw is None or raw == "":
            raise bad_request(f"{key} is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            for chat_id, chat in self._chats.items():
                if chat.get("username", "").lower() == raw[1:].lower():
                    return chat_id
            raise bad_request("chat not found")
        chat_id = _to_int(raw, 0)
        if chat_id not in self._chats:
            if chat_id in self._users:
                raise ApiError(403, CANT_INITIATE)
            raise bad_request("chat not found")
        return chat_id

    def _sendable_chat(self, params: Params) -> int:
        """A chat the bot may send to: known and not blocked."""
        chat_id = self._chat_id(params)
        if chat_id in self.blocked_chats:
            raise ApiError(403, BLOCKED)
        return chat_id

    def _text(self, params: Params, key: str = "text", entities_key: str = "entities") -> Formatted:
        """A message text: 1-4096 UTF-16 code units after entity parsing."""
        raw = params.get(key)
        if not isinstance(raw, str) or raw == "":
            raise bad_request("message text is empty")
        formatted = format_text(
            raw,
            params.get("parse_mode"),
            params.get(entities_key),
            strict_ampersand=self.strict_ampersand,
        )
        if not formatted.text:
            raise bad_request("message text is empty")
        if utf16_len(formatted.text) > MAX_TEXT:
            raise bad_request("message is too long")
        return formatted

    def _caption(self, params: Params) -> Formatted:
        """A caption: 0-1024 UTF-16 code units after entity parsing."""
        raw = params.get("caption")
        if not isinstance(raw, str) or raw == "":
            return Formatted("", [])
        formatted = format_text(
            raw,
            params.get("parse_mode"),
            params.get("caption_entities"),
            strict_ampersand=self.strict_ampersand,
        )
        if utf16_len(formatted.text) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        return formatted

    def _reply_target(self, params: Params, chat_id: int) -> JSON | None:
        """The message replied to, per reply_parameters or the older reply_to_message_id."""
        reply = params.get("reply_parameters")
        if isinstance(reply, str) and reply:
            raise bad_request("can't parse reply parameters JSON object")
        if isinstance(reply, dict):
            message_id, allow = (
                reply.get("message_id"),
                bool(reply.get("allow_sending_without_reply")),
            )
        else:
            message_id = params.get("reply_to_message_id")
            allow = bool(params.get("allow_sending_without_reply"))
        if message_id in (None, "", 0):
            return None
        target = self._messages.get(chat_id, {}).get(_to_int(message_id))
        if target is None and not allow:
            raise bad_request("message to be replied not found")
        return target

    def _new_bot_message(
        self, chat_id: int, content: JSON, markup: Markup, reply_to: JSON | None
    ) -> JSON:
        """Store and return a message the bot sends."""
        message: JSON = {
            "message_id": self._next_message_id(chat_id),
            "from": copy.deepcopy(self.bot_user),
            "chat": copy.deepcopy(self._chats[chat_id]),
            "date": _now(),
        }
        if reply_to is not None:
            message["reply_to_message"] = {
                k: v for k, v in reply_to.items() if k != "reply_to_message"
            }
        message.update({k: v for k, v in content.items() if v not in (None, "", [])})
        if markup.message_field() is not None:
            message["reply_markup"] = markup.message_field()
        self._messages.setdefault(chat_id, {})[message["message_id"]] = message
        return copy.deepcopy(message)

    def _editable(self, params: Params) -> JSON:
        """The bot message an edit targets."""
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # the fake tracks no inline messages
        chat_id = self._chat_id(params)
        message_id = _to_int(params.get("message_id"), 0)
        if message_id <= 0:
            raise bad_request("message identifier is not specified")
        message = self._messages.get(chat_id, {}).get(message_id)
        if message is None:
            raise bad_request("message to edit not found")
        if not self._is_bot_message(message):
            raise bad_request("message can't be edited")
        return message

    def _apply_edit(self, message: JSON, content: JSON, markup: Markup) -> JSON:
        """Edit a stored message, or refuse an edit that changes nothing, as Telegram does."""
        if markup.kind not in ("inline", "none"):
            raise bad_request("inline keyboard expected")
        new_markup = markup.message_field()
        normalized = {k: (v if v not in ("", []) else None) for k, v in content.items()}
        if (
            all(message.get(k) == v for k, v in normalized.items())
            and message.get("reply_markup") == new_markup
        ):
            raise ApiError(400, NOT_MODIFIED)
        for key, value in normalized.items():
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        if new_markup is None:
            message.pop("reply_markup", None)  # an edit without reply_markup removes the keyboard
        else:
            message["reply_markup"] = new_markup
        message["edit_date"] = _now()
        return copy.deepcopy(message)

    # -- methods: bot and updates ------------------------------------------------------------------

    async def _true(self, params: Params) -> bool:
        """Methods that just succeed (close, logOut)."""
        return True

    async def _get_me(self, params: Params) -> JSON:
        """getMe."""
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: Params) -> list[JSON]:
        """getUpdates: long polling with offset, limit, timeout and allowed_updates."""
        if self.webhook_url:
            raise ApiError(409, CONFLICT_WEBHOOK)
        limit = min(max(_to_int(params.get("limit"), 100), 1), 100)
        timeout = min(max(float(_to_int(params.get("timeout"), 0)), 0.0), LONG_POLL_MAX_TIMEOUT)
        if isinstance(params.get("allowed_updates"), list):  # Telegram remembers the last list
            self._allowed_updates = frozenset(params["allowed_updates"]) or None
        if self.polling:  # Telegram ends the older request, whoever made it
            self._poller.set_result(None)
        self._confirm(_to_int(params.get("offset"), 0))
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._poller = ticket
        self._changed.fire()
        try:
            return await self._long_poll(ticket, limit, timeout)
        finally:
            if self._poller is ticket:
                self._poller = None

    async def _long_poll(
        self, ticket: asyncio.Future[None], limit: int, timeout: float
    ) -> list[JSON]:
        """Wait up to timeout for updates; a newer getUpdates ends this one with 409."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            ready = self._deliverable(limit)
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or self._closing.is_set():
                return ready
            change = asyncio.ensure_future(self._changed.wait())
            try:
                await asyncio.wait(
                    {ticket, change}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                change.cancel()
            if ticket.done():
                raise ApiError(409, CONFLICT_POLLING)

    def _confirm(self, offset: int) -> None:
        """An offset confirms every earlier update; a negative one keeps only the last -offset."""
        if offset < 0:
            while len(self._updates) > -offset:
                self._updates.popleft()
        while self._updates and self._updates[0]["update_id"] < offset:
            self._updates.popleft()

    def _deliverable(self, limit: int) -> list[JSON]:
        """Pending updates of allowed types; others are dropped, as Telegram never queues them."""
        kept = deque(u for u in self._updates if self._is_allowed(u))
        self._updates = kept
        return copy.deepcopy(list(itertools.islice(kept, limit)))

    def _is_allowed(self, update: JSON) -> bool:
        """Whether allowed_updates lets this update through."""
        kind = next((k for k in update if k != "update_id"), "")
        if self._allowed_updates is None:
            return kind not in OPT_IN_UPDATES
        return kind in self._allowed_updates

    async def _delete_webhook(self, params: Params) -> bool:
        """deleteWebhook, optionally dropping pending updates."""
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _set_webhook(self, params: Params) -> bool:
        """setWebhook with Telegram's URL rules; an empty URL deletes the webhook."""
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params)
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if (parts.port or 443) not in (80, 88, 443, 8443):
            raise bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
        self.webhook_url = url
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: Params) -> JSON:
        """getWebhookInfo."""
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    # -- methods: commands -------------------------------------------------------------------------

    @staticmethod
    def _commands_key(params: Params) -> tuple[str, str]:
        """Commands are stored per scope and language."""
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def _set_my_commands(self, params: Params) -> bool:
        """setMyCommands with tdlib's and the server's checks."""
        raw = params.get("commands")
        if raw in (None, ""):
            raw = []
        if isinstance(raw, str):
            raise bad_request("can't parse commands JSON object")
        if not isinstance(raw, list):
            raise bad_request("expected an Array of BotCommand")
        commands = [_bot_command(item) for item in raw]
        if len(commands) > MAX_COMMANDS:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        self.commands[self._commands_key(params)] = commands
        return True

    async def _get_my_commands(self, params: Params) -> list[JSON]:
        """getMyCommands."""
        return copy.deepcopy(self.commands.get(self._commands_key(params), []))

    async def _delete_my_commands(self, params: Params) -> bool:
        """deleteMyCommands."""
        self.commands.pop(self._commands_key(params), None)
        return True

    # -- methods: sending --------------------------------------------------------------------------

    async def _send_message(self, params: Params) -> JSON:
        """sendMessage."""
        formatted = self._text(params)
        markup = parse_reply_markup(params.get("reply_markup"))
        chat_id = self._sendable_chat(params)
        reply_to = self._reply_target(params, chat_id)
        content = {"text": formatted.text, "entities": formatted.entities}
        return self._new_bot_message(chat_id, content, markup, reply_to)

    async def _send_document(self, params: Params) -> JSON:
        """sendDocument: an upload, a known file_id or an HTTP URL."""
        document = self._document(params)
        caption = self._caption(params)
        markup = parse_reply_markup(params.get("reply_markup"))
        chat_id = self._sendable_chat(params)
        reply_to = self._reply_target(params, chat_id)
        content = {
            "document": document,
            "caption": caption.text,
            "caption_entities": caption.entities,
        }
        return self._new_bot_message(chat_id, content, markup, reply_to)

    def _document(self, params: Params) -> JSON:
        """The Document a sendDocument call sends."""
        value = params.get("document")
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value[len("attach://") :])
        if isinstance(value, UploadedFile):
            if value.size == 0:
                raise bad_request("file must be non-empty")
            mime = value.content_type or mimetypes.guess_type(value.filename)[0]
            return self._store_file(value.data, value.filename, mime).document()
        if not isinstance(value, str) or not value:
            raise bad_request("there is no document in the request")
        if value in self._files:
            return self._files[value].document()
        if urlsplit(value).scheme in ("http", "https"):
            name = urlsplit(value).path.rsplit("/", 1)[-1] or "file"
            return self._store_file(b"", name, mimetypes.guess_type(name)[0]).document()
        raise bad_request("wrong file identifier/HTTP URL specified")

    async def _send_chat_action(self, params: Params) -> bool:
        """sendChatAction."""
        if str(params.get("action", "")).lower() not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self._sendable_chat(params)
        return True

    def _source_message(self, params: Params, what: str) -> JSON:
        """The message copyMessage or forwardMessage takes."""
        from_chat = self._chat_id(params, "from_chat_id")
        message = self._messages.get(from_chat, {}).get(_to_int(params.get("message_id"), 0))
        if message is None:
            raise bad_request(f"message to {what} not found")
        return message

    async def _copy_message(self, params: Params) -> JSON:
        """copyMessage: the content without a link to the original; returns a MessageId."""
        source = self._source_message(params, "copy")
        markup = parse_reply_markup(params.get("reply_markup"))
        chat_id = self._sendable_chat(params)
        content = _content_of(source)
        if "caption" in params and "text" not in source:
            caption = self._caption(params)
            content.update(caption=caption.text, caption_entities=caption.entities)
        message = self._new_bot_message(
            chat_id, content, markup, self._reply_target(params, chat_id)
        )
        return {"message_id": message["message_id"]}

    async def _forward_message(self, params: Params) -> JSON:
        """forwardMessage: the content with its origin."""
        source = self._source_message(params, "forward")
        chat_id = self._sendable_chat(params)
        content = _content_of(source)
        sender = source.get("from", self.bot_user)
        content["forward_origin"] = {"type": "user", "sender_user": sender, "date": source["date"]}
        return self._new_bot_message(chat_id, content, Markup("none"), None)

    # -- methods: editing and deleting -------------------------------------------------------------

    async def _edit_message_text(self, params: Params) -> JSON:
        """editMessageText; without reply_markup the inline keyboard goes away."""
        formatted = self._text(params)
        markup = parse_reply_markup(params.get("reply_markup"))
        message = self._editable(params)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        return self._apply_edit(
            message, {"text": formatted.text, "entities": formatted.entities}, markup
        )

    async def _edit_message_caption(self, params: Params) -> JSON:
        """editMessageCaption."""
        caption = self._caption(params)
        markup = parse_reply_markup(params.get("reply_markup"))
        message = self._editable(params)
        if "text" in message:
            raise bad_request("there is no caption in the message to edit")
        content = {"caption": caption.text, "caption_entities": caption.entities}
        return self._apply_edit(message, content, markup)

    async def _edit_message_reply_markup(self, params: Params) -> JSON:
        """editMessageReplyMarkup; without reply_markup the keyboard is removed."""
        markup = parse_reply_markup(params.get("reply_markup"))
        return self._apply_edit(self._editable(params), {}, markup)

    async def _delete_message(self, params: Params) -> bool:
        """deleteMessage."""
        chat_id = self._chat_id(params)
        message_id = _to_int(params.get("message_id"), 0)
        if self._messages.get(chat_id, {}).pop(message_id, None) is None:
            raise bad_request("message to delete not found")
        self.deleted.append((chat_id, message_id))
        return True

    # -- methods: queries --------------------------------------------------------------------------

    async def _answer_callback_query(self, params: Params) -> bool:
        """answerCallbackQuery: a query the server issued, answered at most once."""
        query_id = str(params.get("callback_query_id") or "")
        text = str(params.get("text") or "")
        if query_id not in self._callback_queries or query_id in self.callback_answers:
            raise bad_request(QUERY_INVALID)
        if utf16_len(text) > MAX_CALLBACK_ANSWER:
            raise bad_request("MESSAGE_TOO_LONG")
        url = str(params.get("url") or "")
        if url and not re.match(r"(https?://)?t\.me/", url):  # only game and t.me/bot?start= links
            raise bad_request("URL_INVALID")
        self.callback_answers[query_id] = {
            "text": text,
            "show_alert": bool(params.get("show_alert")),
            "url": url or None,
            "cache_time": _to_int(params.get("cache_time"), 0),
        }
        return True

    async def _answer_inline_query(self, params: Params) -> bool:
        """answerInlineQuery: known id, answered once, at most 50 valid results."""
        query_id = str(params.get("inline_query_id") or "")
        results = self._inline_results(params.get("results"))
        if query_id not in self._inline_queries or query_id in self.inline_answers:
            raise bad_request(QUERY_INVALID)
        next_offset = str(params.get("next_offset") or "")
        if len(next_offset.encode()) > 64:
            raise bad_request("NEXT_OFFSET_INVALID")
        self.inline_answers[query_id] = {
            "results": results,
            "cache_time": _to_int(params.get("cache_time"), 300),
            "is_personal": bool(params.get("is_personal")),
            "next_offset": next_offset,
            "button": params.get("button"),
        }
        return True

    def _inline_results(self, raw: Any) -> list[JSON]:
        """Validate the results of answerInlineQuery."""
        if raw in (None, ""):
            return []
        if isinstance(raw, str):
            raise bad_request("can't parse JSON encoded inline query results: invalid JSON")
        if not isinstance(raw, list):
            raise bad_request("expected an Array of inline query results")
        results = []
        for item in raw:
            try:
                results.append(self._inline_result(item))
            except _FieldError as exc:
                raise bad_request(f"Can't parse inline query result: {exc}") from None
        ids = [result["id"] for result in results]
        if len(results) > MAX_INLINE_RESULTS:
            raise bad_request("RESULTS_TOO_MUCH")
        if any(not 1 <= len(i.encode()) <= MAX_RESULT_ID_BYTES for i in ids):
            raise bad_request("RESULT_ID_INVALID")
        if len(set(ids)) != len(ids):
            raise bad_request("RESULT_ID_DUPLICATE")
        return results

    def _inline_result(self, item: Any) -> JSON:
        """Validate one InlineQueryResult (articles fully, other types loosely)."""
        if not isinstance(item, dict):
            raise _FieldError("Inline query result must be an object")
        kind = _require_str(item, "type").lower()
        _require_str(item, "id")
        if "reply_markup" in item:
            markup = item["reply_markup"]
            if not isinstance(markup, dict) or parse_reply_markup(markup).kind not in (
                "inline",
                "none",
            ):
                raise _FieldError("Inline keyboard expected")
        if kind == "article":
            _require_str(item, "title")
            self._inline_content(item.get("input_message_content"))
        return copy.deepcopy(item)

    def _inline_content(self, content: Any) -> None:
        """Validate the input_message_content of an article like a sendMessage text."""
        if content is None:
            raise _FieldError('Can\'t find field "message_text"')
        if not isinstance(content, dict):
            raise _FieldError('Field "input_message_content" must be of type Object')
        text = content.get("message_text")
        if not isinstance(text, str) or not text:
            if any(k in content for k in ("latitude", "phone_number", "payload", "title")):
                return  # location, venue, contact or invoice content
            raise _FieldError("Input message content is not specified")
        try:
            formatted = format_text(
                text,
                content.get("parse_mode"),
                content.get("entities"),
                strict_ampersand=self.strict_ampersand,
            )
        except ApiError as exc:
            reason = exc.description.removeprefix("Bad Request: ")
            raise _FieldError(reason[:1].upper() + reason[1:]) from None
        if not formatted.text:
            raise _FieldError("Input message content is not specified")
        if utf16_len(formatted.text) > MAX_TEXT:
            raise bad_request("MESSAGE_TOO_LONG")

    # -- methods: files ----------------------------------------------------------------------------

    async def _get_file(self, params: Params) -> JSON:
        """getFile for files the bot sent or a parent sent."""
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise bad_request("wrong file_id or the file is temporarily unavailable")
        size = stored.size if stored.size is not None else len(stored.data)
        if size > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": size,
            "file_path": stored.path,
        }


# ---------------------------------------------------------------------------------------------
# Module helpers used by the server
# ---------------------------------------------------------------------------------------------


def _error_response(error: ApiError) -> web.Response:
    """An HTTP answer carrying a Bot API error."""
    return web.json_response(error.body(), status=error.status)


def _abandoned_poll(method: str, request: web.Request) -> bool:
    """A getUpdates whose client hung up (PTB cancels its poll on shutdown): nobody sees the
    answer, so it is not recorded."""
    transport = request.transport
    return method == "getUpdates" and (transport is None or transport.is_closing())


def _unknown_method(name: str) -> ApiError:
    """Telegram answers 404 to unknown methods; real ones the fake lacks get a clear 501."""
    if name.lower() in _KNOWN_METHODS:
        return ApiError(
            501, f"Not Implemented: FakeBotApi does not implement {_KNOWN_METHODS[name.lower()]}"
        )
    return ApiError(404, "Not Found")


def _default_description(status: int, retry_after: int | None) -> str:
    """Telegram's description for an injected failure of this status."""
    defaults = {
        400: "Bad Request: injected failure",
        401: "Unauthorized",
        403: BLOCKED,
        404: "Not Found",
        409: CONFLICT_POLLING,
        429: f"Too Many Requests: retry after {retry_after}",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }
    return defaults.get(status, f"Error {status}")


def _bot_command(item: Any) -> JSON:
    """Validate one BotCommand like tdlib's set_commands and Telegram's server."""
    try:
        if not isinstance(item, dict):
            raise _FieldError("expected an Object")
        command = _require_str(item, "command").strip().removeprefix("/")
        description = _require_str(item, "description").strip()
    except _FieldError as exc:
        raise bad_request(f"Can't parse BotCommand: {exc}") from None
    if not command:
        raise bad_request("Command must be non-empty")
    if len(command) > MAX_COMMAND_LENGTH:
        raise bad_request(f"Command length must not exceed {MAX_COMMAND_LENGTH}")
    if not description:
        raise bad_request("Command description must be non-empty")
    if len(description) > MAX_COMMAND_DESCRIPTION:
        raise bad_request(f"Command description length must not exceed {MAX_COMMAND_DESCRIPTION}")
    if not re.fullmatch(r"[a-z0-9_]+", command):
        raise bad_request("BOT_COMMAND_INVALID")
    return {"command": command, "description": description}


def _callback_data_of(message: JSON) -> list[str]:
    """The callback_data of every button a message shows."""
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [b["callback_data"] for row in rows for b in row if "callback_data" in b]


_META_FIELDS = frozenset(
    {
        "message_id",
        "from",
        "chat",
        "date",
        "edit_date",
        "reply_to_message",
        "reply_markup",
        "forward_origin",
        "sender_chat",
        "message_thread_id",
        "is_topic_message",
    }
)


def _content_of(message: JSON) -> JSON:
    """The content of a message, without who sent it where and when."""
    return {k: copy.deepcopy(v) for k, v in message.items() if k not in _META_FIELDS}


def _walk(obj: Any) -> Iterator[JSON]:
    """Every dict nested in obj."""
    if isinstance(obj, dict):
        yield obj
        for value in obj.values():
            yield from _walk(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _walk(value)
