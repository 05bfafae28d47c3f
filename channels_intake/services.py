"""The edge's half of intake: store the raw request first, then parse and hand it to the pipeline.

Nothing a provider sent is lost: the event row is committed before processing starts, and a payload that
fails is kept with the reason, to be replayed (``manage.py replay_inbound``) once the cause is fixed.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from channels_intake import sender_limits
from channels_intake.adapters import PayloadError, parser_for
from channels_intake.models import InboundEvent
from tickets.errors import HelpdeskError
from tickets.intake import DeliveryReceipt, Ignored, receive, record_receipt

log = logging.getLogger(__name__)

# An event failed because its payload cannot be read (the webhook answers 400, not 200).
PAYLOAD_ERROR_PREFIX = "unreadable payload: "


def record_event(
    *, source: str, channel: str, payload: bytes | str, content_type: str = "", headers=None
) -> InboundEvent:
    """Store a provider's request as it arrived (its own committed transaction)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    with transaction.atomic():
        return InboundEvent.objects.create(
            source=source, channel=channel, payload=payload, content_type=content_type, headers=headers or {}
        )


def _take(item) -> dict:
    if isinstance(item, DeliveryReceipt):
        return record_receipt(item)
    if isinstance(item, Ignored):
        return {"ignored": item.reason}
    return receive(item).as_dict()


def _hold(event: InboundEvent, hold: sender_limits.Hold) -> InboundEvent:
    event.status, event.error, event.result = InboundEvent.Status.HELD, hold.reason, {}
    event.sender, event.held_until = hold.sender, hold.until
    event.save(update_fields=["status", "error", "result", "attempts", "sender", "held_until"])
    return event


def process_event(
    event: InboundEvent, *, count_attempt: bool = True, enforce_limits: bool = True
) -> InboundEvent:
    """Parse and receive every message in an event; mark it processed, duplicate or failed (with why).

    A sender over the per-sender intake limit (``channels_intake.sender_limits``) is checked after parsing and
    before the pipeline: its event is marked held instead (not an attempt). ``enforce_limits=False`` is an
    operator's release.
    """
    if count_attempt:
        event.attempts += 1
    try:
        items = parser_for(event.source)(event)
        if enforce_limits and (hold := sender_limits.check(event, items)) is not None:
            event.attempts -= count_attempt
            return _hold(event, hold)
        results = [_take(i) for i in items]
    except PayloadError as exc:
        event.status, event.error, event.result = (
            InboundEvent.Status.FAILED,
            f"{PAYLOAD_ERROR_PREFIX}{exc}",
            {},
        )
    except HelpdeskError as exc:
        event.status, event.error, event.result = InboundEvent.Status.FAILED, str(exc), {}
    except Exception as exc:  # noqa: BLE001 - keep the payload and the reason, whatever went wrong
        log.exception("inbound event %s failed", event.pk)
        event.status, event.error, event.result = (
            InboundEvent.Status.FAILED,
            f"{type(exc).__name__}: {exc}",
            {},
        )
    else:
        duplicate = bool(results) and all(r.get("duplicate") for r in results)
        event.status = InboundEvent.Status.DUPLICATE if duplicate else InboundEvent.Status.PROCESSED
        event.error, event.result = "", {"messages": results}
    event.held_until = None
    event.processed_at = timezone.now()
    event.save(update_fields=["status", "error", "result", "attempts", "held_until", "processed_at"])
    return event


def accept(
    *, source: str, channel: str, payload: bytes | str, content_type: str = "", headers=None
) -> InboundEvent:
    """Store, then process now (within the request: intake is fast; what follows runs as tasks)."""
    event = record_event(
        source=source, channel=channel, payload=payload, content_type=content_type, headers=headers
    )
    return process_event(event)


def process_backlog(*, limit: int = 500, older_than_seconds: int = 30, max_attempts: int = 5) -> int:
    """Process events still ``received`` a while after arrival. Failed ones wait for an operator's replay.

    Each event is claimed with a conditional update on its attempt count, so two sweeps running at once
    never process one event twice; an event that keeps killing its worker stops being retried.
    """
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    pending = (
        InboundEvent.objects.filter(
            status=InboundEvent.Status.RECEIVED, received_at__lte=cutoff, attempts__lt=max_attempts
        )
        .order_by("received_at")
        .values_list("pk", "attempts")[:limit]
    )
    done = 0
    for pk, attempts in list(pending):
        claimed = InboundEvent.objects.filter(pk=pk, status=InboundEvent.Status.RECEIVED, attempts=attempts)
        if claimed.update(attempts=attempts + 1):
            process_event(InboundEvent.objects.get(pk=pk), count_attempt=False)
            done += 1
    return done + release_held(limit=limit)


# How long a sweep's claim on a held event lasts: a worker killed mid-release leaves it to a later sweep.
HELD_CLAIM_SECONDS = 300


def release_held(*, limit: int = 500) -> int:
    """Run held events whose sender's window has passed through the pipeline again, oldest first.

    Each is counted against the sender's new window, so a flood is taken in at the limit's pace, and held
    again (behind its own earlier messages) when the new window fills. Claimed by a conditional update of
    ``held_until``, so two sweeps at once never release one event twice. Returns how many were processed.
    """
    now = timezone.now()
    due = (
        InboundEvent.objects.filter(status=InboundEvent.Status.HELD, held_until__lte=now)
        .order_by("received_at", "id")
        .values_list("pk", "held_until")[:limit]
    )
    released = 0
    for pk, held_until in list(due):
        lease = timezone.now() + timezone.timedelta(seconds=HELD_CLAIM_SECONDS)
        claimed = InboundEvent.objects.filter(pk=pk, status=InboundEvent.Status.HELD, held_until=held_until)
        if claimed.update(held_until=lease):
            event = process_event(InboundEvent.objects.get(pk=pk))
            released += event.status != InboundEvent.Status.HELD
    return released


def release(events) -> list[InboundEvent]:
    """An operator's release: process held events now, oldest first, whatever their senders' limits."""
    return [
        process_event(event, enforce_limits=False)
        for event in events.filter(status=InboundEvent.Status.HELD).order_by("received_at", "id")
    ]
