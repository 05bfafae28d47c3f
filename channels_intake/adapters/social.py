"""Messenger and Instagram messaging webhooks (``/intake/meta/``): customers' messages and receipts of ours.

The payload as Meta documents it: ``{"object": "page" | "instagram", "entry": [{"id": PAGE_OR_IG_ID, "time": …,
"messaging": [{"sender": {"id": …}, "recipient": {"id": …}, "timestamp": ms, <one event>}]}]}``. Several
entries and events can come in one POST; ``parse`` returns them all, messages in the order Meta timestamped
them. The customer's address is ``messenger:<PSID>`` or ``instagram:<IGSID>`` — the form the Send API sender
(``channels_intake.outbound.social``) answers to.

Events:

- ``message``: ``mid`` (a redelivery is a no-op), ``text``, ``attachments`` (``image``, ``video``, ``audio``,
  ``file``, ``location``, ``fallback``/``share`` links, Instagram ``story_mention``, ``ig_reel``…: described in
  the text with their URL — Meta's CDN links expire and are not downloaded here — and kept in ``meta``),
  ``quick_reply.payload`` and ``reply_to.mid`` (links a reply to the ticket of the message it answers).
  ``is_echo`` (our own sends coming back) and ``is_deleted`` (Instagram: the customer unsent a message; our
  copy stays) are ignored; ``is_unsupported`` is kept as a placeholder.
- ``postback`` (the customer tapped a button): the button's title as the text, its payload in ``meta``.
- ``delivery`` (``mids``) and ``read`` (Instagram's ``mid``): ``DeliveryReceipt``s. A Messenger ``read`` names
  only a watermark time, no message: it is ignored, with that reason on the inbound event.
- ``reaction`` and anything else (``referral``, ``optin``, handover ``standby``, comments under ``changes``):
  ignored with the reason, never guessed at.

Not supported: the customer's name (Messenger and Instagram send only the scoped ID; looking up the profile
through the Graph API is not done here).
"""

from __future__ import annotations

from datetime import UTC, datetime

from channels_intake.adapters.meta_common import (
    as_dict,
    as_list,
    objects_in,
    payload_error,
    read_json,
    text_of,
    timestamp,
)
from tickets.intake import DeliveryReceipt, Ignored, InboundMessage

SOURCE = "meta"
CHANNEL = "social"
# Meta's ``object`` → the platform prefix of our addresses (as ``outbound.social`` reads them) and its name.
PLATFORMS = {"page": ("messenger", "Messenger"), "instagram": ("instagram", "Instagram")}
ENVELOPE = {"sender", "recipient", "timestamp"}


def parse(event) -> list[InboundMessage | DeliveryReceipt | Ignored]:
    data = read_json(event, objects=tuple(PLATFORMS), what="Messenger or Instagram")
    platform, label = PLATFORMS[data["object"]]
    messages: list[InboundMessage] = []
    others: list[DeliveryReceipt | Ignored] = []
    for entry in objects_in(data.get("entry"), "entry"):
        for raw in objects_in(entry.get("messaging"), "entry.messaging"):
            for item in _event(raw, platform, label):
                (messages if isinstance(item, InboundMessage) else others).append(item)
        for key in ("standby", "changes"):
            if entry.get(key):
                others.append(Ignored(f"{label} {key} notification: not handled"))
    # Out-of-order delivery: the customer's order is Meta's timestamps, not the batch's.
    messages.sort(key=lambda m: m.sent_at)
    return [*messages, *others]


def _event(raw: dict, platform: str, label: str) -> list[InboundMessage | DeliveryReceipt | Ignored]:
    user = text_of(as_dict(raw.get("sender"), "messaging.sender").get("id"))
    page = text_of(as_dict(raw.get("recipient"), "messaging.recipient").get("id"))
    sent_at = timestamp(raw.get("timestamp")) or datetime.now(UTC)

    if "message" in raw:
        message = as_dict(raw["message"], "messaging.message")
        mid = text_of(message.get("mid"))
        if message.get("is_echo"):
            return [Ignored(f"echo of our own {label} message {mid or '(no mid)'}")]
        if message.get("is_deleted"):
            return [Ignored(f"the customer deleted {label} message {mid or '(no mid)'}; our copy is kept")]
        if not mid:
            raise payload_error(f"a {label} message without a mid")
        text, meta = _message_text(message, label)
        reply_to = text_of(as_dict(message.get("reply_to"), "message.reply_to").get("mid"))
        return [
            _inbound(platform, label, user, page, mid, text, sent_at, meta, [reply_to] if reply_to else [])
        ]

    if "postback" in raw:
        postback = as_dict(raw["postback"], "messaging.postback")
        title = text_of(postback.get("title")) or text_of(postback.get("payload")) or "(no title)"
        # Older postbacks carry no mid: the sender and Meta's timestamp identify a redelivery.
        mid = text_of(postback.get("mid")) or f"postback:{platform}:{user}:{raw.get('timestamp', '')}"
        meta = {"postback": {"payload": postback.get("payload", "")}}
        return [_inbound(platform, label, user, page, mid, f"[button: {title}]", sent_at, meta, [])]

    if "delivery" in raw:
        delivery = as_dict(raw["delivery"], "messaging.delivery")
        mids = [text_of(m) for m in as_list(delivery.get("mids"), "delivery.mids") if text_of(m)]
        return [_receipt(mid, "delivered") for mid in mids] or [
            Ignored(f"{label} delivery up to a watermark, naming no message")
        ]

    if "read" in raw:
        mid = text_of(as_dict(raw["read"], "messaging.read").get("mid"))
        return (
            [_receipt(mid, "read")]
            if mid
            else [Ignored(f"{label} read up to a watermark, naming no message")]
        )

    kinds = sorted(set(raw) - ENVELOPE) or ["empty"]
    return [Ignored(f"{label} {', '.join(kinds)} event: not a message to answer")]


def _inbound(platform, label, user, page, mid, text, sent_at, meta, thread_ids) -> InboundMessage:
    if not user:
        raise payload_error(f"{label} message {mid} has no sender.id")
    return InboundMessage(
        channel=CHANNEL,
        sender=f"{platform}:{user}",
        text=text,
        provider_message_id=mid,
        sent_at=sent_at,
        thread_ids=thread_ids,
        meta={"platform": platform, **({"recipient": page} if page else {}), **meta},
    )


def _message_text(message: dict, label: str) -> tuple[str, dict]:
    meta: dict = {}
    lines = [message["text"]] if isinstance(message.get("text"), str) and message["text"] else []
    attachments = objects_in(message.get("attachments"), "message.attachments")
    for attachment in attachments:
        lines.append(_attachment_line(attachment))
    if attachments:
        meta["attachments"] = attachments
    quick_reply = as_dict(message.get("quick_reply"), "message.quick_reply")
    if quick_reply:
        meta["quick_reply"] = quick_reply.get("payload", "")
    if message.get("is_unsupported"):
        lines.append(f"[a {label} message of a kind this help desk cannot show]")
        meta["unsupported"] = True
    return "\n".join(lines) or f"[an empty {label} message]", meta


def _attachment_line(attachment: dict) -> str:
    kind = text_of(attachment.get("type")) or "attachment"
    payload = as_dict(attachment.get("payload"), "attachment.payload")
    if kind == "location":
        coordinates = as_dict(payload.get("coordinates"), "payload.coordinates")
        where = f"{coordinates.get('lat')}, {coordinates.get('long')}" if coordinates else ""
        return f"[location: {where or text_of(attachment.get('title')) or 'shared'}]"
    title = text_of(attachment.get("title")) or text_of(payload.get("title"))
    url = text_of(payload.get("url")) or text_of(attachment.get("url"))
    described = f'{kind} "{title}"' if title else kind
    return f"[{described}, not downloaded: {url}]" if url else f"[{described}]"


def _receipt(mid: str, status: str) -> DeliveryReceipt:
    return DeliveryReceipt(channel=CHANNEL, provider_message_id=mid, status=status)


PARSERS = {SOURCE: parse}
