"""Meta's webhooks: WhatsApp Cloud API (``/intake/whatsapp/``) and Messenger/Instagram (``/intake/meta/``).

Both speak Meta's scheme, implemented once here:

- ``GET`` is the subscription handshake: ``hub.mode=subscribe``, ``hub.verify_token`` (compared in constant
  time with the verify-token setting) and ``hub.challenge``, answered as ``text/plain`` 200; anything else 403.
- ``POST`` carries ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>``,
  checked over ``request.body`` exactly as received, then stored and processed by ``handle_webhook``.

Tokens and secrets come from the active ``ChannelAccount``s of the kind (admin) and from the settings
(``channels_intake.accounts``): any of them is accepted, the account the payload names tried first. Neither
set refuses every request on its path. The adapters are
``channels_intake.adapters.whatsapp`` and ``channels_intake.adapters.social``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from channels_intake import accounts
from channels_intake.adapters import social, whatsapp
from channels_intake.webhooks import Unauthentic, constant_time_equal, handle_webhook

log = logging.getLogger("channels_intake.webhooks")

SIGNATURE_HEADER = "X-Hub-Signature-256"


def verify_signature(request: HttpRequest, *, kind: str, secret_setting: str) -> None:
    """Raise ``Unauthentic`` unless the body is signed with an app secret of ``kind`` (account or setting)."""
    secrets = accounts.candidate_secrets(
        kind, field="secret", setting=secret_setting, named=accounts.meta_accounts_named(request.body, kind)
    )
    if not secrets:
        raise Unauthentic(accounts.nothing_configured(kind, secret_setting))
    header = request.headers.get(SIGNATURE_HEADER, "")
    if not header:
        raise Unauthentic(f"missing {SIGNATURE_HEADER}")
    scheme, _, given = header.partition("=")
    if scheme.strip().lower() != "sha256":
        raise Unauthentic(f"{SIGNATURE_HEADER} is not sha256=<hex>")
    given = given.strip().lower()
    for secret in secrets:
        if constant_time_equal(given, hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()):
            return
    raise Unauthentic(f"bad {SIGNATURE_HEADER}")


def handshake(request: HttpRequest, *, kind: str, token_setting: str) -> HttpResponse:
    """Meta's verification request: echo ``hub.challenge`` when the verify token matches one we have."""
    expected = accounts.candidate_secrets(kind, field="verify_token", setting=token_setting)
    given = request.GET.get("hub.verify_token", "")
    if not expected:
        reason = f"{token_setting} is not set and no active channel account has a verify token"
    elif request.GET.get("hub.mode") != "subscribe":
        reason = "hub.mode is not subscribe"
    elif not any(constant_time_equal(given, token) for token in expected):
        reason = "wrong hub.verify_token"
    elif not request.GET.get("hub.challenge"):
        reason = "no hub.challenge"
    else:
        return HttpResponse(request.GET["hub.challenge"], content_type="text/plain; charset=utf-8")
    log.warning("refused %s handshake from %s: %s", request.path, request.META.get("REMOTE_ADDR"), reason)
    return JsonResponse({"error": reason}, status=403)


def meta_webhook(*, source: str, channel: str, kind: str, token_setting: str, secret_setting: str):
    """The view for one Meta webhook path: the handshake on GET, signed notifications on POST."""

    def verify(request: HttpRequest) -> None:
        verify_signature(request, kind=kind, secret_setting=secret_setting)

    @csrf_exempt
    @require_http_methods(["GET", "POST"])
    def webhook(request: HttpRequest) -> HttpResponse:
        if request.method == "GET":
            return handshake(request, kind=kind, token_setting=token_setting)
        return handle_webhook(request, source=source, channel=channel, verify=verify)

    webhook.__name__ = webhook.__qualname__ = f"{source}_webhook"
    return webhook


urlpatterns = [
    path(
        "whatsapp/",
        meta_webhook(
            source=whatsapp.SOURCE,
            channel=whatsapp.CHANNEL,
            kind=accounts.Kind.WHATSAPP,
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
            kind=accounts.Kind.META,
            token_setting="META_VERIFY_TOKEN",
            secret_setting="META_APP_SECRET",
        ),
        name="meta",
    ),
]
