"""SMS replies through Twilio's Programmable Messaging REST API.

``POST {TWILIO_API_BASE}/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages.json``, form-encoded ``To``, ``From``
and ``Body``, HTTP basic auth ``TWILIO_ACCOUNT_SID:TWILIO_AUTH_TOKEN``; the answer's ``sid`` (``SM…``) is stored
as the message's provider ID, which Twilio's status callbacks name.

The credentials are those of the active Twilio channel account (admin) whose number the customer texted;
without one, the settings (read at send time, so tests override them):

- ``TWILIO_API_BASE``: default ``https://api.twilio.com``.
- ``TWILIO_ACCOUNT_SID``: ``AC…``.
- ``TWILIO_AUTH_TOKEN``: the account's auth token (also checks inbound webhook signatures).
- ``TWILIO_FROM_NUMBER``: our Twilio number in E.164 (``+44…``).
"""

from __future__ import annotations

import base64

from django.conf import settings

from channels_intake import accounts
from channels_intake.outbound.base import PermanentFailure, SendResult, check_length, post, require
from tickets.models import Message

DEFAULT_API_BASE = "https://api.twilio.com"
# Twilio refuses a longer body (error 21617); it splits up to this length into segments itself.
MAX_TEXT = 1600


def describe(status: int, answer: object) -> str:
    """``Twilio 400: 21211 The 'To' number … is not a valid phone number.`` from Twilio's error answer."""
    if isinstance(answer, dict) and answer.get("message"):
        code = answer.get("code")
        return f"{code} {answer['message']}" if code else str(answer["message"])
    return str(answer)[:300] or "no details"


def send(message: Message) -> SendResult:
    base = getattr(settings, "TWILIO_API_BASE", "") or DEFAULT_API_BASE
    sid = getattr(settings, "TWILIO_ACCOUNT_SID", "")
    token = getattr(settings, "TWILIO_AUTH_TOKEN", "")
    from_number = getattr(settings, "TWILIO_FROM_NUMBER", "")
    account = accounts.for_reply(
        message, kind=accounts.Kind.TWILIO, settings_complete=bool(sid and token and from_number)
    )
    if account is not None:
        base = account.api_base or base
        sid, token, from_number = account.account_id, account.secret, account.phone_number
        require(f"SMS (channel account {account.name})", phone_number=from_number)
    else:
        require("SMS", TWILIO_ACCOUNT_SID=sid, TWILIO_AUTH_TOKEN=token, TWILIO_FROM_NUMBER=from_number)
    check_length(message.body, MAX_TEXT, "An SMS through Twilio")
    credentials = base64.b64encode(f"{sid}:{token}".encode()).decode("ascii")
    answer = post(
        f"{base.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json",
        provider="Twilio",
        headers={"Authorization": f"Basic {credentials}"},
        form={"To": message.sender, "From": from_number, "Body": message.body},
        describe=describe,
    )
    if answer.get("status") == "failed" or not answer.get("sid"):
        raise PermanentFailure(f"Twilio did not queue the message: {describe(200, answer)}")
    return SendResult(provider_message_id=answer["sid"])
