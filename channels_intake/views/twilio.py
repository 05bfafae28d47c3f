"""Twilio webhooks (``/intake/sms/twilio/``): signed with ``X-Twilio-Signature`` over the URL Twilio called
and the POST parameters, checked with the twilio package's validator and the auth token of an active Twilio
channel account (the one whose Account SID or number the request names first) or ``TWILIO_AUTH_TOKEN``."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from channels_intake import accounts
from channels_intake.webhooks import Unauthentic, handle_webhook

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def verify_twilio(request) -> None:
    params = request.POST.dict()
    tokens = accounts.candidate_secrets(
        accounts.Kind.TWILIO,
        field="secret",
        setting="TWILIO_AUTH_TOKEN",
        named=(params.get("AccountSid", ""), params.get("To", "")),
    )
    if not tokens:
        raise Unauthentic(accounts.nothing_configured(accounts.Kind.TWILIO, "TWILIO_AUTH_TOKEN"))
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        raise Unauthentic("missing X-Twilio-Signature")
    # The URL must be the one Twilio called (behind a proxy: SECURE_PROXY_SSL_HEADER / USE_X_FORWARDED_HOST).
    url = request.build_absolute_uri()
    if not any(RequestValidator(token).validate(url, params, signature) for token in tokens):
        raise Unauthentic("bad X-Twilio-Signature")


def twiml(response):
    """Twilio expects TwiML back; an empty <Response/> means "nothing to say"."""
    if response.status_code == 200:
        return HttpResponse(EMPTY_TWIML, content_type="text/xml")
    return response


@csrf_exempt
@require_POST
def sms(request):
    return twiml(handle_webhook(request, source="twilio_sms", channel="sms", verify=verify_twilio))


urlpatterns = [path("sms/twilio/", sms, name="twilio_sms")]
