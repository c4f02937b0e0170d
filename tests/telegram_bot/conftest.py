"""The fault suites never log what a parent wrote: every log line of them is searched.

For the modules below, every text a test makes a parent send (through the fake Bot API) is
noted; after each test, every log record (otbot's at DEBUG, the libraries' at INFO, as
`setup_logging` allows) and every line a bot process printed must quote none of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botprocess
import distributor
import pytest
from fakebotapi import FakeBotApi

FAULT_SUITES = {"test_faults", "test_crash", "test_hostile", "test_serve", "test_replicas",
                "test_operations", "test_abuse", "test_secrets"}
SHORTEST = 10  # shorter texts ("hello", "/screen") are words a log line may hold anyway


@pytest.fixture(autouse=True)
def no_parent_text_in_logs(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture,
                           monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Note what parents send; afterwards, grep every log line for it."""
    module = request.module.__name__.rpartition(".")[2]
    if module not in FAULT_SUITES:
        yield
        return
    texts: set[str] = set()
    lines: list[list[str]] = []
    push = FakeBotApi.push_update

    def noting_push(self: FakeBotApi, update: dict[str, Any]) -> int:
        message = update.get("message") or {}
        text = message.get("text")
        if isinstance(text, str) and len(text.strip()) >= SHORTEST and not text.startswith("/"):
            texts.add(text.strip()[:24])  # a long text may be logged cut short
        return push(self, update)

    monkeypatch.setattr(FakeBotApi, "push_update", noting_push)
    for cls in (botprocess.BotProcess, distributor.Replica):
        init = cls.__init__

        def noting_init(self: Any, *args: Any, __init: Any = init, **kwargs: Any) -> None:
            __init(self, *args, **kwargs)
            lines.append(self.lines)

        monkeypatch.setattr(cls, "__init__", noting_init)
    caplog.set_level("DEBUG", logger="otbot")
    caplog.set_level("INFO")
    yield
    records = [*caplog.get_records("setup"), *caplog.get_records("call"), *caplog.records]
    logged = [record.getMessage() + (record.exc_text or "") for record in records]
    logged += [line for process in lines for line in process]
    leaks = [line for line in logged if any(text in line for text in texts)]
    assert leaks == [], f"parents' text in the logs: {leaks[:5]}"
