"""`otbot chat`: the same conversation in a terminal, buttons shown as numbered choices."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TextIO

from otbot.dialog.conversation import Conversation, Event, EventKind, State, parse_command
from otbot.dialog.replies import Button, Reply
from otbot.kb.markup import visible_text

PROMPT = "you> "
QUIT = {"/quit", "/exit", "quit", "exit"}


def parse_line(line: str) -> Event | None:
    """A typed line as an event: a /command, or text; None for a blank line."""
    line = line.strip()
    if not line:
        return None
    command = parse_command(line)
    if command is not None:
        name, _, args = command
        return Event(EventKind.COMMAND, text=args, command=name)
    return Event(EventKind.TEXT, text=line)


class TerminalChat:
    """Prints replies, numbers their buttons, and turns a typed number into a button press."""

    def __init__(self, conversation: Conversation, output: TextIO,
                 download_dir: Path | None = None) -> None:
        self.conversation = conversation
        self.output = output
        self.state: State = {}
        self.choices: list[Button] = []
        self.download_dir = download_dir

    def handle_line(self, line: str) -> None:
        """Handle one typed line."""
        stripped = line.strip()
        if stripped.isdigit() and self.choices:
            index = int(stripped) - 1
            if 0 <= index < len(self.choices):
                self._event(Event(EventKind.BUTTON, text=self.choices[index].data))
                return
            self._say(f"(choose a number from 1 to {len(self.choices)}, or type a question)")
            return
        event = parse_line(line)
        if event is not None:
            self._event(event)

    def _event(self, event: Event) -> None:
        turn, self.state = self.conversation.handle(event, self.state)
        self.choices = []
        for reply in turn.replies:
            self._show(reply)

    def _show(self, reply: Reply) -> None:
        if reply.notice:
            self._say(f"({reply.notice})")
        lines = [visible_text(reply.text).strip()]
        for row in reply.buttons:
            for button in row:
                if button.data:  # share buttons only make sense on Telegram
                    self.choices.append(button)
                    lines.append(f"  [{len(self.choices)}] {button.label}")
        document = reply.document
        if document is not None:
            lines.append(f"  (file saved: {self._save(document.filename, document.content)})")
        self._say(("(updated) " if reply.edit else "") + "\n".join(lines))

    def _save(self, filename: str, content: bytes) -> Path:
        folder = self.download_dir or Path(tempfile.mkdtemp(prefix="otbot-"))
        path = folder / Path(filename).name
        path.write_bytes(content)
        return path

    def _say(self, text: str) -> None:
        self.output.write(f"bot> {text}\n\n")
        self.output.flush()


def run_chat(conversation: Conversation, input_stream: TextIO, output: TextIO,
             *, interactive: bool) -> None:
    """The read-reply loop, starting with the welcome, until end of input or /quit."""
    chat = TerminalChat(conversation, output)
    output.write("otbot chat: type a question, a /command, or the number of a choice; "
                 "/quit to leave.\n\n")
    chat.handle_line("/start")
    while True:
        if interactive:
            output.write(PROMPT)
            output.flush()
        line = input_stream.readline()
        if not line or line.strip().lower() in QUIT:
            break
        if not interactive:
            output.write(f"{PROMPT}{line.rstrip()}\n")
        chat.handle_line(line)

