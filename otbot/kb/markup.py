"""Telegram's HTML subset: check it, measure it, escape into it, split it into messages."""

from __future__ import annotations

import html
from html.parser import HTMLParser

MAX_MESSAGE = 4096  # Telegram's limit, in UTF-16 code units of the visible text
MAX_CAPTION = 1024
MAX_CALLBACK_ANSWER = 200
MAX_BUTTON_TEXT = 64  # longer labels are cut by Telegram clients anyway

# The tags Telegram accepts with parse_mode=HTML; anything else is a 400 "can't parse entities".
ALLOWED_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
     "blockquote", "tg-spoiler", "tg-emoji", "span"}
)

# Telegram knows only these named entities (numeric ones all work).
NAMED_ENTITIES = frozenset({"lt", "gt", "amp", "quot"})

escape = html.escape


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class _Checker(HTMLParser):
    """Collects what Telegram would reject and the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.problems: list[str] = []
        self.open: list[str] = []
        self.visible: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}> is not allowed by Telegram")
        elif tag == "a" and not dict(attrs).get("href"):
            self.problems.append("<a> needs an href")
        elif tag == "span" and dict(attrs).get("class") != "tg-spoiler":
            self.problems.append('<span> needs class="tg-spoiler"')
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.problems.append(f"self-closing <{tag}/> is not allowed by Telegram")

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> does not close the last open tag")
        else:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            self.problems.append("a bare < or > must be written &lt; or &gt;")
        if "&" in data:
            self.problems.append("a bare & must be written &amp;")
        self.visible.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in NAMED_ENTITIES:
            self.problems.append(f"&{name}; is not an entity Telegram knows")
        self.visible.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.visible.append(html.unescape(f"&#{name};"))

    def handle_comment(self, data: str) -> None:
        self.problems.append("comments are not allowed by Telegram")

    def handle_decl(self, decl: str) -> None:
        self.problems.append("declarations are not allowed by Telegram")


def html_problems(text: str) -> list[str]:
    """Everything in `text` that Telegram's HTML parse mode would reject."""
    checker = _Checker()
    checker.feed(text)
    checker.close()
    problems = list(dict.fromkeys(checker.problems))
    if checker.open and checker.open[-1] in ALLOWED_TAGS:  # a refused tag: said once above
        problems.append(f"<{checker.open[-1]}> is never closed")
    visible = "".join(checker.visible)
    if not visible.strip():
        problems.append("the text shows nothing")
    elif utf16_length(visible) > MAX_MESSAGE:
        problems.append(f"the text is {utf16_length(visible)} characters, "
                        f"over Telegram's {MAX_MESSAGE}")
    return problems


def visible_text(text: str) -> str:
    """The text a parent sees once the HTML is rendered."""
    checker = _Checker()
    checker.feed(text)
    checker.close()
    return "".join(checker.visible)


def split_message(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split HTML text into messages within `limit`, at paragraph, then line, then word breaks.

    Tags never span a break because knowledge-base markup is inline and checked at load;
    escaped text from elsewhere has no tags at all.
    """
    if utf16_length(visible_text(text)) <= limit:
        return [text]
    for separator in ("\n\n", "\n", " "):
        parts = text.split(separator)
        if len(parts) > 1:
            return _pack(parts, separator, limit)
    # One unbroken run of characters: cut it, staying off entity boundaries.
    plain = html.unescape(text)
    step = limit // 2  # an escaped character may take more than one code unit
    return [escape(plain[i : i + step], quote=False) for i in range(0, len(plain), step)]


def _pack(parts: list[str], separator: str, limit: int) -> list[str]:
    """Greedily join parts into chunks that fit, splitting any part that alone is too long."""
    chunks: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current}{separator}{part}" if current else part
        if utf16_length(visible_text(candidate)) <= limit:
            current = candidate
            continue
        if current:
            chunks.append(current)
        if utf16_length(visible_text(part)) <= limit:
            current = part
        else:
            pieces = split_message(part, limit)
            chunks.extend(pieces[:-1])
            current = pieces[-1]
    if current:
        chunks.append(current)
    return [chunk for chunk in chunks if chunk.strip()]
