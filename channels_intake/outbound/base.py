"""What every outbound sender shares: the ``Sender`` protocol, its result, its two failures, and one HTTP call.

A sender is a module (or object) with ``send(message) -> SendResult``. It either returns the provider's ID for
the message, or raises:

- ``PermanentFailure``: the provider refused the message for good (HTTP 4xx other than 429: a bad number, a
  policy, a bad token; or the channel is not configured). The message is marked ``failed`` with the reason.
- ``TemporaryFailure``: worth trying again later (no connection, a timeout, HTTP 5xx or 429). The message goes
  back to the queue and is retried with backoff.

HTTP calls go through :func:`post` (the standard library's ``urllib``: no extra dependency), with a 10 s timeout.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tickets.models import Message

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10


@dataclass
class SendResult:
    provider_message_id: str = ""
    # Extras worth keeping on the message (merged into ``Message.meta``), e.g. an ESP's own message ID.
    meta: dict = field(default_factory=dict)


class Sender(Protocol):
    def send(self, message: Message) -> SendResult: ...


class PermanentFailure(Exception):
    """The provider refused the message for good (bad address, policy): mark it failed with the reason."""


class NotConfigured(PermanentFailure):
    """The channel's provider settings are missing: nothing was sent."""


class TemporaryFailure(Exception):
    """Worth trying again later (network error, 5xx, rate limit)."""


def require(channel_label: str, **values: str) -> None:
    """Raise ``NotConfigured`` naming every empty setting a channel needs."""
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise NotConfigured(f"no sender is configured for {channel_label}: set {', '.join(missing)}")


def check_length(text: str, limit: int, what: str) -> None:
    if len(text) > limit:
        raise PermanentFailure(f"{what} takes at most {limit} characters; this message has {len(text)}")


def post(
    url: str,
    *,
    provider: str,
    describe: Callable[[int, object], str],
    json_body: dict | None = None,
    form: dict | None = None,
    headers: dict | None = None,
    transient: Callable[[int, object], bool] | None = None,
) -> dict:
    """POST JSON or a form; return the provider's JSON answer, or raise the failure it amounts to.

    ``describe(status, answer)`` turns an error answer (parsed JSON, or the text) into the reason stored on
    the message; ``transient(status, answer)`` may call a 4xx temporary (Meta rate limits come as 400).
    """
    headers = {"Accept": "application/json", **(headers or {})}
    if json_body is not None:
        data = json.dumps(json_body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    else:
        data = urllib.parse.urlencode(form or {}).encode("utf-8")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        # Never the URL in the reason: Meta's token travels in the query string.
        reason = getattr(exc, "reason", exc)
        raise TemporaryFailure(f"{provider} unreachable: {type(exc).__name__}: {reason}") from None
    answer = _parse(raw)
    if 200 <= status < 300:
        if not isinstance(answer, dict):
            # Accepted, but we cannot tell what was sent: failing is safer than sending it twice.
            raise PermanentFailure(
                f"{provider} answered {status} with an unreadable body; the message may have been sent"
            )
        return answer
    reason = f"{provider} {status}: {describe(status, answer)}"
    if status == 429 or status >= 500 or (transient is not None and transient(status, answer)):
        raise TemporaryFailure(reason)
    raise PermanentFailure(reason)


def _parse(raw: bytes) -> object:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return raw.decode("utf-8", "replace")[:500]


# Graph API (WhatsApp Cloud API, Messenger, Instagram) error codes that mean "later", even on HTTP 400:
# 1/2 unknown or temporary, 4/17/32/613 call-rate limits, 80007 and 130429 throughput limits, 131000
# "something went wrong", 131016 service unavailable, 131048 spam rate limit, 131056 pair rate limit,
# 133004 server temporarily unavailable.
GRAPH_TEMPORARY_CODES = frozenset(
    {1, 2, 4, 17, 32, 341, 613, 80007, 130429, 131000, 131016, 131048, 131056, 133004}
)


def graph_error(answer: object) -> dict:
    error = answer.get("error") if isinstance(answer, dict) else None
    return error if isinstance(error, dict) else {}


def graph_describe(status: int, answer: object) -> str:
    """``(#131030) Recipient phone number not in allowed list: <details>`` from a Graph API error answer."""
    error = graph_error(answer)
    if not error:
        return str(answer)[:300] or "no details"
    text = error.get("error_user_msg") or error.get("message") or "error"
    details = error.get("error_data", {})
    if isinstance(details, dict) and details.get("details"):
        text = f"{text}: {details['details']}"
    code = error.get("code")
    return f"code {code}: {text}" if code is not None else text


def graph_transient(status: int, answer: object) -> bool:
    error = graph_error(answer)
    return bool(error.get("is_transient")) or error.get("code") in GRAPH_TEMPORARY_CODES
