"""The red-flag screen on Telegram: complete, pause, resume, share, many parents at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from botharness import JSON, Parent, labels, running_bot
from fakebotapi import FakeBotApi

CHAT = 2002


async def answer_all(parent: Parent, message: JSON, answer: str, count: int = 8) -> JSON:
    """Answer every sign with `answer` (no follow-ups for Rarely / Not sure); return the next."""
    for _ in range(count):
        [message] = await parent.press(message, answer)
    return message


async def test_a_full_screen_ends_in_results_and_a_summary_document(
        fake_api: FakeBotApi, tmp_path: Path) -> None:
    parent = Parent(fake_api, CHAT)
    async with running_bot(fake_api, tmp_path):
        [intro] = await parent.say("/screen")
        [age] = await parent.press(intro, "Start")
        [q1] = await parent.press(age, "3 to 5 years")
        assert "Question 1 of 8" in q1["text"]
        [impact] = await parent.press(q1, "Often")
        [worry] = await parent.press(impact, "Yes")
        [q2] = await parent.press(worry, "Yes")
        assert "Question 2 of 8" in q2["text"]
        lost = q2
        for _ in range(7):
            [lost] = await parent.press(lost, "Rarely")
        [review] = await parent.press(lost, "No")
        [results] = await parent.press(review, "results")
        assert "not a diagnosis" in results["text"].lower()
        assert results["message_id"] == intro["message_id"]  # the whole screen: one message
        summary = await parent.press(results, "Summary", replies=2)
    text, document = summary
    assert "pediatrician" in text["text"].lower() or "doctor" in text["text"].lower()
    assert document["document"]["file_name"].startswith("ot-checklist-")
    for banned in ("risk", "normal", "disorder", "delay"):
        assert banned not in results["text"].lower()
    assert fake_api.rejected == [], fake_api.dump_calls()


async def test_a_question_mid_screen_is_answered_and_the_screen_goes_on(
        fake_api: FakeBotApi, tmp_path: Path) -> None:
    parent = Parent(fake_api, CHAT)
    async with running_bot(fake_api, tmp_path):
        [intro] = await parent.say("/screen")
        [age] = await parent.press(intro, "Start")
        [q1] = await parent.press(age, "6 to 8 years")
        answer, offer = await parent.say("does insurance cover OT?", replies=2)
        assert "insurance" in answer["text"].lower()
        assert labels(offer) == ["Continue the checklist"]
        [again] = await parent.press(offer, "Continue")
        assert "Question 1 of 8" in again["text"]
        [urgent] = await parent.say("he swallowed a button battery")
        assert "emergency" in urgent["text"].lower() and labels(urgent) == []
        [q2] = await parent.press(q1, "Rarely")  # the first message's buttons still work
    assert "Question 2 of 8" in q2["text"]
    assert fake_api.rejected == [], fake_api.dump_calls()


async def test_screen_resumes_after_a_restart_and_offers_continue_or_start_over(
        fake_api: FakeBotApi, tmp_path: Path) -> None:
    parent = Parent(fake_api, CHAT)
    async with running_bot(fake_api, tmp_path):
        [intro] = await parent.say("/screen")
        [age] = await parent.press(intro, "Start")
        [q1] = await parent.press(age, "2 to 3 years")
        [q2] = await parent.press(q1, "Not sure")
    async with running_bot(fake_api, tmp_path):
        [q3] = await parent.press(q2, "Rarely")
        assert "Question 3 of 8" in q3["text"]
        [offer] = await parent.say("/screen")
        assert labels(offer)[:2] == ["Continue", "Start over"]
        [fresh] = await parent.press(offer, "Start over")
        assert "How old" in fresh["text"]
        [stale] = await parent.press_data(q3["message_id"], q3["reply_markup"][
            "inline_keyboard"][0][0]["callback_data"])
    assert "no longer works" in stale["text"]  # a button of the abandoned run
    assert fake_api.rejected == [], fake_api.dump_calls()


async def test_many_parents_screen_at_once_without_mixing(
        fake_api: FakeBotApi, tmp_path: Path) -> None:
    parents = [Parent(fake_api, 3000 + n) for n in range(25)]
    bands = ["Under 12 months", "1 to 2 years", "2 to 3 years", "3 to 5 years", "6 to 8 years",
             "9 to 12 years", "13 or older"]

    async def screen(n: int, parent: Parent) -> str:
        [intro] = await parent.say("/screen")
        [age] = await parent.press(intro, "Start")
        [q1] = await parent.press(age, bands[n % len(bands)])
        answer = "Rarely" if n % 2 else "Not sure"
        lost = await answer_all(parent, q1, answer, 5 if n % len(bands) == 0 else 8)
        [review] = await parent.press(lost, "No")
        return review["text"]

    async with running_bot(fake_api, tmp_path):
        reviews = await asyncio.gather(*(screen(n, p) for n, p in enumerate(parents)))
    for n, review in enumerate(reviews):
        other = "Not sure" if n % 2 else "Rarely or never"
        assert other not in review, (n, review)
    assert fake_api.rejected == [], fake_api.dump_calls()


async def test_details_and_a_new_checklist_come_as_new_messages_below_the_results(
        fake_api: FakeBotApi, tmp_path: Path) -> None:
    parent = Parent(fake_api, CHAT)
    async with running_bot(fake_api, tmp_path):
        [intro] = await parent.say("/screen")
        [age] = await parent.press(intro, "Start")
        [q1] = await parent.press(age, "Under 12 months")
        [impact] = await parent.press(q1, "Often")
        [worry] = await parent.press(impact, "Yes")
        [message] = await parent.press(worry, "No")
        for _ in range(4):
            [message] = await parent.press(message, "Rarely")
        [review] = await parent.press(message, "No")
        [results] = await parent.press(review, "results")
        assert len(results["text"]) <= 1000 and "Next steps" in results["text"]
        [more] = await parent.press(results, "Details")
        assert more["message_id"] != results["message_id"]
        assert "Things to try at home" in more["text"] and "tummy time" in more["text"]
        [fresh] = await parent.press(results, "Start a new checklist")
        assert fresh["message_id"] not in (results["message_id"], more["message_id"])
        assert "How old" in fresh["text"]
    shown = {message["message_id"]: message["text"] for message in fake_api.chat(CHAT)}
    assert shown[results["message_id"]] == results["text"]  # the results are still there
    assert fake_api.rejected == [], fake_api.dump_calls()
