"""What Meta's webhook payloads share (WhatsApp Cloud API, Messenger, Instagram): a JSON object naming its
``object``, a list of ``entry``, and Unix timestamps (seconds on WhatsApp, milliseconds on Messenger and
Instagram). Every shape check raises ``PayloadError`` naming what is wrong, so the webhook answers 400 with it.

``PayloadError`` is imported when called: ``channels_intake.adapters`` imports this module while it collects
the parsers, before it defines the exception.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime


def payload_error(reason: str) -> Exception:
    from channels_intake.adapters import PayloadError

    return PayloadError(reason)


def read_json(event, *, objects: tuple[str, ...], what: str) -> dict:
    """The event's JSON body, checked to be an object whose ``object`` is one of ``objects``."""
    try:
        data = json.loads(event.payload_bytes)
    except (UnicodeDecodeError, ValueError) as exc:
        raise payload_error(f"not JSON ({exc}): not a {what} webhook") from None
    if not isinstance(data, dict):
        raise payload_error(f"the JSON body is a {type(data).__name__}, not an object: not a {what} webhook")
    if data.get("object") not in objects:
        expected = " or ".join(repr(o) for o in objects)
        raise payload_error(f"object is {data.get('object')!r}, not {expected}: not a {what} webhook")
    return data


def as_dict(value, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise payload_error(f"{what} is a {type(value).__name__}, not an object")
    return value


def as_list(value, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise payload_error(f"{what} is a {type(value).__name__}, not a list")
    return value


def objects_in(value, what: str) -> list[dict]:
    """A list that must hold objects (``entry``, ``changes``, ``messages``, ``messaging``…)."""
    return [as_dict(item, f"an item of {what}") for item in as_list(value, what)]


def timestamp(value) -> datetime | None:
    """A Unix timestamp in seconds or milliseconds (as a number or a string); ``None`` if unreadable.

    An unreadable time is not worth losing a customer's message over: the pipeline then uses the arrival time.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 100_000_000_000:  # milliseconds (seconds reach this in the year 5138)
        number /= 1000
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def text_of(value) -> str:
    """A provider string field, or "" when it is missing or not a string."""
    return value.strip() if isinstance(value, str) else ""
