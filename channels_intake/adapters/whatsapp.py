"""WhatsApp Cloud API webhooks (``/intake/whatsapp/``): customers' messages and the statuses of ours.

The payload as Meta documents it: ``{"object": "whatsapp_business_account", "entry": [{"id": WABA_ID,
"changes": [{"field": "messages", "value": {…}}]}]}``. A ``value`` carries ``metadata`` (our
``phone_number_id`` and display number), ``contacts`` (``wa_id`` and ``profile.name``), ``messages`` (from
customers) and ``statuses`` (about messages we sent). One POST can carry several of each, across entries and
changes: ``parse`` returns them all, customers' messages in the order WhatsApp timestamped them.

Every message has ``id`` (a ``wamid.…``: a redelivery is a no-op), ``from`` (the customer's WhatsApp ID: the
phone number in digits, stored as E.164, so a known phone customer is recognised) and ``timestamp``. By type:

- ``text``: the body. ``button`` (a template's quick reply) and ``interactive`` (``button_reply``,
  ``list_reply``, ``nfm_reply``): what the customer tapped, the IDs in ``meta``.
- ``image``, ``video``, ``audio`` (``voice``), ``document``, ``sticker``: recorded by media ID, MIME type and
  SHA-256 in ``meta["media"]``; the text says which and that it was not downloaded (fetching media through the
  Graph API is not done here), followed by the caption.
- ``location``, ``contacts``, ``order``, ``system``: described in the text, the details in ``meta``.
- ``reaction`` (an emoji on an earlier message) and ``request_welcome`` (the customer opened the chat) are
  not messages to answer: ``Ignored``, with the reason on the inbound event — a thumbs-up on our closing
  message must not reopen or open a ticket.
- ``unsupported``, ``unknown`` and any type not listed: kept as a placeholder naming the type and WhatsApp's
  error, never dropped.

A quoted reply (``context.id``) names the message it answers, which links it to that message's ticket.
Statuses ``sent``/``delivered``/``read``/``failed`` become ``DeliveryReceipt``s (failures with WhatsApp's
error code and title); other statuses are ignored with the reason. Notifications of other fields (template
status, account updates…) are ignored likewise.

Not supported: customers known only by a business-scoped user ID (WhatsApp usernames without a phone number):
such a payload fails with that reason, kept for replay.
"""

from __future__ import annotations

from datetime import UTC, datetime

from channels_intake.adapters.meta_common import (
    as_dict,
    objects_in,
    payload_error,
    read_json,
    text_of,
    timestamp,
)
from tickets.intake import DeliveryReceipt, Ignored, InboundMessage

SOURCE = "whatsapp"
CHANNEL = "whatsapp"
RECEIPT_STATUS = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
KNOWN_TYPES = {"text", *MEDIA_TYPES, "location", "contacts", "button", "interactive", "order", "system"}
NOT_MESSAGES = {
    "reaction": "a reaction",
    "request_welcome": "the customer opened the chat (request_welcome)",
}


def parse(event) -> list[InboundMessage | DeliveryReceipt | Ignored]:
    data = read_json(event, objects=("whatsapp_business_account",), what="WhatsApp Cloud API")
    messages: list[InboundMessage] = []
    others: list[DeliveryReceipt | Ignored] = []
    for entry in objects_in(data.get("entry"), "entry"):
        for change in objects_in(entry.get("changes"), "entry.changes"):
            field = change.get("field")
            if field != "messages":
                others.append(Ignored(f"WhatsApp {field!r} notification: not handled"))
                continue
            value = as_dict(change.get("value"), "changes.value")
            metadata = as_dict(value.get("metadata"), "value.metadata")
            names = {
                text_of(c.get("wa_id")): text_of(as_dict(c.get("profile"), "contacts.profile").get("name"))
                for c in objects_in(value.get("contacts"), "value.contacts")
            }
            for raw in objects_in(value.get("messages"), "value.messages"):
                item = _message(raw, names, metadata)
                (messages if isinstance(item, InboundMessage) else others).append(item)
            others += [_status(s) for s in objects_in(value.get("statuses"), "value.statuses")]
            others += [
                Ignored(f"WhatsApp reported an error: {describe_error(e)}")
                for e in objects_in(value.get("errors"), "value.errors")
            ]
    # Out-of-order delivery: the customer's order is WhatsApp's timestamps, not the batch's.
    messages.sort(key=lambda m: m.sent_at)
    return [*messages, *others]


def _message(raw: dict, names: dict[str, str], metadata: dict) -> InboundMessage | Ignored:
    wamid = text_of(raw.get("id"))
    if not wamid:
        raise payload_error("a WhatsApp message without an id (wamid)")
    kind = text_of(raw.get("type")) or "unknown"
    if kind in NOT_MESSAGES:
        return Ignored(f"{NOT_MESSAGES[kind]} on WhatsApp ({wamid}): not a message to answer")
    wa_id = text_of(raw.get("from"))
    if not wa_id:
        if raw.get("from_user_id"):
            raise payload_error(
                f"WhatsApp message {wamid} names its sender only by a business-scoped user ID "
                f"({raw['from_user_id']}), without a phone number: not supported yet"
            )
        raise payload_error(f"WhatsApp message {wamid} has no sender (from)")
    if not wa_id.removeprefix("+").isdigit():
        raise payload_error(f"WhatsApp message {wamid} comes from {wa_id!r}, not a WhatsApp ID (digits)")
    text, meta = describe(kind, raw)
    context = as_dict(raw.get("context"), "message.context")
    if context.get("forwarded") or context.get("frequently_forwarded"):
        meta["forwarded"] = True
    if raw.get("referral"):
        meta["referral"] = raw["referral"]
    if metadata.get("phone_number_id"):
        meta["phone_number_id"] = metadata["phone_number_id"]
    return InboundMessage(
        channel=CHANNEL,
        sender="+" + wa_id.removeprefix("+"),
        sender_name=names.get(wa_id.removeprefix("+"), ""),
        text=text,
        provider_message_id=wamid,
        sent_at=timestamp(raw.get("timestamp")) or datetime.now(UTC),
        thread_ids=[context["id"]] if text_of(context.get("id")) else [],
        meta={"type": kind, **meta},
    )


def describe(kind: str, raw: dict) -> tuple[str, dict]:
    """The message's text as agents read it, and what is worth keeping in ``meta``."""
    known = kind in KNOWN_TYPES and kind != "contacts"
    body = as_dict(raw.get(kind), f"the message's {kind}") if known else {}
    if kind == "text":
        text = body.get("body")
        if not isinstance(text, str):
            raise payload_error(f"WhatsApp text message {raw.get('id')} has no text.body")
        return text, {}
    if kind in MEDIA_TYPES:
        return _media(kind, body)
    if kind == "location":
        coordinates = f"{body.get('latitude')}, {body.get('longitude')}"
        place = ", ".join(p for p in (text_of(body.get("name")), text_of(body.get("address"))) if p)
        text = f"[location: {place} ({coordinates})]" if place else f"[location: {coordinates}]"
        return text, {"location": body}
    if kind == "contacts":
        cards = objects_in(raw.get("contacts"), "message.contacts")
        return "\n".join(_contact_card(c) for c in cards) or "[contact card]", {"contacts": cards}
    if kind == "button":
        return text_of(body.get("text")) or "[button]", {"button_payload": body.get("payload", "")}
    if kind == "interactive":
        return _interactive(body)
    if kind == "order":
        items = objects_in(body.get("product_items"), "order.product_items")
        text = f"[order: {len(items)} item(s) from catalog {body.get('catalog_id', '?')}]"
        note = text_of(body.get("text"))
        return f"{text}\n{note}" if note else text, {"order": body}
    if kind == "system":
        return f"[WhatsApp: {text_of(body.get('body')) or body.get('type', 'system notice')}]", {
            "system": body
        }
    detail = raw.get(kind) if isinstance(raw.get(kind), dict) else {}
    if text_of(detail.get("type")):
        kind = f"{kind}: {detail['type']}"
    errors = "; ".join(describe_error(e) for e in objects_in(raw.get("errors"), "message.errors"))
    text = f"[a WhatsApp message of type {kind!r}, which this help desk cannot show{f' — {errors}' if errors else ''}]"
    return text, {"errors": raw.get("errors", []), **({"detail": detail} if detail else {})}


def _media(kind: str, body: dict) -> tuple[str, dict]:
    label = "voice message" if kind == "audio" and body.get("voice") else kind
    filename = text_of(body.get("filename"))
    mime = text_of(body.get("mime_type"))
    text = (
        f"[{label}"
        + (f' "{filename}"' if filename else "")
        + (f" ({mime})" if mime else "")
        + ", not downloaded]"
    )
    caption = text_of(body.get("caption"))
    media = {k: body[k] for k in ("id", "mime_type", "sha256", "filename", "voice", "animated") if k in body}
    return f"{text}\n{caption}" if caption else text, {"media": [{"type": kind, **media}]}


def _contact_card(card: dict) -> str:
    name = text_of(as_dict(card.get("name"), "contact.name").get("formatted_name"))
    phones = [text_of(p.get("phone")) for p in objects_in(card.get("phones"), "contact.phones")]
    emails = [text_of(e.get("email")) for e in objects_in(card.get("emails"), "contact.emails")]
    details = ", ".join(d for d in (name, *phones, *emails) if d)
    return f"[contact card: {details}]" if details else "[contact card]"


def _interactive(body: dict) -> tuple[str, dict]:
    kind = text_of(body.get("type"))
    reply = as_dict(body.get(kind), f"interactive.{kind or 'reply'}") if kind else {}
    meta = {"interactive": {"type": kind, "id": reply.get("id", "")}}
    if kind == "nfm_reply":
        meta["interactive"]["response_json"] = reply.get("response_json", "")
        return text_of(reply.get("body")) or f"[form reply: {reply.get('name', 'flow')}]", meta
    title = text_of(reply.get("title"))
    description = text_of(reply.get("description"))
    text = f"{title} — {description}" if title and description else title
    return text or f"[interactive reply: {kind or 'unknown'}]", meta


def _status(raw: dict) -> DeliveryReceipt | Ignored:
    wamid, status = text_of(raw.get("id")), text_of(raw.get("status"))
    if not wamid or not status:
        raise payload_error("a WhatsApp status without an id or a status")
    if status not in RECEIPT_STATUS:
        return Ignored(f"WhatsApp status {status!r} for {wamid}: not a delivery receipt")
    return DeliveryReceipt(
        channel=CHANNEL,
        provider_message_id=wamid,
        status=RECEIPT_STATUS[status],
        at=timestamp(raw.get("timestamp")),
        error="; ".join(describe_error(e) for e in objects_in(raw.get("errors"), "status.errors")),
    )


def describe_error(error: dict) -> str:
    """``WhatsApp error 131047: Re-engagement message (More than 24 hours have passed…)``."""
    title = text_of(error.get("title")) or text_of(error.get("message")) or "no title"
    details = text_of(as_dict(error.get("error_data"), "error.error_data").get("details"))
    return f"WhatsApp error {error.get('code', '?')}: {title}" + (
        f" ({details})" if details and details != title else ""
    )


PARSERS = {SOURCE: parse}
