"""`otbot chat`: the whole conversation through stdin, as a maintainer would use it."""

from __future__ import annotations

import io
import subprocess
import sys

from otbot.dialog.conversation import Conversation
from otbot.kb import KnowledgeBase
from otbot.terminal.chat import run_chat


def chat(kb: KnowledgeBase, *lines: str) -> str:
    """Run the chat loop over typed lines; return everything printed."""
    output = io.StringIO()
    run_chat(Conversation(kb), io.StringIO("".join(f"{line}\n" for line in lines)), output,
             interactive=False)
    return output.getvalue()


def test_otbot_chat_runs_from_stdin_without_token_or_network() -> None:
    done = subprocess.run([sys.executable, "-m", "otbot", "chat"], input="what is OT?\n/quit\n",
                          capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin"})
    assert done.returncode == 0, done.stderr
    assert "[1] 💬 Ask a question" in done.stdout  # the welcome menu, as numbered choices
    assert "Occupational therapy (OT) for children" in done.stdout
    # Only the line that says which knowledge folder is in use.
    assert done.stderr.startswith("otbot: knowledge folder ") and done.stderr.count("\n") == 1


def test_numbers_press_buttons_and_commands_work_as_on_telegram(
        shipped_kb: KnowledgeBase) -> None:
    out = chat(shipped_kb, "2", "1", "/privacy", "/forget", "1", "/help")
    assert "Pick a theme" in out  # [2] Browse topics
    assert "(updated) What OT is" in out  # [1] the first theme, edited in place
    assert "30 days" in out and "Delete it all?" in out and "everything I held" in out
    assert "How to use me" in out


def test_screen_in_the_terminal_from_start_to_summary(shipped_kb: KnowledgeBase) -> None:
    answers = ["/screen", "1", "2"] + ["3"] * 8 + ["2", "1"]
    out = chat(shipped_kb, *answers)
    assert "Question 8 of 8" in out
    assert "not a diagnosis" in out.lower()
    assert "file saved:" not in out or ".pdf" in out or ".txt" in out


def test_a_wrong_number_is_explained_and_blank_lines_ignored(shipped_kb: KnowledgeBase) -> None:
    out = chat(shipped_kb, "", "   ", "9")
    assert "choose a number from 1 to 4" in out


def test_urgent_text_in_the_terminal(shipped_kb: KnowledgeBase) -> None:
    out = chat(shipped_kb, "she is having a seizure right now")
    assert "emergency number now" in out


def test_follow_ups_in_the_terminal(shipped_kb: KnowledgeBase) -> None:
    out = chat(shipped_kb, "my son walks on his toes all the time", "tell me more")
    toes = shipped_kb.entries["toe-walking"]
    assert toes.more.splitlines()[0][:40] in out
