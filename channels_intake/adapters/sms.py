"""Twilio Messaging webhooks: an incoming SMS, or a status callback about one we sent.

Form-encoded parameters as Twilio documents them: ``MessageSid``, ``AccountSid``, ``From``, ``To``, ``Body``,
``NumMedia``, ``MediaUrl0…``/``MediaContentType0…``; status callbacks carry ``MessageStatus`` (sent,
delivered, undelivered, failed, read) and ``ErrorCode``. Media are recorded by URL (fetching them with the
account's credentials is a later step).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

from tickets.intake import DeliveryReceipt, InboundMessage

SOURCE = "twilio_sms"
RECEIPT_STATUS = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
}
IGNORED_STATUSES = {"accepted", "queued", "sending", "scheduled", "canceled", "receiving"}


def form(event) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(event.payload_text, keep_blank_values=True).items()}


def parse(event) -> list:
    from channels_intake.adapters import PayloadError

    data = form(event)
    sid = data.get("MessageSid") or data.get("SmsSid")
    if not sid:
        raise PayloadError("no MessageSid: not a Twilio Messaging webhook")
    status = (data.get("MessageStatus") or data.get("SmsStatus") or "").lower()
    if "Body" not in data and status:
        if status in IGNORED_STATUSES:
            return []
        if status not in RECEIPT_STATUS:
            raise PayloadError(f"unknown MessageStatus {status!r}")
        error = f"Twilio error {data['ErrorCode']}" if data.get("ErrorCode") else ""
        return [
            DeliveryReceipt(
                channel="sms", provider_message_id=sid, status=RECEIPT_STATUS[status], error=error
            )
        ]
    if not data.get("From"):
        raise PayloadError("no From: the sender is missing")
    media = []
    for i in range(int(data.get("NumMedia") or 0)):
        media.append(
            {"url": data.get(f"MediaUrl{i}", ""), "content_type": data.get(f"MediaContentType{i}", "")}
        )
    return [
        InboundMessage(
            channel="sms",
            sender=data["From"],
            text=data.get("Body", ""),
            provider_message_id=sid,
            sent_at=datetime.now(UTC),
            meta={"to": data.get("To", ""), **({"media": media} if media else {})},
        )
    ]


PARSERS = {SOURCE: parse}
