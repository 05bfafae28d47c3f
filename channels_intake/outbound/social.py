"""Facebook Messenger and Instagram replies through Meta's Send API.

The customer's address is ``messenger:<PSID>`` or ``instagram:<IGSID>`` (the page-scoped or Instagram-scoped
ID the webhook gave us). ``POST {META_API_BASE}/me/messages?access_token={META_PAGE_ACCESS_TOKEN}`` with
``{"recipient": {"id": …}, "message": {"text": …}, "messaging_type": "RESPONSE"}``; the answer's
``message_id`` is stored as the message's provider ID. Instagram goes through the same endpoint with the
token of the Facebook Page linked to the Instagram account.

The token is that of the active Messenger/Instagram channel account (admin) whose Page or Instagram ID the
customer wrote to; without one, the settings (read at send time, so tests override them):

- ``META_API_BASE``: default ``https://graph.facebook.com/v21.0``.
- ``META_PAGE_ACCESS_TOKEN``: the Page access token (``pages_messaging``; ``instagram_manage_messages``).

``RESPONSE`` is allowed within 24 hours of the customer's last message; Meta refuses later answers (code 10,
subcode 2018278), and the message fails with that reason.
"""

from __future__ import annotations

import urllib.parse

from django.conf import settings

from channels_intake import accounts
from channels_intake.outbound.base import (
    PermanentFailure,
    SendResult,
    check_length,
    graph_describe,
    graph_transient,
    post,
    require,
)
from tickets.models import Message

DEFAULT_API_BASE = "https://graph.facebook.com/v21.0"
# Text limits: Messenger 2,000 characters, Instagram 1,000.
PLATFORMS = {"messenger": ("Messenger", 2000), "instagram": ("Instagram", 1000)}


def recipient(address: str) -> tuple[str, str, int]:
    """(platform label, scoped user ID, text limit) from ``messenger:<PSID>`` / ``instagram:<IGSID>``."""
    platform, _, user_id = address.partition(":")
    if platform.lower() not in PLATFORMS or not user_id.strip():
        raise PermanentFailure(
            f"{address!r} is not a Messenger or Instagram address (messenger:<PSID>, instagram:<IGSID>)"
        )
    label, limit = PLATFORMS[platform.lower()]
    return label, user_id.strip(), limit


def send(message: Message) -> SendResult:
    base = getattr(settings, "META_API_BASE", "") or DEFAULT_API_BASE
    token = getattr(settings, "META_PAGE_ACCESS_TOKEN", "")
    account = accounts.for_reply(message, kind=accounts.Kind.META, settings_complete=bool(token))
    if account is not None:
        base, token = account.api_base or base, account.access_token
        require(f"Social (channel account {account.name})", access_token=token)
    else:
        require("Social", META_PAGE_ACCESS_TOKEN=token)
    label, user_id, limit = recipient(message.sender)
    check_length(message.body, limit, f"A {label} text message")
    answer = post(
        f"{base.rstrip('/')}/me/messages?{urllib.parse.urlencode({'access_token': token})}",
        provider=label,
        json_body={
            "recipient": {"id": user_id},
            "message": {"text": message.body},
            "messaging_type": "RESPONSE",
        },
        describe=graph_describe,
        transient=graph_transient,
    )
    if not answer.get("message_id"):
        raise PermanentFailure(
            f"{label} accepted the request without a message ID (it may have been sent): {str(answer)[:300]}"
        )
    return SendResult(provider_message_id=answer["message_id"])
