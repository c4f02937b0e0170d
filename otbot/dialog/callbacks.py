"""Button data: short, versioned, and safe to receive from an old message or a stranger."""

from __future__ import annotations

from dataclasses import dataclass

# Bump when the meaning of button data changes: older buttons then get "out of date".
VERSION = "1"
SEPARATOR = ":"
MAX_BYTES = 64  # Telegram's limit for callback_data


@dataclass(frozen=True)
class Callback:
    """A decoded button press: what it asks for and its arguments."""

    action: str
    args: tuple[str, ...] = ()


def encode(action: str, *args: str) -> str:
    """Button data for an action; raises ValueError if Telegram would reject it."""
    parts = (VERSION, action, *args)
    if any(SEPARATOR in part for part in parts):
        raise ValueError(f"button data parts may not contain {SEPARATOR!r}: {parts}")
    data = SEPARATOR.join(parts)
    try:
        size = len(data.encode())
    except UnicodeEncodeError as error:  # a lone surrogate: Telegram could not carry it
        raise ValueError(f"button data is not valid text: {data!r}") from error
    if not 1 <= size <= MAX_BYTES:
        raise ValueError(f"button data over {MAX_BYTES} bytes: {data!r}")
    return data


def decode(data: str | None) -> Callback | None:
    """The press, or None for data this version does not understand (old, foreign, garbage)."""
    if not data or len(data.encode("utf-8", "replace")) > MAX_BYTES:
        return None
    version, _, rest = data.partition(SEPARATOR)
    if version != VERSION or not rest:
        return None
    action, *args = rest.split(SEPARATOR)
    return Callback(action, tuple(args)) if action else None
