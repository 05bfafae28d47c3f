"""What every provider webhook does, in one place: size limit, authenticity, store, process, answer.

A webhook answers 200 for a message it accepted or already had (or held: its sender is over the per-sender
limit, ``channels_intake.sender_limits``), 403 for a bad or missing signature or
token (nothing stored, logged), 400 for a payload it cannot read (stored, with the reason), 413 for one
that is too large. Adapters supply only ``verify(request)`` and their parser.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from channels_intake import accounts
from channels_intake.models import InboundEvent
from channels_intake.services import PAYLOAD_ERROR_PREFIX, process_event, record_event

log = logging.getLogger("channels_intake.webhooks")

# Headers worth keeping with the raw event (for replay and forensics); never cookies or auth.
KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Forwarded-For", "X-Twilio-Signature", "X-Hub-Signature-256")


class Unauthentic(Exception):
    """The request's signature or token is missing or wrong."""


def constant_time_equal(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def bearer_token(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


def verify_bearer(request: HttpRequest, *, kind: str, setting: str = "INTAKE_TOKEN") -> None:
    """Raise ``Unauthentic`` unless ``Authorization: Bearer`` carries the token of an active channel account
    of ``kind`` or the setting's (``channels_intake.accounts``); with neither, every request is refused."""
    expected = accounts.candidate_secrets(kind, field="secret", setting=setting)
    if not expected:
        raise Unauthentic(accounts.nothing_configured(kind, setting))
    given = bearer_token(request)
    if not any(constant_time_equal(given, token) for token in expected):
        raise Unauthentic("missing or wrong bearer token")


def too_large(request: HttpRequest) -> HttpResponse | None:
    limit = settings.HELPDESK["MAX_WEBHOOK_BYTES"]
    declared = int(request.headers.get("Content-Length") or 0)
    if declared > limit or len(request.body) > limit:
        return JsonResponse({"error": f"payload larger than {limit} bytes"}, status=413)
    return None


def handle_webhook(
    request: HttpRequest, *, source: str, channel: str, verify: Callable[[HttpRequest], None]
) -> HttpResponse:
    if (refusal := too_large(request)) is not None:
        return refusal
    try:
        verify(request)
    except Unauthentic as exc:
        log.warning("refused %s webhook from %s: %s", source, request.META.get("REMOTE_ADDR"), exc)
        return JsonResponse({"error": str(exc)}, status=403)
    event = record_event(
        source=source,
        channel=channel,
        payload=request.body,
        content_type=request.content_type or "",
        headers={h: request.headers[h] for h in KEPT_HEADERS if h in request.headers},
    )
    event = process_event(event)
    if event.status == InboundEvent.Status.FAILED and event.error.startswith(PAYLOAD_ERROR_PREFIX):
        return JsonResponse(
            {"error": event.error.removeprefix(PAYLOAD_ERROR_PREFIX), "event": event.pk}, status=400
        )
    # Accepted: processed, a duplicate, or stored to be replayed after a failure on our side.
    return JsonResponse({"status": event.status, "event": event.pk})
