"""The operator's adapter: ``manage.py intake_message`` stores its arguments as a JSON event."""

from __future__ import annotations

import json

from django.utils.dateparse import parse_datetime

from tickets.errors import IntakeError
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
    try:
        data = json.loads(event.payload)
    except json.JSONDecodeError as exc:
        raise IntakeError(f"the payload is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise IntakeError("the payload must be a JSON object")
    unknown = set(data) - set(FIELDS) - {"sent_at"}
    if unknown:
        raise IntakeError(f"unknown fields: {', '.join(sorted(unknown))}")
    sent_at = parse_datetime(data["sent_at"]) if data.get("sent_at") else None
    return [InboundMessage(**{k: str(data.get(k) or "") for k in FIELDS}, sent_at=sent_at)]
