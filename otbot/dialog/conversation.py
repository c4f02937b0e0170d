"""The conversation: an event and the parent's stored state in, replies and new state out.

Nothing here knows about Telegram or the terminal; both adapters only translate.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from otbot.dialog.callbacks import Callback, decode, encode
from otbot.dialog.checklist import ScreenFlow
from otbot.dialog.replies import Button, Reply, Turn, rows
from otbot.effects import (
    NONE_OF_THESE,
    Answered,
    Decided,
    Effect,
    Forget,
    Miss,
    MissKind,
    Vote,
)
from otbot.kb import Entry, KnowledgeBase
from otbot.kb.markup import escape, visible_text
from otbot.understanding.followup import (
    FollowUp,
    Reading,
    content,
    follow_up,
    is_short,
    refers_back,
)
from otbot.understanding.matcher import Decision, DecisionKind, Matcher
from otbot.understanding.text import normalize

MAX_RELATED = 3
# How long the last answer and the options offered stay in mind for a follow-up.
CONTEXT_TTL = dt.timedelta(minutes=10)
# A message holding this much of one wording of its answer asks a question of its own.
SELF_CONTAINED = 0.9
# How much more of a follow-up's own words another topic must cover than the last topic
# before the follow-up is taken as a question of its own (tuned on eval/followups-dev*.yaml).
OWN_WORDS_MARGIN = 0.2
OWN_WORDING = 0.5  # ...and hold this share of one of that topic's wordings
MISS_CHARS = 500  # enough to see what was asked; a pasted letter is not kept whole
COMMANDS = ("start", "help", "topics", "screen", "privacy", "forget", "cancel")
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@(\w+))?(?:\s+(.*))?$", re.DOTALL)


def _miss(text: str, kind: MissKind = MissKind.FALLBACK, topic: str | None = None) -> Miss:
    """A question that went wrong as the store keeps it: normalised, so no formatting or
    names in capitals survive, and short."""
    return Miss(normalize(text)[:MISS_CHARS], kind, topic)


# What a parent's state keeps between turns for follow-ups: the topic last answered, the
# options last offered (or the runners-up of the answer), when, and how often the bot
# fell back in a row. No text of the parent's.
CONTEXT = "context"
Asked = dict[str, Any]


def _context(state: State, now: dt.datetime) -> dict[str, Any] | None:
    """The conversation's recent context, or None when there is none or it has expired."""
    context = state.get(CONTEXT)
    if not isinstance(context, dict):
        return None
    try:
        fresh = now - dt.datetime.fromisoformat(str(context.get("at"))) <= CONTEXT_TTL
    except ValueError:
        fresh = False
    if not fresh:
        state.pop(CONTEXT, None)
    return context if fresh else None


def _remember(decision: Decision, state: State, now: dt.datetime,
              context: dict[str, Any] | None, text: str = "") -> None:
    """Keep what a follow-up may lean on: the answer and its runners-up, or the offer."""
    if decision.kind is DecisionKind.ANSWER and decision.topic:
        state[CONTEXT] = {"topic": decision.topic, "at": now.isoformat(),
                          "options": [t for t in decision.options if t != decision.topic]}
        if decision.more:  # a second "tell me more" moves on to a related topic
            state[CONTEXT].update(more=decision.topic, options=(context or {}).get("options", []))
    elif decision.kind is DecisionKind.CLARIFY:
        state[CONTEXT] = {"topic": (context or {}).get("topic"), "at": now.isoformat(),
                          "options": list(decision.options)}
        state["asked"] = {"text": normalize(text)[:MISS_CHARS], "options": list(decision.options)}
    elif decision.kind is DecisionKind.FALLBACK and decision.detail is None:
        kept = dict(context or {})
        kept.update(at=now.isoformat(), fallbacks=int(kept.get("fallbacks", 0)) + 1)
        state[CONTEXT] = kept


def _instead(decision: Decision, kind: DecisionKind, topic: str | None = None) -> Decision:
    """Another decision for the same message, keeping what was learnt about it."""
    return Decision(kind, topic, soon=decision.soon, language=decision.language)


def _fell_back(context: dict[str, Any] | None) -> bool:
    """Whether the last reply was already a fallback: then say it differently."""
    return bool(context and context.get("fallbacks"))


def _clarify_miss(asked: Asked, taken: str | None) -> Miss:
    """What the parent did with a "did you mean…" offer: a topic, none of these, or nothing."""
    return Miss(str(asked.get("text", "")), MissKind.CLARIFY, taken,
                tuple(asked.get("options", ())))


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
        self._general = {e for theme in kb.themes if theme.general for e in theme.entry_ids}

    def handle(self, event: Event, state: State) -> tuple[Turn, State]:
        """Handle one event; returns the turn and the state to store before replying."""
        state = dict(state)
        self.screen.expire(state, event.now)
        # The last "did you mean…" offer, kept for one turn: what the parent did with it is
        # what maintainers need to know (otbot misses).
        asked = state.pop("asked", None)
        turn = Turn()
        if event.kind is EventKind.TEXT:
            self._text(event, state, turn, asked)
        elif event.kind is EventKind.COMMAND:
            self._command(event, state, turn)
        elif event.kind is EventKind.BUTTON:
            self._button(event, state, turn, asked)
        else:
            turn.replies.append(Reply(self.kb.message("not_text")))
        return turn, state

    # --- text -------------------------------------------------------------------------

    def understand(self, text: str, state: State, now: dt.datetime) -> Decision:
        """The decision for a typed message, in the light of the conversation so far."""
        return self._read(text, _context(dict(state), now))[0]

    def _read(self, text: str, context: dict[str, Any] | None
              ) -> tuple[Decision, FollowUp | None]:
        lean = follow_up(text)
        return self._in_context(self.matcher.decide(text), text, lean, context), lean

    def _text(self, event: Event, state: State, turn: Turn, asked: Asked | None) -> None:
        # While a checklist question waits, "often", "not sure" or "2" answers it; an
        # emergency never does.
        answered = self.screen.typed(event.text, state, event.now) \
            if self.screen.is_open(state) and not self.is_urgent(event.text) else None
        if answered is not None:
            turn.replies.extend(answered)
            return
        context = _context(state, event.now)
        decision, lean = self._read(event.text, context)
        picked = decision.topic if lean and lean.reading is Reading.PICK else None
        if asked:
            turn.effects.append(_clarify_miss(asked, picked))
        missed = self._complaint(decision, context)
        if missed is not None:  # "that's not what I asked" right after an answer: as 👎
            turn.effects.append(Miss("", MissKind.UNHELPFUL, missed))
            turn.replies.append(self._instead_of(missed, context or {}))
        else:
            turn.replies.extend(self.decision_replies(decision, again=_fell_back(context)))
            turn.effects.extend(self._effects(decision, event.text, lean))
            _remember(decision, state, event.now, context, event.text)
        if decision.kind is not DecisionKind.URGENT:
            offer = self.screen.resume(state)
            if offer is not None:
                turn.replies.append(offer)

    def _complaint(self, decision: Decision, context: dict[str, Any] | None) -> str | None:
        """The topic just answered, if the message complains that it missed."""
        topic = (context or {}).get("topic")
        if decision.kind is not DecisionKind.SMALLTALK or topic not in self.kb.entries:
            return None
        return str(topic) if self.kb.smalltalk.kind(str(decision.detail)).complaint else None

    def _in_context(self, decision: Decision, text: str, lean: FollowUp | None,
                    context: dict[str, Any] | None) -> Decision:
        """The decision for a message that leans on the last answer or offer.

        An emergency or small talk stays what it is, and so does a message that answers
        on its own: only a short message, or one that points back ("that", "tell me
        more"), is read in the light of the last turn.
        """
        if decision.kind in (DecisionKind.URGENT, DecisionKind.SMALLTALK) \
                or self._self_contained(decision, text) or (lean is None and not is_short(text)):
            return decision
        if context is None:
            # "tell me more" or "the second one" with nothing before it: no topic to guess.
            return decision if lean is None or lean.reading is Reading.FOLLOW \
                else _instead(decision, DecisionKind.FALLBACK)
        options = [t for t in context.get("options", ()) if t in self.kb.entries]
        entry = self.kb.entries.get(context.get("topic") or "")
        if lean and lean.reading is Reading.PICK and options and lean.index < len(options):
            return _instead(decision, DecisionKind.ANSWER, options[lean.index])
        if lean and lean.reading is Reading.NONE and options:
            return _instead(decision, DecisionKind.FALLBACK)
        if entry is None:
            return decision
        if lean and lean.reading is Reading.MORE:
            return self._more(decision, entry, context)
        return self._about(decision, text, entry, options)

    def _more(self, decision: Decision, entry: Entry, context: dict[str, Any]) -> Decision:
        """"Tell me more": the topic's `more` text, then (asked again) its first related topic."""
        if entry.more and context.get("more") != entry.id:
            return dataclasses.replace(_instead(decision, DecisionKind.ANSWER, entry.id),
                                       more=True)
        related = [r for r in entry.related if r in self.kb.entries] or [entry.id]
        return _instead(decision, DecisionKind.ANSWER, related[0])

    def _about(self, decision: Decision, text: str, entry: Entry,
               options: list[str]) -> Decision:
        """A short question right after an answer: about that answer, unless it asks about
        another facet ("how long does it take?", "is it free?") or another topic."""
        asked = content(text)
        # Re-readings of a message `decide` has checked for emergencies already.
        alone = self.matcher.understand(asked) if asked != normalize(text) else decision
        best = alone.candidates[0].topic if alone.candidates and \
            alone.candidates[0].score > 0 else None
        general = best in self._general and entry.id not in self._general
        # Its own words fit another topic better than the last one: a question of its own.
        if alone.kind is DecisionKind.ANSWER and best is not None and not general and \
                alone.candidates[0].wording >= OWN_WORDING:
            own, last = self.matcher.coverage(asked, best, entry.id)
            if own > last + OWN_WORDS_MARGIN:
                return dataclasses.replace(alone, soon=decision.soon, language=decision.language)
        # Read with the last topic's own question beside it, preferring that topic, its
        # related topics and what was offered.
        leaned = self.matcher.understand(f"{text} {visible_text(entry.question)}")
        if leaned.kind is DecisionKind.ANSWER and leaned.topic in {
                entry.id, *entry.related, *options}:
            return dataclasses.replace(leaned, soon=decision.soon, language=decision.language)
        if general or best == entry.id:  # "what would OT do for her?" after that topic
            return _instead(decision, DecisionKind.ANSWER, entry.id)
        if decision.kind is not DecisionKind.ANSWER and leaned.kind in (
                DecisionKind.ANSWER, DecisionKind.CLARIFY):
            return dataclasses.replace(leaned, soon=decision.soon, language=decision.language)
        return decision

    def _self_contained(self, decision: Decision, text: str) -> bool:
        """An answer that holds most of one of its topic's wordings: a question of its own.

        Not one about OT in general that points back: "what will the OT do about it?" asks
        about the last topic, "why is it called OT?" does not.
        """
        return decision.kind is DecisionKind.ANSWER and bool(decision.candidates) and \
            decision.candidates[0].wording >= SELF_CONTAINED and not (
                decision.topic in self._general and refers_back(text))

    def _effects(self, decision: Decision, text: str, lean: FollowUp | None) -> list[Effect]:
        """What maintainers and counts learn from a text's decision."""
        declined = decision.kind is DecisionKind.FALLBACK and decision.detail is not None
        counted = Decided("declined" if declined else decision.kind.value)
        if decision.kind is DecisionKind.ANSWER and decision.topic:
            return [counted, Answered(decision.topic)]
        if decision.kind is not DecisionKind.FALLBACK or not text.strip():
            return [counted]
        if declined:
            return [counted, _miss(text, MissKind.DECLINED, decision.detail)]
        return [counted, _miss(text, MissKind.FOLLOWUP if lean else MissKind.FALLBACK)]

    def decision_replies(self, decision: Decision, *, again: bool = False) -> list[Reply]:
        """What the parent reads for a matcher decision."""
        if decision.kind is DecisionKind.URGENT:
            return [Reply(self.matcher.urgent.reply(decision.urgent, decision.language))]
        if decision.kind is DecisionKind.SMALLTALK:
            return [Reply(self.kb.smalltalk.kind(str(decision.detail)).reply)]
        if decision.kind is DecisionKind.ANSWER and decision.topic:
            return [self.answer(self.kb.entries[decision.topic], soon=decision.soon,
                                more=decision.more)]
        if decision.kind is DecisionKind.CLARIFY:
            return [self._clarify(decision)]
        decline = self.kb.declines.get(decision.detail or "")
        if decline and decline.reply:
            return [self.fallback(text=decline.reply, soon=decision.soon)]
        text = self.kb.message("fallback_again" if again else "fallback")
        return [self.fallback(text=self._in_their_language(text, decision.language),
                              soon=decision.soon)]

    def _in_their_language(self, text: str, language: str) -> str:
        """A message in another language: first a note, in it, that the bot answers in English."""
        note = self.kb.messages.get(f"english_only_{language}")
        return f"{note}\n\n{text}" if note else text

    def answer(self, entry: Entry, *, edit: bool = False, voted: bool = False,
               soon: tuple[str, ...] = (), more: bool = False) -> Reply:
        """An FAQ answer (or its `more` text) with related topics, the screen where it fits,
        and feedback.

        A worry for a doctor soon (urgent.yaml, `level: soon`) adds its line under it.
        """
        buttons = [Button(self.kb.entries[r].question, encode("a", r))
                   for r in entry.related[:MAX_RELATED] if r in self.kb.entries]
        if entry.offer_screen:
            buttons.append(Button(self.kb.message("btn_screen"), encode("scr")))
        layout = list(rows(buttons))
        text = self._with_doctor_line(entry.more if more and entry.more else entry.answer, soon)
        if not voted:
            text += f"\n\n<i>{self.kb.message('was_it_helpful')}</i>"
            shown = ("m",) if more and entry.more else ()
            layout.append((
                Button(self.kb.message("helpful_yes"), encode("v", entry.id, "y", *shown)),
                Button(self.kb.message("helpful_no"), encode("v", entry.id, "n", *shown))))
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
        buttons.append(Button(self.kb.message("btn_other_words"), encode("m", "ask")))
        return Reply(self.safe(self._in_their_language(self.kb.message("did_you_mean"),
                                                       decision.language)), rows(buttons))

    def fallback(self, *, edit: bool = False, text: str | None = None,
                 soon: tuple[str, ...] = ()) -> Reply:
        """No answer: say so (in the decline's words if any), offer the browser and screen."""
        text = self._with_doctor_line(text or self.kb.message("fallback"), soon)
        return Reply(self.safe(text), (
            (Button(self.kb.message("btn_other_words"), encode("m", "ask")),),
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

    def _button(self, event: Event, state: State, turn: Turn, asked: Asked | None) -> None:
        press = decode(event.text)
        reply = self._press(press, state, turn, asked, event.now) if press else None
        if reply is None:
            turn.replies.append(self.welcome(text_key="out_of_date"))
        else:
            turn.replies.extend(reply)

    def _press(self, press: Callback, state: State, turn: Turn, asked: Asked | None,
               now: dt.datetime) -> list[Reply] | None:
        """The replies for a button, or None if it is out of date or not understood."""
        action, args = press.action, press.args
        if action == "a" and len(args) == 1 and args[0] in self.kb.entries:
            if asked:
                turn.effects.append(_clarify_miss(asked, args[0]))
            turn.effects.append(Answered(args[0]))
            _remember(Decision(DecisionKind.ANSWER, args[0]), state, now, None)
            return [self.answer(self.kb.entries[args[0]])]
        # A vote under a "more" text carries "m", so the edited message keeps that text.
        if action == "v" and len(args) in (2, 3) and args[0] in self.kb.entries \
                and args[1] in ("y", "n") and args[2:] in ((), ("m",)):
            return self._vote(args[0], args[1] == "y", state, turn, more=args[2:] == ("m",))
        if action == "n" and not args:
            if asked:
                turn.effects.append(_clarify_miss(asked, NONE_OF_THESE))
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

    def _vote(self, topic: str, helpful: bool, state: State, turn: Turn, *,
              more: bool = False) -> list[Reply]:
        """👍 or 👎: thank the parent; after 👎, offer the next-best topics and other words."""
        turn.effects.append(Vote(topic, helpful=helpful))
        reply = self.answer(self.kb.entries[topic], edit=True, voted=True, more=more)
        thanked = Reply(reply.text, reply.buttons, edit=True,
                        notice=self.kb.message("vote_thanks"))
        if helpful:
            return [thanked]
        turn.effects.append(Miss("", MissKind.UNHELPFUL, topic))
        return [thanked, self._instead_of(topic, state.get(CONTEXT) or {})]

    def _instead_of(self, topic: str, context: dict[str, Any]) -> Reply:
        """After an answer that missed: the next-best topics, other words, all topics."""
        others = [t for t in [*context.get("options", ()), *self.kb.entries[topic].related]
                  if t in self.kb.entries and t != topic]
        buttons = [Button(self.kb.entries[t].question, encode("a", t))
                   for t in dict.fromkeys(others)][:MAX_RELATED]
        buttons += [Button(self.kb.message("btn_other_words"), encode("m", "ask")),
                    Button(self.kb.message("btn_topics"), encode("m", "topics"))]
        return Reply(self.kb.message("not_helpful"), rows(buttons))

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
