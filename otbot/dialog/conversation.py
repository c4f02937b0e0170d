"""The conversation: an event and the parent's stored state in, replies and new state out.

Nothing here knows about Telegram or the terminal; both adapters only translate.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from otbot.dialog.callbacks import Callback, decode, encode
from otbot.dialog.checklist import ScreenFlow
from otbot.dialog.replies import Button, Reply, Turn, rows
from otbot.effects import Answered, Forget, Miss, Vote
from otbot.kb import Entry, KnowledgeBase
from otbot.kb.markup import escape
from otbot.understanding.matcher import Decision, DecisionKind, Matcher
from otbot.understanding.text import normalize

MAX_RELATED = 3
MISS_CHARS = 500  # enough to see what was asked; a pasted letter is not kept whole
COMMANDS = ("start", "help", "topics", "screen", "privacy", "forget", "cancel")
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@(\w+))?(?:\s+(.*))?$", re.DOTALL)


def _miss(text: str) -> Miss:
    """An unanswered question as the store keeps it: normalised, so no formatting or names
    in capitals survive, and short."""
    return Miss(normalize(text)[:MISS_CHARS])


def parse_command(text: str) -> tuple[str, str, str] | None:
    """(name, addressed bot or "", arguments) if the text is a /command, else None."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    return match.group(1).lower(), match.group(2) or "", (match.group(3) or "").strip()


class EventKind(StrEnum):
    """What the parent did."""

    TEXT = "text"  # typed a message
    COMMAND = "command"  # sent a /command
    BUTTON = "button"  # pressed a button (the event's text is its data)
    OTHER = "other"  # sent something that is not text: a photo, a sticker


@dataclass(frozen=True)
class Event:
    """What the parent did: typed text, sent a /command, pressed a button, or sent non-text."""

    kind: EventKind
    text: str = ""  # the text, or a command's arguments, or the button data
    command: str = ""
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass(frozen=True)
class Settings:
    """How long things are kept; shown to parents in /privacy."""

    retention_days: int = 30
    misses_days: int = 90


State = dict[str, Any]


class Conversation:
    """One knowledge base's conversation logic, shared by every parent."""

    def __init__(self, kb: KnowledgeBase, settings: Settings | None = None) -> None:
        self.kb = kb
        self.settings = settings or Settings()
        self.matcher = Matcher(kb)
        self.screen = ScreenFlow(kb, dt.timedelta(days=self.settings.retention_days))

    def handle(self, event: Event, state: State) -> tuple[Turn, State]:
        """Handle one event; returns the turn and the state to store before replying."""
        state = dict(state)
        self.screen.expire(state, event.now)
        asked = state.pop("asked", None)  # the last unclear question, kept for one turn only
        turn = Turn()
        if event.kind is EventKind.TEXT:
            self._text(event, state, turn)
        elif event.kind is EventKind.COMMAND:
            self._command(event, state, turn)
        elif event.kind is EventKind.BUTTON:
            self._button(event, state, turn, asked)
        else:
            turn.replies.append(Reply(self.kb.message("not_text")))
        return turn, state

    # --- text -------------------------------------------------------------------------

    def _text(self, event: Event, state: State, turn: Turn) -> None:
        decision = self.matcher.decide(event.text)
        turn.replies.extend(self.decision_replies(decision))
        if decision.kind is DecisionKind.ANSWER and decision.topic:
            turn.effects.append(Answered(decision.topic))
        elif (decision.kind is DecisionKind.FALLBACK and event.text.strip()
              and decision.detail is None):
            turn.effects.append(_miss(event.text))  # declined on purpose: no gap to fill
        elif decision.kind is DecisionKind.CLARIFY:
            state["asked"] = event.text
        if decision.kind is not DecisionKind.URGENT:
            offer = self.screen.resume(state)
            if offer is not None:
                turn.replies.append(offer)

    def decision_replies(self, decision: Decision) -> list[Reply]:
        """What the parent reads for a matcher decision."""
        if decision.kind is DecisionKind.URGENT:
            return [Reply(self.matcher.urgent.reply(decision.urgent, decision.language))]
        if decision.kind is DecisionKind.SMALLTALK:
            kind = next(k for k in self.kb.smalltalk.kinds if k.id == decision.detail)
            return [Reply(kind.reply)]
        if decision.kind is DecisionKind.ANSWER and decision.topic:
            return [self.answer(self.kb.entries[decision.topic], soon=decision.soon)]
        if decision.kind is DecisionKind.CLARIFY:
            return [self._clarify(decision)]
        decline = self.kb.declines.get(decision.detail or "")
        return [self.fallback(text=decline.reply if decline and decline.reply else None,
                              soon=decision.soon)]

    def answer(self, entry: Entry, *, edit: bool = False, voted: bool = False,
               soon: tuple[str, ...] = ()) -> Reply:
        """An FAQ answer with related topics, the screen where it fits, and feedback.

        A worry for a doctor soon (urgent.yaml, `level: soon`) adds its line under it.
        """
        buttons = [Button(self.kb.entries[r].question, encode("a", r))
                   for r in entry.related[:MAX_RELATED] if r in self.kb.entries]
        if entry.offer_screen:
            buttons.append(Button(self.kb.message("btn_screen"), encode("scr")))
        layout = list(rows(buttons))
        text = self._with_doctor_line(entry.answer, soon)
        if not voted:
            text += f"\n\n<i>{self.kb.message('was_it_helpful')}</i>"
            layout.append((Button(self.kb.message("helpful_yes"), encode("v", entry.id, "y")),
                           Button(self.kb.message("helpful_no"), encode("v", entry.id, "n"))))
        layout.append((Button(self.kb.message("share"), share=entry.question),))
        return Reply(text, tuple(layout), edit=edit)

    def _with_doctor_line(self, text: str, soon: tuple[str, ...]) -> str:
        kinds = [kind for kind in self.kb.urgent.kinds if kind.id in soon]
        return "\n\n".join([text, *(kind.reply for kind in kinds)])

    def safe(self, text: str) -> str:
        """An unsure reply, with the one sentence that says what to do in an emergency."""
        return f"{text}\n\n<i>{self.kb.message('safety_line')}</i>"

    def _clarify(self, decision: Decision) -> Reply:
        buttons = [Button(self.kb.entries[t].question, encode("a", t)) for t in decision.options]
        buttons.append(Button(self.kb.message("none_of_these"), encode("n")))
        return Reply(self.safe(self.kb.message("did_you_mean")), rows(buttons))

    def fallback(self, *, edit: bool = False, text: str | None = None,
                 soon: tuple[str, ...] = ()) -> Reply:
        """No answer: say so (in the decline's words if any), offer the browser and screen."""
        text = self._with_doctor_line(text or self.kb.message("fallback"), soon)
        return Reply(self.safe(text), (
            (Button(self.kb.message("btn_topics"), encode("m", "topics")),),
            (Button(self.kb.message("btn_screen"), encode("scr")),),
        ), edit=edit)

    def is_urgent(self, text: str) -> bool:
        """Whether a text may be an emergency (checked before anything else, flood or not)."""
        return bool(self.matcher.urgent.detect(text))

    def inline_entries(self, query: str, limit: int) -> list[Entry]:
        """Answers to offer for sharing: the best matches, or the first topics when empty."""
        if not query.strip():
            return [self.kb.entries[t.entry_ids[0]] for t in self.kb.themes][:limit]
        decision = self.matcher.decide(query)
        if decision.kind is DecisionKind.ANSWER and decision.topic:
            return [self.kb.entries[decision.topic]]
        if decision.kind is DecisionKind.CLARIFY:
            return [self.kb.entries[t] for t in decision.options[:limit]]
        return []

    # --- commands -----------------------------------------------------------------------

    def _command(self, event: Event, state: State, turn: Turn) -> None:
        name, args = event.command, event.text.strip()
        if name == "start":
            self._start(args, state, turn, event.now)
        elif name == "help":
            turn.replies.append(Reply(self.kb.message("help"), self._menu_buttons()))
        elif name == "topics":
            turn.replies.append(self.themes())
        elif name == "screen":
            turn.replies.extend(self.screen.start(state, event.now))
        elif name == "privacy":
            turn.replies.append(self._privacy())
        elif name == "forget":
            turn.replies.append(Reply(self.kb.message("forget_confirm"), (
                (Button(self.kb.message("forget_yes"), encode("fg", "y")),
                 Button(self.kb.message("forget_no"), encode("fg", "n"))),)))
        elif name == "cancel":
            self._cancel(state, turn)
        else:
            turn.replies.append(Reply(self.kb.message("unknown_command")))

    def _start(self, args: str, state: State, turn: Turn, now: dt.datetime) -> None:
        """/start, with the deep links `screen` and `topic-<id>`."""
        if args == "screen":
            turn.replies.extend(self.screen.start(state, now))
            return
        topic = args.removeprefix("topic-") if args.startswith("topic-") else None
        if topic in self.kb.entries:
            turn.replies.append(self.answer(self.kb.entries[topic]))
            turn.effects.append(Answered(topic))
            return
        turn.replies.append(self.welcome())

    def welcome(self, *, edit: bool = False, text_key: str = "welcome") -> Reply:
        """The welcome text and the main menu."""
        return Reply(self.kb.message(text_key), self._menu_buttons(), edit=edit)

    def _menu_buttons(self) -> tuple[tuple[Button, ...], ...]:
        return (
            (Button(self.kb.message("btn_ask"), encode("m", "ask")),
             Button(self.kb.message("btn_topics"), encode("m", "topics"))),
            (Button(self.kb.message("btn_screen"), encode("scr")),
             Button(self.kb.message("btn_privacy"), encode("m", "privacy"))),
        )

    def _privacy(self) -> Reply:
        return Reply(self.kb.message(
            "privacy", retention_days=str(self.settings.retention_days),
            misses_days=str(self.settings.misses_days)))

    def _cancel(self, state: State, turn: Turn) -> None:
        if self.screen.is_open(state):
            turn.replies.extend(self.screen.cancel(state))
        else:
            turn.replies.append(Reply(self.kb.message("nothing_to_cancel")))

    # --- browsing -------------------------------------------------------------------------

    def themes(self, *, edit: bool = False) -> Reply:
        """The first level of the topic browser."""
        buttons = [Button(t.title, encode("t", t.id)) for t in self.kb.themes]
        return Reply(self.kb.message("topics_intro"), rows(buttons, 2), edit=edit)

    def _theme(self, theme_id: str) -> Reply | None:
        theme = next((t for t in self.kb.themes if t.id == theme_id), None)
        if theme is None:
            return None
        buttons = [Button(self.kb.entries[e].question, encode("a", e)) for e in theme.entry_ids]
        buttons.append(Button(self.kb.message("back"), encode("m", "topics")))
        return Reply(self.kb.message("theme_intro", title=escape(theme.title)), rows(buttons),
                     edit=True)

    # --- buttons ----------------------------------------------------------------------------

    def _button(self, event: Event, state: State, turn: Turn, asked: str | None) -> None:
        press = decode(event.text)
        reply = self._press(press, state, turn, asked, event.now) if press else None
        if reply is None:
            turn.replies.append(self.welcome(text_key="out_of_date"))
        else:
            turn.replies.extend(reply)

    def _press(self, press: Callback, state: State, turn: Turn, asked: str | None,
               now: dt.datetime) -> list[Reply] | None:
        """The replies for a button, or None if it is out of date or not understood."""
        action, args = press.action, press.args
        if action == "a" and len(args) == 1 and args[0] in self.kb.entries:
            turn.effects.append(Answered(args[0]))
            return [self.answer(self.kb.entries[args[0]])]
        if action == "v" and len(args) == 2 and args[0] in self.kb.entries and args[1] in "yn":
            turn.effects.append(Vote(args[0], helpful=args[1] == "y"))
            reply = self.answer(self.kb.entries[args[0]], edit=True, voted=True)
            return [Reply(reply.text, reply.buttons, edit=True,
                          notice=self.kb.message("vote_thanks"))]
        if action == "n" and not args:
            if asked:
                turn.effects.append(_miss(asked))
            return [self.fallback(edit=True)]
        if action == "m" and len(args) == 1:
            return self._menu(args[0])
        if action == "t" and len(args) == 1:
            theme = self._theme(args[0])
            return [theme] if theme else None
        if action == "scr" and not args:
            return self.screen.start(state, now)
        if action == "s":
            return self.screen.press(args, state, now)
        if action == "fg" and args in (("y",), ("n",)):
            if args == ("y",):
                state.clear()
                turn.effects.append(Forget())
                return [Reply(self.kb.message("forgotten"), edit=True)]
            return [Reply(self.kb.message("forget_kept"), edit=True)]
        return None

    def _menu(self, name: str) -> list[Reply] | None:
        if name == "topics":
            return [self.themes(edit=True)]
        if name == "ask":
            return [Reply(self.kb.message("ask_prompt"))]
        if name == "privacy":
            return [self._privacy()]
        if name == "start":
            return [self.welcome(edit=True)]
        return None
