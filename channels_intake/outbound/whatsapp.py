"""WhatsApp replies through the WhatsApp Cloud API (Meta).

``POST {WHATSAPP_API_BASE}/{WHATSAPP_PHONE_NUMBER_ID}/messages`` with ``Authorization: Bearer
{WHATSAPP_ACCESS_TOKEN}`` and a text message to the customer's number (E.164 digits, no ``+``); the answer's
``messages[0].id`` (a ``wamid.…``) is stored as the message's provider ID, which the status webhooks name.

The credentials are those of the active WhatsApp channel account (admin) whose phone number ID the customer
wrote to; without one, the settings (read at send time, so tests override them):

- ``WHATSAPP_API_BASE``: default ``https://graph.facebook.com/v21.0``.
- ``WHATSAPP_PHONE_NUMBER_ID``: the business phone number's ID (not the number itself).
- ``WHATSAPP_ACCESS_TOKEN``: a system-user access token with ``whatsapp_business_messaging``.

Free-form text reaches the customer only within 24 hours of their last message; later, WhatsApp requires an
approved template (not sent here): the API or the status webhook then reports the failure.
"""

from __future__ import annotations

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
MAX_TEXT = 4096


def send(message: Message) -> SendResult:
    base = getattr(settings, "WHATSAPP_API_BASE", "") or DEFAULT_API_BASE
    phone_number_id = getattr(settings, "WHATSAPP_PHONE_NUMBER_ID", "")
    token = getattr(settings, "WHATSAPP_ACCESS_TOKEN", "")
    account = accounts.for_reply(
        message, kind=accounts.Kind.WHATSAPP, settings_complete=bool(phone_number_id and token)
    )
    if account is not None:
        base, phone_number_id, token = account.api_base or base, account.account_id, account.access_token
        require(f"WhatsApp (channel account {account.name})", access_token=token)
    else:
        require("WhatsApp", WHATSAPP_PHONE_NUMBER_ID=phone_number_id, WHATSAPP_ACCESS_TOKEN=token)
    check_length(message.body, MAX_TEXT, "A WhatsApp text message")
    answer = post(
        f"{base.rstrip('/')}/{phone_number_id}/messages",
        provider="WhatsApp",
        headers={"Authorization": f"Bearer {token}"},
        json_body={
            "messaging_product": "whatsapp",
            "to": "".join(ch for ch in message.sender if ch.isdigit()),
            "type": "text",
            "text": {"body": message.body},
        },
        describe=graph_describe,
        transient=graph_transient,
    )
    try:
        wamid = answer["messages"][0]["id"]
    except (KeyError, IndexError, TypeError):
        wamid = ""
    if not wamid:
        raise PermanentFailure(
            f"WhatsApp accepted the request without a message ID (it may have been sent): {str(answer)[:300]}"
        )
    return SendResult(provider_message_id=wamid)
