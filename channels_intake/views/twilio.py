"""Twilio webhooks (``/intake/sms/twilio/``): signed with ``X-Twilio-Signature`` over the URL Twilio called
and the POST parameters, checked with the twilio package's validator and ``TWILIO_AUTH_TOKEN``."""

from django.conf import settings
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from channels_intake.webhooks import Unauthentic, handle_webhook

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def verify_twilio(request) -> None:
    token = getattr(settings, "TWILIO_AUTH_TOKEN", "")
    if not token:
        raise Unauthentic("TWILIO_AUTH_TOKEN is not set: Twilio webhooks are refused until it is")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        raise Unauthentic("missing X-Twilio-Signature")
    # The URL must be the one Twilio called (behind a proxy: SECURE_PROXY_SSL_HEADER / USE_X_FORWARDED_HOST).
    if not RequestValidator(token).validate(request.build_absolute_uri(), request.POST.dict(), signature):
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
