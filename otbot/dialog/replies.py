"""What the conversation says back: transport-free replies with buttons and attachments."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from otbot.effects import Effect
from otbot.kb.markup import MAX_BUTTON_TEXT


def _label(text: str) -> str:
    """A button label that fits: Telegram clients cut long labels mid-word."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_BUTTON_TEXT else text[: MAX_BUTTON_TEXT - 1].rstrip() + "…"


@dataclass(frozen=True)
class Button:
    """A button: pressing it sends `data` back to the conversation (or shares `share`)."""

    label: str
    data: str = ""
    share: str | None = None  # a query to share in another chat (Telegram inline mode)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", _label(self.label))


@dataclass(frozen=True)
class Document:
    """A file to send, such as the summary for the pediatrician."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class Reply:
    """One message: Telegram-HTML text, button rows; `edit` replaces the message pressed.

    With a document, the text is the document's caption (at most 1,024 characters).
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    edit: bool = False
    document: Document | None = None
    notice: str = ""  # a short toast for the button press (answerCallbackQuery text)


@dataclass(frozen=True)
class Target:
    """Where a reply goes: the chat, the forum topic, the message a button was on."""

    chat_id: int
    thread_id: int | None = None
    message_id: int | None = None


def dump(reply: Reply, target: Target) -> str:
    """A reply and its target as JSON, kept in the outbox until it is sent."""
    data: dict[str, Any] = {
        "text": reply.text, "edit": reply.edit, "notice": reply.notice,
        "target": [target.chat_id, target.thread_id, target.message_id],
        "buttons": [[[b.label, b.data, b.share] for b in row] for row in reply.buttons],
    }
    if reply.document is not None:
        data["document"] = [reply.document.filename,
                            base64.b64encode(reply.document.content).decode("ascii")]
    return json.dumps(data, separators=(",", ":"))


def load(payload: str) -> tuple[Reply, Target]:
    """The reply and target `dump` wrote."""
    data = json.loads(payload)
    document = data.get("document")
    return Reply(
        data["text"],
        tuple(tuple(Button(label, button_data, share) for label, button_data, share in row)
              for row in data["buttons"]),
        edit=data["edit"], notice=data["notice"],
        document=Document(document[0], base64.b64decode(document[1])) if document else None,
    ), Target(*data["target"])


@dataclass
class Turn:
    """The outcome of one event: the replies, and side effects for the adapter's store."""

    replies: list[Reply] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)

    @property
    def notice(self) -> str:
        """The short notice a pressed button shows, if a reply carries one."""
        return next((r.notice for r in self.replies if r.notice), "")


def rows(buttons: list[Button], per_row: int = 1) -> tuple[tuple[Button, ...], ...]:
    """Buttons laid out `per_row` to a row."""
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))
