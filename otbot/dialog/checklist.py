"""The guided red-flag screen: a dialog of buttons over the signs, knowing nothing of Telegram.

Button data is encode("s", RUN, AT, VERB, *VALUES): RUN ties it to one run of the screen,
AT is the step the message showed. A press from another run is out of date; a press from
an older message of this run shows the current step instead of acting on a past one.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rapidfuzz.distance import DamerauLevenshtein

from otbot.dialog.callbacks import decode, encode
from otbot.dialog.replies import Button, Reply, rows
from otbot.dialog.summary import summary_document, summary_html, summary_lines
from otbot.kb import KnowledgeBase
from otbot.kb.markup import split_message, visible_text
from otbot.kb.screen import (
    FOLLOW_VALUES,
    Answer,
    Answers,
    Area,
    Band,
    FollowUp,
    Item,
    Outcome,
    Screen,
    Tier,
)

ACTION = "s"
KEY = "screen"  # the part of the parent's state this module owns
INTRO, AGE, LOST, REVIEW, DONE = "intro", "age", "lost", "review", "done"
QUESTION, FOLLOW = "q", "f"  # step kinds with an item: "q.ITEM", "f.ITEM.FOLLOWUP"
CHECK = "✓ "  # marks the answer already given when a question is shown again
# What a parent may type instead of pressing, by what the button does (verb, value), besides
# its own label. A waiting question takes only the words of its own buttons.
UNSURE_WORDS = ("not sure", "unsure", "don't know", "dont know", "no idea")
TYPED_WORDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("a", "often"): ("often",), ("a", "sometimes"): ("sometimes",),
    ("a", "rarely"): ("rarely", "never", "rarely or never", "hardly ever"),
    ("a", "unsure"): UNSURE_WORDS,
    **{(verb, "y"): ("yes", "yeah", "yep") for verb in ("f", "l")},
    **{(verb, "n"): ("no", "nope") for verb in ("f", "l")},
    **{(verb, "u"): UNSURE_WORDS for verb in ("f", "l")},
    ("k", ""): ("skip",), ("b", ""): ("back", "go back"),
}
ANSWER_VERBS = ("a", "f", "l")  # buttons that answer: known by their label even without words
TYPED_LONGEST = 30  # longer texts are questions or stories, never a typed answer
_NOT_A_WORD = re.compile(r"[^\w\s']+")


@dataclass
class Run:
    """One parent's run of the screen as kept in their state: ids, answers, ISO timestamps."""

    run: str
    at: str
    touched: str
    band: str | None = None
    answers: dict[str, dict[str, str]] = field(default_factory=dict)  # item: {"a": option, ...}
    lost: str | None = None  # "y", "n", "u"
    review: bool = False  # reached the review once: later changes return to it
    done: str | None = None

    def answers_for_rules(self) -> Answers:
        """The answers in the form the screen's rules evaluate."""
        items = {item: Answer(given["a"], {k: v for k, v in given.items() if k != "a"})
                 for item, given in self.answers.items()}
        return Answers(self.band, items, self.lost)


FIELD_TYPES: dict[str, Any] = {"run": str, "at": str, "touched": str, "band": (str, type(None)),
                               "answers": dict, "lost": (str, type(None)), "review": bool,
                               "done": (str, type(None))}


def _load(state: dict[str, Any]) -> Run | None:
    """The run kept in the state, or None if there is none or it is not one we wrote."""
    data = state.get(KEY)
    if not isinstance(data, dict) or set(data) != set(FIELD_TYPES):
        return None
    if not all(isinstance(data[key], kind) for key, kind in FIELD_TYPES.items()):
        return None
    answers = data["answers"]
    if not all(isinstance(item, str) and isinstance(given, dict) and isinstance(given.get("a"), str)
               and all(isinstance(k, str) and isinstance(v, str) for k, v in given.items())
               for item, given in answers.items()):
        return None
    return Run(**{**data, "answers": {item: dict(given) for item, given in answers.items()}})


def _save(run: Run, state: dict[str, Any]) -> None:
    """Keep the run in the state."""
    state[KEY] = dataclasses.asdict(run)


def _moment(stamp: str, now: datetime) -> datetime | None:
    """An ISO timestamp, comparable with `now`; None if it is not one."""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if (moment.tzinfo is None) != (now.tzinfo is None):
        moment = moment.replace(tzinfo=now.tzinfo)
    return moment


@dataclass(frozen=True)
class Step:
    """Where a run is: the kind of step, with its item and follow-up if any."""

    kind: str
    item: Item | None = None
    follow: FollowUp | None = None


class ScreenFlow:
    """The dialog over a parent's state; holds only the screen definition, never a parent."""

    def __init__(self, kb: KnowledgeBase, retention: timedelta = timedelta(days=30)) -> None:
        self.screen: Screen = kb.screen
        self.retention = retention  # how long answers are kept; the intro tells parents
        # Ends every question: a parent in the middle of a checklist may be in trouble.
        self.safety_line = kb.messages.get("safety_line", "")
        self._handlers: dict[tuple[str, str], Callable[[Run, Step, tuple[str, ...]], bool]] = {
            (INTRO, "go"): self._go, (AGE, "g"): self._band, (QUESTION, "a"): self._answer,
            (FOLLOW, "f"): self._follow_up, (LOST, "l"): self._lost, (REVIEW, "e"): self._edit,
            (REVIEW, "r"): self._finish,
            **{(kind, "k"): self._skip for kind in (AGE, QUESTION, LOST)},
            **{(kind, "b"): self._back for kind in (AGE, QUESTION, FOLLOW, LOST)},
        }

    # -- the public API ----------------------------------------------------------------

    def start(self, state: dict[str, Any], now: datetime) -> list[Reply]:
        """/screen: the intro, or an offer to continue the screen already open."""
        run = self._run(state)
        if run is not None and run.at not in (INTRO, DONE):
            run.touched = now.isoformat()
            _save(run, state)
            buttons = [self._button(run, "continue", "c"), self._button(run, "start_over", "n"),
                       self._button(run, "cancel", "x")]
            return [Reply(self.screen.text("open"), rows(buttons, 2))]
        run = Run(self._new_id(run), INTRO, now.isoformat())
        _save(run, state)
        return self._view(run, edit=False)

    def press(self, args: tuple[str, ...], state: dict[str, Any], now: datetime
              ) -> list[Reply]:
        """Any button of the screen; out-of-date or garbled data gets the out-of-date reply."""
        run = self._run(state)
        if run is None or len(args) < 3 or args[0] != run.run:
            return [self._stale()]
        at, verb, values = args[1], args[2], tuple(args[3:])
        if run.at == DONE and (at != DONE or verb not in ("s", "n", "d") or values):
            return [self._stale()]  # only the results' own buttons outlive the run
        # A new checklist from the results comes as a new message: the results stay readable.
        fresh = verb == "n" and run.at == DONE
        if verb == "x":
            state.pop(KEY, None)
            return [Reply(self.screen.text("cancelled"), edit=True)]
        if verb == "n":
            run = Run(self._new_id(run), AGE, now.isoformat())
        elif verb == "s":
            return self._summary(run, now) if run.at == DONE else [self._stale()]
        elif verb == "d":
            return self._details(run) if run.at == DONE else [self._stale()]
        elif verb != "c" and at != run.at:
            # An older message of this run: pick up where the parent is, not where it was.
            return self._view(run, notice=visible_text(self.screen.text("picked_up")))
        elif verb != "c" and not self._act(run, verb, values):
            return [self._stale()]
        run.touched = now.isoformat()
        if run.at == DONE:
            run.done = now.isoformat()
        _save(run, state)
        return self._view(run, edit=not fresh)

    def typed(self, text: str, state: dict[str, Any], now: datetime) -> list[Reply] | None:
        """A typed answer to the waiting question, as if its button were pressed; else None.

        Taken: a button's label or a word for it ("often", "not sure", "yes", "skip",
        "back"...), a close typo of one, or the number of a button (as `otbot chat` numbers
        them). The replies are new messages; None means the text is not an answer (a
        question, a story, or no question waiting) and is the conversation's to answer.
        """
        run = self._run(state)
        step = self._step(run.at) if run else None
        if run is None or step is None or step.kind not in (QUESTION, FOLLOW, LOST):
            return None  # the age takes buttons only: "4" there is an age, not a button
        buttons = [button for reply in self._view(run) for row in reply.buttons
                   for button in row if button.data]
        button = _typed_button(text, buttons)
        callback = decode(button.data) if button else None
        if callback is None:
            return None
        replies = self.press(callback.args, state, now)
        return [dataclasses.replace(reply, edit=False, notice="") for reply in replies]

    def resume(self, state: dict[str, Any]) -> Reply | None:
        """A short offer to continue an open screen, or None if there is none."""
        run = self._run(state)
        if run is None or run.at in (INTRO, DONE):
            return None
        return Reply(self.screen.text("resume"), rows([self._button(run, "resume", "c")]))

    def cancel(self, state: dict[str, Any]) -> list[Reply]:
        """/cancel during a screen: forget its answers at once."""
        state.pop(KEY, None)
        return [Reply(self.screen.text("cancelled"))]

    def is_open(self, state: dict[str, Any]) -> bool:
        """Whether the parent is in the middle of the screen."""
        run = _load(state)
        return run is not None and run.at not in (INTRO, DONE)

    def expire(self, state: dict[str, Any], now: datetime) -> None:
        """Drop results older than the retention, an open screen idle as long, anything garbled."""
        if KEY not in state:
            return
        run = _load(state)
        moment = _moment(run.done or run.touched, now) if run else None
        if moment is None or now - moment > self.retention:
            del state[KEY]

    # -- state -------------------------------------------------------------------------

    def _run(self, state: dict[str, Any]) -> Run | None:
        """The parent's run, with anything the current screen.yaml no longer has dropped."""
        run = _load(state)
        if run is None:
            return run
        screen = self.screen
        run.answers = {item: given for item, given in run.answers.items()
                       if screen.item(item) and screen.option(given["a"])}
        run.band = run.band if screen.band(run.band) else None
        run.lost = run.lost if run.lost in FOLLOW_VALUES else None
        if self._step(run.at) is None:
            run.at = REVIEW if run.review else self._question(screen.items[0])
        return run

    @staticmethod
    def _new_id(old: Run | None) -> str:
        """A run id unlike the previous one, so that its buttons go out of date."""
        while (new := secrets.token_hex(3)) == (old.run if old else None):
            pass
        return new

    def _step(self, at: str) -> Step | None:
        """The step a token names, if the screen has it."""
        kind, _, rest = at.partition(".")
        if kind in (INTRO, AGE, LOST, REVIEW, DONE):
            return None if rest else Step(kind)
        item_id, _, follow_id = rest.partition(".")
        item = self.screen.item(item_id)
        follow = next((f for f in self.screen.follow_ups if f.id == follow_id), None)
        if kind == QUESTION and item and not follow_id:
            return Step(kind, item)
        if kind == FOLLOW and item and follow:
            return Step(kind, item, follow)
        return None

    @staticmethod
    def _question(item: Item) -> str:
        """The step token of a sign's question."""
        return f"{QUESTION}.{item.id}"

    # -- acting on a press -------------------------------------------------------------

    def _act(self, run: Run, verb: str, values: tuple[str, ...]) -> bool:
        """Apply a press to the run; False if it makes no sense at this step (tampered)."""
        step = self._step(run.at)
        handler = self._handlers.get((step.kind, verb)) if step else None
        return bool(step and handler and handler(run, step, values))

    def _go(self, run: Run, step: Step, values: tuple[str, ...]) -> bool:
        """Start, on the intro: ask the age."""
        run.at = AGE
        return not values

    def _band(self, run: Run, step: Step, values: tuple[str, ...]) -> bool:
        """An age band chosen."""
        if len(values) != 1 or self.screen.band(values[0]) is None:
            return False
        run.band = values[0]
        run.at = self._after_age(run)
        return True

    def _answer(self, run: Run, step: Step, values: tuple[str, ...]) -> bool:
        """An answer to a sign: its follow-ups next, if it has any."""
        assert step.item is not None
        option = self.screen.option(values[0]) if len(values) == 1 else None
        if option is None:
            return False
        given = run.answers.get(step.item.id, {})
        # The same answer again keeps its follow-ups; another answer asks them afresh.
        run.answers[step.item.id] = given if given.get("a") == option.id else {"a": option.id}
        if option.follow_up and self.screen.follow_ups:
            run.at = self._follow_step(step.item, self.screen.follow_ups[0])
        else:
            run.at = self._after_item(run, step.item)
        return True

    def _follow_up(self, run: Run, step: Step, values: tuple[str, ...]) -> bool:
        """A follow-up answered: the next one, or on to the next sign."""
        assert step.item is not None and step.follow is not None
        given = run.answers.get(step.item.id)
        if len(values) != 1 or values[0] not in FOLLOW_VALUES or not given:
            return False
        given[step.follow.id] = values[0]
        follow_ups = self.screen.follow_ups
        index = follow_ups.index(step.follow)
        run.at = (self._follow_step(step.item, follow_ups[index + 1])
                  if index + 1 < len(follow_ups) else self._after_item(run, step.item))
        return True

    def _lost(self, run: Run, step: Step, values: tuple[str, ...]) -> bool:
        """The lost-skill question answered: on to the review."""
        if len(values) != 1 or values[0] not in FOLLOW_VALUES:
            return False
        run.lost = values[0]
        run.at, run.review = REVIEW, True
        return True

    def _skip(self, run: Run, step: Step, values: tuple[str, ...]) -> bool:
        """Skip: leave the age, a sign or the lost-skill question unanswered."""
        if step.kind == AGE:
            run.band, run.at = None, self._after_age(run)
        elif step.kind == LOST:
            run.lost, run.at, run.review = None, REVIEW, True
        else:
            assert step.item is not None
            run.answers.pop(step.item.id, None)
            run.at = self._after_item(run, step.item)
        return not values

    def _back(self, run: Run, step: Step, values: tuple[str, ...]) -> bool:
        """Back: the step before, or the review when changing an answer from it."""
        items = self.screen.items
        if step.kind == FOLLOW:
            assert step.item is not None and step.follow is not None
            index = self.screen.follow_ups.index(step.follow)
            run.at = (self._follow_step(step.item, self.screen.follow_ups[index - 1])
                      if index else self._question(step.item))
        elif run.review:
            run.at = REVIEW
        elif step.kind == QUESTION:
            assert step.item is not None
            index = items.index(step.item)
            earlier = [i for i in self._asked(run.band) if items.index(i) < index]
            run.at = self._question(earlier[-1]) if earlier else AGE
        elif step.kind == LOST:
            asked = self._asked(run.band)
            run.at = self._question(asked[-1]) if asked else AGE
        else:
            run.at = INTRO
        return not values

    def _edit(self, run: Run, step: Step, values: tuple[str, ...]) -> bool:
        """A line of the review tapped: ask that question again."""
        target = values[0] if len(values) == 1 else ""
        item = self.screen.item(target)
        run.at = self._question(item) if item else target
        return item is not None or target in (AGE, LOST)

    def _finish(self, run: Run, step: Step, values: tuple[str, ...]) -> bool:
        """See my results."""
        run.at = DONE
        return not values

    def _asked(self, band: str | None) -> list[Item]:
        """The signs asked at this age: those most children of the band can do yet."""
        return [item for item in self.screen.items if item.expected(band)]

    def _after_age(self, run: Run) -> str:
        """Where the age leads: the first sign asked at that age, or back to the review."""
        asked = self._asked(run.band)
        return REVIEW if run.review else self._question(asked[0]) if asked else LOST

    def _after_item(self, run: Run, item: Item) -> str:
        """Where a sign leads: the next one asked, the lost-skill question, or the review."""
        if run.review:
            return REVIEW
        items = self.screen.items
        later = [i for i in self._asked(run.band) if items.index(i) > items.index(item)]
        return self._question(later[0]) if later else LOST

    @staticmethod
    def _follow_step(item: Item, follow: FollowUp) -> str:
        """The step token of a follow-up."""
        return f"{FOLLOW}.{item.id}.{follow.id}"

    # -- what the parent sees ----------------------------------------------------------

    def _button(self, run: Run, key: str, verb: str, *values: str, label: str = "") -> Button:
        """A button of this run at its current step; `key` names its label in screen.yaml."""
        text = label or visible_text(self.screen.buttons[key])
        return Button(text, encode(ACTION, run.run, run.at, verb, *values))

    def _choice(self, run: Run, label: str, verb: str, value: str, chosen: bool) -> Button:
        """An answer button, ticked if it is the answer already given."""
        return self._button(run, "", verb, value,
                            label=(CHECK if chosen else "") + visible_text(label))

    def _controls(self, run: Run, *keys: str) -> tuple[Button, ...]:
        """Back, Skip and Cancel, as asked for."""
        verbs = {"back": "b", "skip": "k", "cancel": "x"}
        return tuple(self._button(run, key, verbs[key]) for key in keys)

    def _stale(self) -> Reply:
        """The reply to a button that no longer works."""
        text = self.screen.text("stale")
        return Reply(text)

    def _view(self, run: Run, *, edit: bool = True, notice: str = "") -> list[Reply]:
        """The message for the run's current step."""
        step = self._step(run.at)
        assert step is not None
        if step.kind == DONE:
            return self._results(run, edit)
        views: dict[str, Callable[[Run, Step], Reply]] = {
            INTRO: self._intro_view, AGE: self._age_view, QUESTION: self._question_view,
            FOLLOW: self._follow_view, LOST: self._lost_view, REVIEW: self._review_view}
        reply = views[step.kind](run, step)
        if step.kind in (AGE, QUESTION, FOLLOW, LOST) and self.safety_line:
            reply = dataclasses.replace(reply, text=f"{reply.text}\n\n<i>{self.safety_line}</i>")
        return [dataclasses.replace(reply, edit=edit, notice=notice)]

    def _intro_view(self, run: Run, step: Step) -> Reply:
        """What the checklist is, how long it takes, what is kept."""
        text = self.screen.text("intro", count=len(self.screen.items), days=self.retention.days)
        buttons = (self._button(run, "start", "go"), self._button(run, "cancel", "x"))
        return Reply(text, (buttons,))

    def _age_view(self, run: Run, step: Step) -> Reply:
        """The age bands."""
        bands = [self._choice(run, band.label, "g", band.id, band.id == run.band)
                 for band in self.screen.bands]
        return Reply(self.screen.text("age_question"),
                     (*rows(bands, 2), self._controls(run, "back", "skip", "cancel")))

    def _progress(self, run: Run, item: Item) -> str:
        """Question n of N, counting the signs asked at the child's age."""
        asked = self._asked(run.band)
        if item not in asked:  # opened from the review although not asked at this age
            asked = list(self.screen.items)
        return self.screen.text("progress", n=asked.index(item) + 1, total=len(asked))

    def _question_view(self, run: Run, step: Step) -> Reply:
        """One sign: the question, an example for the age, the answers."""
        assert step.item is not None
        item, screen = step.item, self.screen
        parts = [f"{self._progress(run, item)}\n{item.question_for(run.band)}",
                 screen.text("example", example=item.example(run.band))]
        if not item.expected(run.band):
            parts.append(screen.text("not_expected"))
        parts.append(screen.text("how_often"))
        chosen = run.answers.get(item.id, {}).get("a")
        options = [self._choice(run, o.label, "a", o.id, o.id == chosen) for o in screen.options]
        return Reply("\n\n".join(parts),
                     (*rows(options, 2), self._controls(run, "back", "skip", "cancel")))

    def _follow_view(self, run: Run, step: Step) -> Reply:
        """A follow-up question about the sign just answered."""
        assert step.item is not None and step.follow is not None
        given = run.answers.get(step.item.id, {})
        option = self.screen.option(given.get("a"))
        context = self.screen.text("follow_up_context", title=step.item.title,
                                   answer=option.label if option else "")
        text = f"{self._progress(run, step.item)}\n{context}\n\n{step.follow.question}"
        return Reply(text, (self._yes_no(run, "f", given.get(step.follow.id)),
                            self._controls(run, "back", "cancel")))

    def _yes_no(self, run: Run, verb: str, chosen: str | None) -> tuple[Button, ...]:
        """Yes / No / Not sure, the answer given ticked."""
        return tuple(self._choice(run, self.screen.yes_no_label(value), verb, value,
                                  value == chosen) for value in FOLLOW_VALUES)

    def _lost_view(self, run: Run, step: Step) -> Reply:
        """The lost-skill question."""
        lost = self.screen.lost_skill
        text = (f"{self.screen.text('lost_progress')}\n{lost.question}\n\n"
                f"{self.screen.text('example', example=lost.example)}")
        return Reply(text, (self._yes_no(run, "l", run.lost),
                            self._controls(run, "back", "skip", "cancel")))

    def _review_view(self, run: Run, step: Step) -> Reply:
        """Every answer, each one changeable, and the way to the results."""
        screen = self.screen
        lines = [screen.text("review_title"),
                 screen.text("review_age", age=screen.band_label(run.band))]
        numbers = []
        for number, item in enumerate(screen.items, 1):
            lines.append(f"{number}. {item.title}: <i>{self._answer_words(run, item)}</i>")
            numbers.append(self._button(run, "", "e", item.id, label=str(number)))
        lines.append(f"{screen.lost_skill.title}: <i>{screen.yes_no_label(run.lost)}</i>")
        lines.append(f"\n{screen.text('review_hint')}")
        others = (self._button(run, "change_age", "e", AGE),
                  self._button(run, "change_lost", "e", LOST))
        return Reply("\n".join(lines), (*rows(numbers, 4), others,
                                        (self._button(run, "results", "r"),),
                                        self._controls(run, "cancel")))

    def _answer_words(self, run: Run, item: Item) -> str:
        """An answer as the review shows it: the option, and the follow-ups answered yes."""
        given = run.answers.get(item.id, {})
        option = self.screen.option(given.get("a"))
        if option is None:
            return self.screen.text("skipped" if item.expected(run.band) else "not_yet")
        yes = [f.short for f in self.screen.follow_ups if given.get(f.id) == "y"]
        return option.label + (f" ({'; '.join(yes)})" if yes else "")

    def _results(self, run: Run, edit: bool) -> list[Reply]:
        """The tier and the next steps, short enough for one phone screen; the rest a tap away."""
        screen = self.screen
        outcome = screen.evaluate(run.answers_for_rules())
        tier = screen.tier(outcome.tier)
        parts = [screen.text("results_title"), f"<b>{tier.title}</b>\n{tier.text}",
                 self._next_steps(run, outcome), screen.text("disclaimer")]
        links = _topic_buttons([], tier, screen.band(run.band))
        buttons = ((self._button(run, "details", "d"),), (self._button(run, "summary", "s"),),
                   *rows(links, 2), (self._button(run, "again", "n"),))
        return _messages("\n\n".join(parts), buttons, edit)

    def _details(self, run: Run) -> list[Reply]:
        """What is going well, each area, what was unsure, ideas to try: a new message."""
        screen = self.screen
        outcome = screen.evaluate(run.answers_for_rules())
        flagged = [area for area in screen.areas if screen.flagged(outcome, area)]
        parts = [screen.text("details_title"), self._strengths(outcome),
                 "\n".join([screen.text("areas_title"), *self._area_lines(outcome)])]
        unsure = [item.title for item in screen.items
                  if item.id in outcome.having(screen.rules.not_sure)]
        if unsure:
            parts.append(screen.text("not_sure", items=", ".join(unsure)))
        if flagged:
            parts.append("\n".join([screen.text("try_title"),
                                    *(f"• <b>{area.name}</b>: {area.tip_for(run.band)}"
                                      for area in flagged)]))
        parts += [screen.text("wait_and_see"), screen.text("disclaimer")]
        topics = _topic_buttons(flagged, None, None)
        return _messages("\n\n".join(parts), rows(topics, 2), edit=False)

    def _strengths(self, outcome: Outcome) -> str:
        """What is going well, first: the signs answered "rarely or never"."""
        screen = self.screen
        strengths = [f"• {item.strength}" for item in screen.items
                     if item.id in outcome.having(screen.rules.strengths)]
        return "\n".join([screen.text("strengths_title"),
                          *(strengths or [screen.text("strengths_none")])])

    def _next_steps(self, run: Run, outcome: Outcome) -> str:
        """The age band's route, the screening, the signs' own steps (hearing, vision)."""
        screen = self.screen
        band = screen.band(run.band)
        steps = [band.next_step if band else "", screen.text("screening"),
                 *(item.next_step for item in screen.items
                   if item.next_step and screen.noticed(outcome, item)),
                 screen.lost_skill.unsure_note if run.lost == "u" else ""]
        return "\n".join([screen.text("next_title"),
                          *(f"• {step}" for step in dict.fromkeys(steps) if step)])

    def _area_lines(self, outcome: Outcome) -> list[str]:
        """Each area with its result, and for a flagged one the signs the parent noticed."""
        screen = self.screen
        lines = []
        for area in screen.areas:
            result = screen.area_result(outcome.areas[area.id])
            line = "• " + screen.text("area_line", area=area.name, result=result.label)
            seen = [item.title for item in screen.items
                    if area.id in item.areas and screen.noticed(outcome, item)]
            if result.flagged and seen:
                line += " " + screen.text("noticed_in", items=", ".join(seen))
            lines.append(line)
        return lines

    def _summary(self, run: Run, now: datetime) -> list[Reply]:
        """The summary for the doctor: a message to forward, and the same as a file."""
        answers = run.answers_for_rules()
        day = (_moment(run.done or "", now) or now).date()
        lines = summary_lines(self.screen, answers, self.screen.evaluate(answers), day)
        caption = self.screen.summary_text("file_caption")
        return [*_messages(summary_html(lines), (), edit=False),
                Reply(caption, document=summary_document(lines, day))]


def _messages(text: str, buttons: tuple[tuple[Button, ...], ...], edit: bool) -> list[Reply]:
    """A text as one message or several within Telegram's limit; buttons go on the last."""
    parts = split_message(text)
    return [Reply(part, buttons if index == len(parts) - 1 else (), edit=edit and index == 0)
            for index, part in enumerate(parts)]


def _topic_buttons(flagged: list[Area], tier: Tier | None, band: Band | None) -> list[Button]:
    """FAQ topics: the flagged areas', then the tier's and the age band's, each topic once."""
    links = [(area.topic, area.name) for area in flagged]
    links += [(link.topic, link.label)
              for link in (*(tier.links if tier else ()), *(band.links if band else ()))]
    labels: dict[str, str] = {}
    for topic, label in links:
        if topic:  # empty: a borrowed screen's link this knowledge base cannot answer
            labels.setdefault(topic, label)
    return [Button(visible_text(label), encode("a", topic)) for topic, label in labels.items()]


def _words(text: str) -> str:
    """A typed text as words: lower case, no punctuation or emoji, single spaces."""
    return " ".join(_NOT_A_WORD.sub(" ", text.replace("\u2019", "'").lower()).split())


def _typed_button(text: str, buttons: list[Button]) -> Button | None:
    """The one button a typed text means: its number, its words, or a close typo of them."""
    typed = _words(text)
    if not typed or len(typed) > TYPED_LONGEST:
        return None
    if typed.isdigit():
        number = int(typed)
        return buttons[number - 1] if 1 <= number <= len(buttons) else None
    names: list[tuple[str, Button]] = []
    for button in buttons:
        callback = decode(button.data)
        verb, value = ((*callback.args[2:4], "", "") if callback else ("", ""))[:2]
        words = TYPED_WORDS.get((verb, value))
        if words is None and verb not in ANSWER_VERBS:
            continue  # cancel, and the like: only by number, never by a word
        names += [(name, button) for name in (_words(button.label), *(words or ()))]
    exact = {id(button): button for name, button in names if name == typed}
    if exact:
        return next(iter(exact.values())) if len(exact) == 1 else None
    # A close typo: one slip in a short word, two in a longer one, the first letter right
    # ("sure" is not "unsure"); two-letter words ("no") only exactly.
    best: dict[int, Button] = {}
    closest = 3
    for name, button in names:
        if len(name) < 3 or len(typed) < 3 or name[0] != typed[0]:
            continue
        limit = 1 if len(name) <= 5 else 2
        distance = DamerauLevenshtein.distance(typed, name, score_cutoff=limit)
        if distance > limit:
            continue
        if distance < closest:
            closest, best = distance, {}
        if distance == closest:
            best[id(button)] = button
    return next(iter(best.values())) if len(best) == 1 else None
