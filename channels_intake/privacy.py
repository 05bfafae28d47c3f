"""Erasing a customer at the edge: the raw inbound events kept for replay hold their messages verbatim.

Connected to ``tickets.services.privacy.customer_erased`` (``ChannelsIntakeConfig.ready``). An event is the
customer's when its result names one of their messages, or — a failed event names none — when its raw bytes
contain one of their addresses. Only events received while the customer was writing are read (their first and
last message, a day either side), so an erasure does not scan the whole log. The event row stays (its status
and times are intake statistics); its payload, headers, error and result are blanked, so it can no longer be
replayed — there is nothing left to replay.
"""

from __future__ import annotations

from datetime import timedelta

from channels_intake.models import InboundEvent

MARGIN = timedelta(days=1)


def _message_ids(result) -> set[int]:
    items = (result or {}).get("messages") or []
    return {item.get("message") for item in items if isinstance(item, dict) and item.get("message")}


def scrub_inbound_events(sender, *, customer, message_ids, addresses, since, until, **kwargs) -> int:
    if since is None:
        return 0
    # Addresses are stored normalised (lower-cased e-mail, E.164); raw payloads write them as the sender did.
    needles = {a.lower().lstrip("+").encode() for a in addresses if a}
    events = InboundEvent.objects.filter(received_at__gte=since - MARGIN, received_at__lte=until + MARGIN)
    scrubbed = 0
    for event in events.only("pk", "payload", "result").iterator(chunk_size=500):
        payload = bytes(event.payload or b"").lower()
        if not payload and not event.result:
            continue  # already scrubbed
        if _message_ids(event.result) & message_ids or any(n in payload for n in needles):
            scrubbed += InboundEvent.objects.filter(pk=event.pk).update(
                payload=b"", headers={}, error="", result={"erased": True}
            )
    return scrubbed
