"""The outbox task's work: send one queued outbound message, at most once, retrying what may succeed later.

Delivery is at-least-once in django-q2, so the message is claimed with a conditional update
(``queued`` → ``sending``) before any provider is called; a second run finds nothing to do.
"""

from __future__ import annotations

import importlib
import logging
from datetime import timedelta

from django.utils import timezone

from channels_intake.outbound.base import PermanentFailure, TemporaryFailure
from tickets.models import Message

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
# Channels with a sender module in this package; chat replies are read on the customer's chat page.
SENDERS = {"email": "channels_intake.outbound.email"}
NO_PROVIDER = {"chat"}


def deliver(message_id: int) -> str:
    message = Message.objects.select_related("interaction__case").filter(pk=message_id).first()
    if message is None or message.direction != Message.Direction.OUTBOUND:
        return "nothing to send"
    # Claim: only the run that moves the message from queued to sending may call the provider.
    if not Message.objects.filter(pk=message.pk, delivery_status=Message.DeliveryStatus.QUEUED).update(
        delivery_status=Message.DeliveryStatus.SENDING
    ):
        return "already handled"
    message.meta = {**message.meta, "attempts": int(message.meta.get("attempts", 0)) + 1}
    Message.objects.filter(pk=message.pk).update(meta=message.meta)
    if message.channel in NO_PROVIDER:
        return _done(message, "")
    module = SENDERS.get(message.channel)
    if module is None:
        return _failed(message, f"no sender is configured for {message.get_channel_display()} yet")
    try:
        result = importlib.import_module(module).send(message)
    except PermanentFailure as exc:
        return _failed(message, str(exc))
    except TemporaryFailure as exc:
        return _retry(message, str(exc))
    return _done(message, result.provider_message_id)


def _done(message: Message, provider_id: str) -> str:
    Message.objects.filter(pk=message.pk).update(
        delivery_status=Message.DeliveryStatus.SENT, provider_message_id=provider_id, error=""
    )
    return "sent"


def _failed(message: Message, reason: str) -> str:
    log.warning("outbound message %s failed: %s", message.pk, reason)
    Message.objects.filter(pk=message.pk).update(
        delivery_status=Message.DeliveryStatus.FAILED, error=reason[:2000]
    )
    return "failed"


def _retry(message: Message, reason: str) -> str:
    attempts = message.meta["attempts"]
    if attempts >= MAX_ATTEMPTS:
        return _failed(message, f"gave up after {attempts} attempts: {reason}")
    Message.objects.filter(pk=message.pk).update(
        delivery_status=Message.DeliveryStatus.QUEUED, error=reason[:2000]
    )
    from django_q.models import Schedule

    # Backoff 2, 4, 8, 16 minutes: a one-off schedule that the cluster runs when due.
    Schedule.objects.create(
        name=f"outbox retry {message.pk}/{attempts}",
        func="channels_intake.tasks.deliver_message",
        args=str(message.pk),
        schedule_type=Schedule.ONCE,
        repeats=-1,
        next_run=timezone.now() + timedelta(minutes=2**attempts),
    )
    return "retry scheduled"
