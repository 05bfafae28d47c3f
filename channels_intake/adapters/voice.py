"""Phone calls: Twilio Voice status callbacks, and a JSON call-event webhook for any CTI/PBX.

Every call is its own interaction (DOMAIN.md; ``tickets.intake`` starts a new one for each voice message)
and its one message is the *call record*: a text summary an agent can read (direction, numbers, duration,
status, notes, recording link), with the same facts under ``meta["call"]``. The provider's call ID
(``CallSid``, ``call_id``) is the message's provider ID, so a redelivered callback or event is a no-op.
The customer is the caller of an inbound call (``From``) and the called party of an outbound one (``To``);
a customer's number that is not a phone number is an unreadable payload (400). The pipeline stores every
message it receives as inbound, so an outbound call's direction lives in its text and ``meta["call"]``, which
the pipeline reads: a call we placed is recorded on its ticket but is not the customer coming back (no
pending → open, no reopen, no customer-message rules, no follow-up count).

**Twilio** (``twilio_voice``) sends a status callback per call progress event it is asked for (``initiated``
→ ``queued``, ``ringing``, ``answered`` → ``in-progress``, ``completed``), all with the same ``CallSid``.
Only a *final* status records the call: ``completed``, or a call that did not connect — ``busy``,
``no-answer``, ``canceled``, ``failed``. A call that did not connect is still recorded (as a missed call
when it was inbound) so the team calls back. Intermediate statuses are stored in the inbound event log and
ignored. The call's start is the callback's ``Timestamp`` less ``CallDuration``. Also ignored, with the
reason on the event: a child leg (``ParentCallSid``: a leg ``<Dial>`` placed for a call that is itself
recorded), a recording status callback (no ``CallStatus``; give Twilio the recording through the call's own
status callback, whose ``RecordingUrl`` is kept), and a caller who withheld their number (nobody to call
back).

**CTI/PBX** (``cti_voice``) posts one JSON object per finished call::

    {"call_id": "pbx-1712-42", "direction": "inbound", "from": "+447700900111", "to": "+442071838750",
     "started_at": "2026-03-03T09:00:00Z", "ended_at": "2026-03-03T09:06:30Z",
     "customer_id": "ABC", "reference": "ORD-1", "notes": "Router lights red", "recording_url": "https://…",
     "status": "completed"}

``call_id``, ``direction`` (``inbound``/``outbound``), ``started_at`` and the customer's number are
required; ``ended_at`` (ISO 8601, as ``started_at``; no zone means the server's ``TIME_ZONE``), ``status``
(``completed`` by default, or ``missed``, ``busy``, ``no-answer``, ``failed``, ``canceled``),
``customer_id`` (a customer's unique ID), ``reference``, ``notes`` and ``recording_url`` (http/https) are
optional.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from tickets.errors import IntakeError
from tickets.intake import Ignored, InboundMessage
from tickets.services.customers import normalise_phone

TWILIO_SOURCE = "twilio_voice"
CTI_SOURCE = "cti_voice"

# Twilio's call statuses: the ones a call passes through, and the ones it ends in.
INTERMEDIATE_STATUSES = {"queued", "initiated", "ringing", "in-progress"}
FINAL_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}
NOT_CONNECTED = FINAL_STATUSES - {"completed"}
# The CTI format accepts "missed" as well: an inbound call nobody answered.
CTI_STATUSES = FINAL_STATUSES | {"missed"}

# Twilio's Direction: inbound; outbound-api (REST), outbound-dial (<Dial>); SIP trunking both ways.
TWILIO_DIRECTIONS = {
    "inbound": "inbound",
    "outbound-api": "outbound",
    "outbound-dial": "outbound",
    "trunking-terminating": "inbound",
    "trunking-originating": "outbound",
}
# What carriers put in place of a number the caller withheld.
WITHHELD = {"anonymous", "restricted", "private", "unknown", "unavailable", "blocked", "withheld"}

STATUS_WORDS = {
    "completed": "completed",
    "busy": "busy",
    "no-answer": "not answered",
    "failed": "failed",
    "canceled": "hung up before it was answered",
    "missed": "not answered",
}


def _payload_error(reason: str):
    from channels_intake.adapters import PayloadError

    return PayloadError(reason)


def form(event) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(event.payload_text, keep_blank_values=True).items()}


def duration_words(seconds: int | None) -> str:
    if seconds is None:
        return "duration unknown"
    minutes, secs = divmod(seconds, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def summary(
    *,
    direction: str,
    status: str,
    customer: str,
    other: str,
    duration: int | None,
    notes: str = "",
    recording_url: str = "",
    recording_duration: int | None = None,
) -> str:
    """The call record an agent reads: what happened, how long, what was said, where the recording is."""
    missed = status in NOT_CONNECTED or status == "missed"
    if direction == "inbound":
        head = f"{'Missed inbound' if missed else 'Inbound'} call from {customer}"
        head += f" to {other}" if other else ""
    else:
        head = f"Outbound call to {customer}" + (f" from {other}" if other else "")
    if missed:
        line = f"{head}: {STATUS_WORDS[status]}."
        if direction == "inbound":
            line += " Please call the customer back."
    else:
        line = f"{head}, {duration_words(duration)}, {STATUS_WORDS[status]}."
    lines = [line]
    if notes.strip():
        lines.append(f"Notes: {notes.strip()}")
    if recording_url:
        length = f" ({duration_words(recording_duration)})" if recording_duration is not None else ""
        lines.append(f"Recording{length}: {recording_url}")
    return "\n".join(lines)


def _seconds(value, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise _payload_error(f"{field} must be a whole number of seconds, not {value!r}") from None
    if seconds < 0:
        raise _payload_error(f"{field} must not be negative")
    return seconds


def _web_url(value, field: str) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise _payload_error(f"{field} must be a string")
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise _payload_error(f"{field} must be an http(s) URL") from None
    return value


def _not_future(at: datetime) -> datetime:
    """A clock far ahead of ours would order the call after everything: read it as now."""
    now = timezone.now()
    return now if at > now + timedelta(days=1) else at


def _withheld(number: str) -> bool:
    return number.strip().lower() in WITHHELD


def _check_number(number: str, field: str) -> None:
    """A customer's number the pipeline could not read is the payload's fault: say so with a 400."""
    try:
        normalise_phone(number)
    except IntakeError as exc:
        raise _payload_error(f"{field}: {exc}") from None


# Twilio -----------------------------------------------------------------------------------------------------


def parse_twilio(event) -> list:
    data = form(event)
    sid = data.get("CallSid", "").strip()
    if not sid:
        raise _payload_error("no CallSid: not a Twilio Voice status callback")
    status = data.get("CallStatus", "").strip().lower()
    if not status:
        if data.get("RecordingStatus"):
            return [
                Ignored(
                    f"recording status callback for call {sid}: the call's own status callback "
                    "records the call and its RecordingUrl"
                )
            ]
        raise _payload_error(f"no CallStatus in the callback for call {sid}")
    if status not in FINAL_STATUSES | INTERMEDIATE_STATUSES:
        raise _payload_error(f"unknown CallStatus {status!r}")
    if data.get("ParentCallSid"):
        return [Ignored(f"call {sid} is a leg of call {data['ParentCallSid']}, which is the one recorded")]
    if status in INTERMEDIATE_STATUSES:
        return [Ignored(f"call {sid} is {status}: a call is recorded when it ends")]

    raw_direction = data.get("Direction", "inbound").strip().lower()
    if raw_direction not in TWILIO_DIRECTIONS:
        raise _payload_error(f"unknown Direction {raw_direction!r}")
    direction = TWILIO_DIRECTIONS[raw_direction]
    caller, called = data.get("From", "").strip(), data.get("To", "").strip()
    customer, other = (caller, called) if direction == "inbound" else (called, caller)
    if not customer:
        raise _payload_error(
            f"no {'From' if direction == 'inbound' else 'To'}: the customer's number is missing"
        )
    if _withheld(customer):
        return [Ignored(f"call {sid}: the customer's number is withheld ({customer}), nobody to call back")]
    _check_number(customer, "From" if direction == "inbound" else "To")

    duration = _seconds(data.get("CallDuration"), "CallDuration")
    if status in NOT_CONNECTED:
        duration = 0
    ended = datetime.now(UTC)
    if data.get("Timestamp"):
        try:
            ended = parsedate_to_datetime(data["Timestamp"])
        except (TypeError, ValueError):
            raise _payload_error(f"unreadable Timestamp {data['Timestamp']!r}") from None
        if ended.tzinfo is None:
            ended = ended.replace(tzinfo=UTC)
    started = _not_future(ended - timedelta(seconds=duration or 0))
    recording_url = _web_url(data.get("RecordingUrl"), "RecordingUrl")
    recording_duration = _seconds(data.get("RecordingDuration"), "RecordingDuration")

    call = {
        "provider": "twilio",
        "direction": direction,
        "status": status,
        "from": caller,
        "to": called,
        "duration_seconds": duration,
        "started_at": started.isoformat(),
        "ended_at": ended.isoformat(),
    }
    if recording_url:
        call |= {"recording_url": recording_url, "recording_sid": data.get("RecordingSid", "")}
        if recording_duration is not None:
            call["recording_duration_seconds"] = recording_duration
    return [
        InboundMessage(
            channel="voice",
            sender=customer,
            sender_name=data.get("CallerName", "").strip() if direction == "inbound" else "",
            text=summary(
                direction=direction,
                status=status,
                customer=customer,
                other=other,
                duration=duration,
                recording_url=recording_url,
                recording_duration=recording_duration,
            ),
            provider_message_id=sid,
            sent_at=started,
            meta={"call": call},
        )
    ]


# CTI / PBX --------------------------------------------------------------------------------------------------


def _text(data: dict, field: str, *, required: bool = False) -> str:
    value = data.get(field)
    if value is None or value == "":
        if required:
            raise _payload_error(f"{field} is required")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _payload_error(f"{field} must be a string")
    return str(value).strip()


def _instant(data: dict, field: str, *, required: bool = False) -> datetime | None:
    value = _text(data, field, required=required)
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise _payload_error(f"{field} must be an ISO 8601 date and time, not {value!r}") from None
    return timezone.make_aware(at) if timezone.is_naive(at) else at


def parse_cti(event) -> list:
    try:
        data = json.loads(event.payload_bytes)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _payload_error(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _payload_error("the body must be one JSON object describing one call")

    call_id = _text(data, "call_id", required=True)
    if len(call_id) > 255:
        raise _payload_error("call_id is longer than 255 characters")
    direction = _text(data, "direction", required=True).lower()
    if direction not in ("inbound", "outbound"):
        raise _payload_error(f"direction must be inbound or outbound, not {direction!r}")
    status = (_text(data, "status") or "completed").lower()
    if status not in CTI_STATUSES:
        raise _payload_error(f"status must be one of {', '.join(sorted(CTI_STATUSES))}, not {status!r}")
    caller, called = _text(data, "from"), _text(data, "to")
    customer_field = "from" if direction == "inbound" else "to"
    customer, other = (caller, called) if direction == "inbound" else (called, caller)
    if not customer:
        raise _payload_error(
            f"{customer_field} is required: it is the customer's number on an {direction} call"
        )
    if _withheld(customer):
        return [
            Ignored(f"call {call_id}: the customer's number is withheld ({customer}), nobody to call back")
        ]
    _check_number(customer, customer_field)

    started = _instant(data, "started_at", required=True)
    ended = _instant(data, "ended_at")
    duration = None
    if ended is not None:
        if ended < started:
            raise _payload_error("ended_at is before started_at")
        duration = int((ended - started).total_seconds())
    if status != "completed":
        duration = 0
    notes = _text(data, "notes")
    recording_url = _web_url(data.get("recording_url"), "recording_url")

    call = {
        "provider": "cti",
        "direction": direction,
        "status": status,
        "from": caller,
        "to": called,
        "duration_seconds": duration,
        "started_at": started.isoformat(),
        **({"ended_at": ended.isoformat()} if ended else {}),
        **({"recording_url": recording_url} if recording_url else {}),
    }
    return [
        InboundMessage(
            channel="voice",
            sender=customer,
            text=summary(
                direction=direction,
                status=status,
                customer=customer,
                other=other,
                duration=duration,
                notes=notes,
                recording_url=recording_url,
            ),
            provider_message_id=call_id,
            customer_unique_id=_text(data, "customer_id"),
            reference=_text(data, "reference"),
            sent_at=_not_future(started),
            meta={"call": call},
        )
    ]


PARSERS = {TWILIO_SOURCE: parse_twilio, CTI_SOURCE: parse_cti}
