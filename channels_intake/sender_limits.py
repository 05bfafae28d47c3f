"""Per-sender limits on intake: one address flooding a channel cannot create tickets, acknowledgements or
routing work faster than ``HELPDESK["INTAKE_SENDER_LIMIT"]`` (django-ratelimit's notation, "30/10m").

The decision is taken after the event is stored, verified and parsed (the sender is only known from the
payload) and before any message reaches the pipeline. A message over the limit is not refused: its event is
kept, answered 200 like any other (so providers do not retry), and marked ``held`` with the reason; so is every
later message of that sender while it has held ones (order is kept). The backlog sweep releases held events
once the sender's window has passed, oldest first, each counted against the new window; an operator can
release them at once (admin action, ``manage.py replay_inbound --held``).

The counters are django-ratelimit's, in the default cache, like the /support/ pages' limits
(``channels_intake.portal.limits``). The pages of our own site (web form, chat) have those limits instead, and
the command line is an operator's, so neither is limited here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django_ratelimit.core import get_usage

from channels_intake.adapters import cli, webchat
from channels_intake.models import InboundEvent
from tickets.errors import HelpdeskError
from tickets.intake import InboundMessage
from tickets.models import Message
from tickets.services.customers import normalise_address

security_log = logging.getLogger("helpdesk.security")

EXEMPT_SOURCES = frozenset({cli.SOURCE, webchat.FORM_SOURCE, webchat.CHAT_SOURCE})
GROUP = "intake:sender"


@dataclass(frozen=True)
class Hold:
    sender: str
    until: datetime
    reason: str


def rate() -> str:
    """The limit, or "" when it is turned off (an empty setting or "0")."""
    value = (settings.HELPDESK.get("INTAKE_SENDER_LIMIT") or "").strip()
    return "" if value in ("", "0", "off") else value


def sender_key(msg: InboundMessage) -> str:
    """``<channel>:<normalised address>``: the e-mail From, the WhatsApp ID, the phone number, the PSID."""
    try:
        _, address = normalise_address(msg.channel, msg.sender)
    except HelpdeskError:
        address = (msg.sender or "").strip().lower()
    return f"{msg.channel}:{address}"[:300]


def _taken_in(msg: InboundMessage) -> bool:
    return (
        bool(msg.provider_message_id)
        and Message.objects.filter(channel=msg.channel, provider_message_id=msg.provider_message_id).exists()
    )


def _waiting_behind(event: InboundEvent, senders: list[str]) -> InboundEvent | None:
    return (
        InboundEvent.objects.filter(status=InboundEvent.Status.HELD, sender__in=senders, pk__lt=event.pk)
        .order_by("received_at", "id")
        .only("pk", "sender", "held_until")
        .first()
    )


def check(event: InboundEvent, items) -> Hold | None:
    """Count the event's messages against their senders' limits; a ``Hold`` if the event must wait."""
    limit = rate()
    if not limit or event.source in EXEMPT_SOURCES:
        return None
    # Delivery receipts and ignored notifications are nobody's messages; a provider's redelivery of a message
    # already taken in is a no-op for the pipeline, so neither counts nor waits.
    items = [i for i in items if isinstance(i, InboundMessage) and not _taken_in(i)]
    senders = list(dict.fromkeys(sender_key(i) for i in items))
    if not senders:
        return None
    now = timezone.now()
    if (first := _waiting_behind(event, senders)) is not None:
        until = max(first.held_until or now, now)
        hold = Hold(first.sender, until, f"sender {first.sender} has held messages (event {first.pk} first)")
        security_log.info("intake held event=%s source=%s reason=%s", event.pk, event.source, hold.reason)
        return hold
    hold = None
    for item in items:
        key = sender_key(item)
        usage = get_usage(None, group=GROUP, key=lambda _g, _r, key=key: key, rate=limit, increment=True)
        if usage is None or usage["time_left"] < 0:
            continue  # the cache cannot count (down): take the message in rather than hold it blindly
        if usage["should_limit"] and hold is None:
            hold = Hold(
                key,
                now + timedelta(seconds=max(usage["time_left"], 1)),
                f"sender {key} is over the intake limit of {limit}",
            )
    if hold is not None:
        security_log.warning(
            "intake held event=%s source=%s reason=%s until=%s",
            event.pk,
            event.source,
            hold.reason,
            hold.until.isoformat(),
        )
    return hold
