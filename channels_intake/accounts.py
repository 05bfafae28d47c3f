"""Which credentials a webhook checks and a reply uses: the active ``ChannelAccount``s, then the settings.

Inbound, a request is authentic when it is signed with (or carries) the secret of any active account of its
kind, or the setting's value; the accounts the payload names are tried first, the others next, the setting
last. Nothing configured anywhere means nothing is accepted. Outbound, a reply uses the account the customer
wrote to (the identifier the adapter recorded on their message), else the settings, else — when the settings
are not filled in — the first active account of the kind, so a help desk configured only in the admin sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.conf import settings

from channels_intake.models import ChannelAccount
from tickets.models import Message

Kind = ChannelAccount.Kind


def candidate_secrets(kind: str, *, field: str, setting: str, named: Iterable[str] = ()) -> list[str]:
    """The values of ``field`` (``secret`` or ``verify_token``) worth trying, best first, without blanks."""
    named = {n for n in named if n}
    rows = ChannelAccount.objects.filter(kind=kind, active=True).exclude(**{field: ""})
    ranked = sorted(
        rows.values_list("account_id", "phone_number", field, "pk"),
        key=lambda row: (not ({row[0], row[1]} & named), row[3]),
    )
    values = [row[2] for row in ranked]
    if fallback := getattr(settings, setting, ""):
        values.append(fallback)
    return list(dict.fromkeys(values))


def nothing_configured(kind: str, setting: str) -> str:
    label = ChannelAccount.Kind(kind).label
    return f"{setting} is not set and no active {label} channel account has one: every request is refused"


def meta_accounts_named(body: bytes, kind: str) -> list[str]:
    """The accounts a Meta payload names: WhatsApp's ``metadata.phone_number_id``, Messenger/Instagram's
    ``entry[].id``. Read leniently (the signature is not checked yet): anything unreadable names nothing."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return []
    entries = data.get("entry") if isinstance(data, dict) else None
    names: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        if kind == Kind.META:
            names.append(str(entry.get("id") or ""))
            continue
        for change in entry.get("changes") or []:
            value = change.get("value") if isinstance(change, dict) else None
            metadata = value.get("metadata") if isinstance(value, dict) else None
            if isinstance(metadata, dict):
                names.append(str(metadata.get("phone_number_id") or ""))
    return [n for n in names if n]


# Outbound ------------------------------------------------------------------------------------------------

# Where each kind's adapter records the account the customer wrote to, and the account field it matches.
REPLY_KEYS = {
    Kind.WHATSAPP: ("phone_number_id", "account_id"),
    Kind.META: ("recipient", "account_id"),
    Kind.TWILIO: ("to", "phone_number"),
}


def for_reply(message: Message, *, kind: str, settings_complete: bool) -> ChannelAccount | None:
    """The active account to send ``message`` with, or ``None`` to use the settings.

    The account is the one the customer's latest message on this channel in the ticket reached; without one,
    the settings when they are complete, else the first active account of the kind.
    """
    meta_key, field = REPLY_KEYS[kind]
    active = ChannelAccount.objects.filter(kind=kind, active=True)
    written_to = (
        Message.objects.filter(
            interaction__case__ticket_id=message.interaction.case.ticket_id,
            direction=Message.Direction.INBOUND,
            channel=message.channel,
            sender=message.sender,
        )
        .order_by("-sent_at", "-id")
        .values_list("meta", flat=True)[:20]
    )
    for meta in written_to:
        if isinstance(meta, dict) and meta.get(meta_key):
            account = active.filter(**{field: str(meta[meta_key])}).first()
            if account is not None:
                return account
            break  # the customer wrote to a number or page that has no account: the settings' then
    if settings_complete:
        return None
    return active.order_by("pk").first()
