"""The outbox task's work: send one queued outbound message, at most once, retrying what may succeed later.

Delivery is at-least-once in django-q2, so the message is claimed under a row lock (``queued`` → ``sending``)
before any provider is called; a second run finds it no longer queued and does nothing.

- Success: ``sent``, the provider's ID stored (status webhooks and e-mail replies find the message by it).
- ``PermanentFailure``: ``failed`` with the reason, for the agent to see.
- ``TemporaryFailure``: back to ``queued`` with the reason and ``meta["attempts"]``, and a retry 2, 4, 8, 16
  minutes later; the fifth failed attempt is final.

Retries are one-off django-q2 ``Schedule`` rows (``next_run`` = now + 2^attempts minutes) rather than an
``async_task`` that sleeps: a schedule is a database row, so a retry survives restarts and deploys, holds no
worker while it waits (a 16-minute sleep would also outlast the cluster's task timeout), and works with the ORM
and the Redis broker alike (schedules always live in the database). The scheduler runs about every 30 s, which
is precise enough for minutes of backoff.

:func:`sweep` is the safety net: it enqueues queued messages whose task was lost (the process died between
commit and enqueue, or the broker was down) and fails, with a clear reason, messages left ``sending`` by a
worker killed mid-send (they may or may not have reached the customer: sending again could send twice).
"""

from __future__ import annotations

import importlib
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from channels_intake.outbound.base import PermanentFailure, SendResult, TemporaryFailure
from tickets.models import Message

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
DEFAULT_TASK = "channels_intake.tasks.deliver_message"
# One sender module per channel; a web-form customer is answered by e-mail (their identity is an address).
SENDERS = {
    "email": "channels_intake.outbound.email",
    "web": "channels_intake.outbound.email",
    "whatsapp": "channels_intake.outbound.whatsapp",
    "sms": "channels_intake.outbound.sms",
    "social": "channels_intake.outbound.social",
}
# Chat replies are shown on the customer's chat page: nothing to call.
NO_PROVIDER = {"chat"}

Status = Message.DeliveryStatus


def task_name() -> str:
    return getattr(settings, "HELPDESK", {}).get("OUTBOX_TASK", DEFAULT_TASK)


def deliver(message_id: int) -> str:
    """Send one outbound message if it is still queued. Returns what happened (for the task's result)."""
    message = _claim(message_id)
    if isinstance(message, str):
        return message
    if message.channel in NO_PROVIDER:
        return _done(message, SendResult())
    module = SENDERS.get(message.channel)
    if module is None:
        return _failed(message, f"no sender is configured for {message.get_channel_display()}")
    try:
        result = importlib.import_module(module).send(message)
    except PermanentFailure as exc:
        return _failed(message, str(exc))
    except TemporaryFailure as exc:
        return _retry(message, str(exc))
    except Exception as exc:  # noqa: BLE001 - never leave a message "sending" with no word of why
        # Whether the provider got it is unknown: failing (visible to the agent) is safer than a second send.
        log.exception("outbound message %s: unexpected error while sending", message.pk)
        return _failed(message, f"unexpected error while sending: {type(exc).__name__}: {exc}")
    return _done(message, result)


def _claim(message_id: int) -> Message | str:
    """Lock the row and move it queued → sending, counting the attempt; or say why there is nothing to do."""
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.direction != Message.Direction.OUTBOUND:
            return "nothing to send"
        if message.delivery_status != Status.QUEUED:
            return "already handled"
        message.meta = {
            **message.meta,
            "attempts": int(message.meta.get("attempts", 0)) + 1,
            "claimed_at": timezone.now().isoformat(),
        }
        message.delivery_status = Status.SENDING
        message.save(update_fields=["delivery_status", "meta"])
    return message


def _finish(message: Message, **fields) -> None:
    # Only the claimant moves the message on from "sending".
    Message.objects.filter(pk=message.pk, delivery_status=Status.SENDING).update(**fields)


def _done(message: Message, result: SendResult) -> str:
    meta = {k: v for k, v in message.meta.items() if k not in ("claimed_at", "next_attempt_at")}
    _finish(
        message,
        delivery_status=Status.SENT,
        provider_message_id=result.provider_message_id,
        error="",
        meta={**meta, **result.meta},
    )
    return "sent"


def _failed(message: Message, reason: str) -> str:
    log.warning("outbound message %s failed: %s", message.pk, reason)
    _finish(message, delivery_status=Status.FAILED, error=reason[:2000])
    return "failed"


def _retry(message: Message, reason: str) -> str:
    attempts = int(message.meta["attempts"])
    if attempts >= MAX_ATTEMPTS:
        return _failed(message, f"gave up after {attempts} attempts: {reason}")
    from django_q.models import Schedule

    next_run = timezone.now() + timedelta(minutes=2**attempts)
    with transaction.atomic():
        _finish(
            message,
            delivery_status=Status.QUEUED,
            error=reason[:2000],
            meta={**message.meta, "next_attempt_at": next_run.isoformat()},
        )
        # Backoff 2, 4, 8, 16 minutes: a one-off schedule, deleted by the scheduler once it has run.
        Schedule.objects.create(
            name=f"outbox retry {message.pk}/{attempts}",
            func=task_name(),
            args=str(message.pk),
            schedule_type=Schedule.ONCE,
            repeats=-1,
            next_run=next_run,
        )
    log.info(
        "outbound message %s: attempt %s failed (%s); retry at %s", message.pk, attempts, reason, next_run
    )
    return "retry scheduled"


def sweep(*, stale_minutes: int = 10, sending_timeout_minutes: int = 30, limit: int = 500) -> dict:
    """Re-enqueue queued messages nobody is going to send; fail messages stuck in ``sending``."""
    from django_q.tasks import async_task

    now = timezone.now()
    stale = now - timedelta(minutes=stale_minutes)
    requeued = 0
    queued = (
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND, delivery_status=Status.QUEUED, created_at__lte=stale
        )
        .order_by("created_at")
        .values_list("pk", "meta")[:limit]
    )
    for pk, meta in queued:
        due = _when((meta or {}).get("next_attempt_at"))
        if due is not None and due > stale:
            continue  # a scheduled retry is still on its way
        async_task(task_name(), pk, group="outbox")
        requeued += 1

    cutoff = now - timedelta(minutes=sending_timeout_minutes)
    interrupted = 0
    sending = Message.objects.filter(
        direction=Message.Direction.OUTBOUND, delivery_status=Status.SENDING
    ).values_list("pk", "meta")[:limit]
    for pk, meta in sending:
        claimed = _when((meta or {}).get("claimed_at"))
        if claimed is None or claimed <= cutoff:
            interrupted += Message.objects.filter(pk=pk, delivery_status=Status.SENDING).update(
                delivery_status=Status.FAILED,
                error="delivery was interrupted while sending; it may or may not have reached the customer",
            )
    return {"requeued": requeued, "interrupted": interrupted}


def _when(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None
