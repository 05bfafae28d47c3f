"""The operator's adapter: ``manage.py intake_message`` stores its arguments as a JSON event."""

from __future__ import annotations

import json

from django.utils.dateparse import parse_datetime

from tickets.intake import InboundMessage

SOURCE = "cli"
FIELDS = (
    "channel",
    "sender",
    "text",
    "provider_message_id",
    "subject",
    "sender_name",
    "customer_unique_id",
    "reference",
)


def parse(event) -> list[InboundMessage]:
    from channels_intake.adapters import PayloadError

    try:
        data = json.loads(event.payload_text)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"the payload is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError("the payload must be a JSON object")
    unknown = set(data) - set(FIELDS) - {"sent_at"}
    if unknown:
        raise PayloadError(f"unknown fields: {', '.join(sorted(unknown))}")
    sent_at = parse_datetime(data["sent_at"]) if data.get("sent_at") else None
    return [InboundMessage(**{k: str(data.get(k) or "") for k in FIELDS}, sent_at=sent_at)]


PARSERS = {SOURCE: parse}
