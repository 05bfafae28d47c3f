"""Meta's webhooks: WhatsApp Cloud API (``/intake/whatsapp/``) and Messenger/Instagram (``/intake/meta/``).

Both speak Meta's scheme, implemented once here:

- ``GET`` is the subscription handshake: ``hub.mode=subscribe``, ``hub.verify_token`` (compared in constant
  time with the verify-token setting) and ``hub.challenge``, answered as ``text/plain`` 200; anything else 403.
- ``POST`` carries ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>``,
  checked over ``request.body`` exactly as received, then stored and processed by ``handle_webhook``.

An unset verify token or app secret refuses every request on its path. The adapters are
``channels_intake.adapters.whatsapp`` and ``channels_intake.adapters.social``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from channels_intake.adapters import social, whatsapp
from channels_intake.webhooks import Unauthentic, constant_time_equal, handle_webhook

log = logging.getLogger("channels_intake.webhooks")

SIGNATURE_HEADER = "X-Hub-Signature-256"


def verify_signature(request: HttpRequest, *, secret_setting: str) -> None:
    """Raise ``Unauthentic`` unless the body is signed with the app secret named by ``secret_setting``."""
    secret = getattr(settings, secret_setting, "")
    if not secret:
        raise Unauthentic(f"{secret_setting} is not set: this webhook is refused until it is")
    header = request.headers.get(SIGNATURE_HEADER, "")
    if not header:
        raise Unauthentic(f"missing {SIGNATURE_HEADER}")
    scheme, _, given = header.partition("=")
    if scheme.strip().lower() != "sha256":
        raise Unauthentic(f"{SIGNATURE_HEADER} is not sha256=<hex>")
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    if not constant_time_equal(given.strip().lower(), expected):
        raise Unauthentic(f"bad {SIGNATURE_HEADER}")


def handshake(request: HttpRequest, *, token_setting: str) -> HttpResponse:
    """Meta's verification request: echo ``hub.challenge`` when the verify token matches."""
    expected = getattr(settings, token_setting, "")
    if not expected:
        reason = f"{token_setting} is not set: the subscription cannot be verified"
    elif request.GET.get("hub.mode") != "subscribe":
        reason = "hub.mode is not subscribe"
    elif not constant_time_equal(request.GET.get("hub.verify_token", ""), expected):
        reason = "wrong hub.verify_token"
    elif not request.GET.get("hub.challenge"):
        reason = "no hub.challenge"
    else:
        return HttpResponse(request.GET["hub.challenge"], content_type="text/plain; charset=utf-8")
    log.warning("refused %s handshake from %s: %s", request.path, request.META.get("REMOTE_ADDR"), reason)
    return JsonResponse({"error": reason}, status=403)


def meta_webhook(*, source: str, channel: str, token_setting: str, secret_setting: str):
    """The view for one Meta webhook path: the handshake on GET, signed notifications on POST."""

    def verify(request: HttpRequest) -> None:
        verify_signature(request, secret_setting=secret_setting)

    @csrf_exempt
    @require_http_methods(["GET", "POST"])
    def webhook(request: HttpRequest) -> HttpResponse:
        if request.method == "GET":
            return handshake(request, token_setting=token_setting)
        return handle_webhook(request, source=source, channel=channel, verify=verify)

    webhook.__name__ = webhook.__qualname__ = f"{source}_webhook"
    return webhook


urlpatterns = [
    path(
        "whatsapp/",
        meta_webhook(
            source=whatsapp.SOURCE,
            channel=whatsapp.CHANNEL,
            token_setting="WHATSAPP_VERIFY_TOKEN",
            secret_setting="WHATSAPP_APP_SECRET",
        ),
        name="whatsapp",
    ),
    path(
        "meta/",
        meta_webhook(
            source=social.SOURCE,
            channel=social.CHANNEL,
            token_setting="META_VERIFY_TOKEN",
            secret_setting="META_APP_SECRET",
        ),
        name="meta",
    ),
]
