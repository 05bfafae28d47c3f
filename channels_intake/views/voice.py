"""Phone calls (``channels_intake.adapters.voice``).

``/intake/voice/twilio/``: Twilio Voice status callbacks, signed with ``X-Twilio-Signature`` and checked
with ``TWILIO_AUTH_TOKEN`` (or a Twilio channel account's) exactly as the SMS webhook is; answered with empty TwiML.

``/intake/voice/events/``: one JSON call event per finished call from any CTI/PBX, with
``Authorization: Bearer <INTAKE_TOKEN>`` (or the token of an active *CTI* channel account); neither set refuses
every request::

    curl -sf -H "Authorization: Bearer $INTAKE_TOKEN" -H "Content-Type: application/json" \\
        --data '{"call_id": "pbx-42", "direction": "inbound", "from": "+447700900111", ...}' \\
        https://helpdesk.example.com/intake/voice/events/
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from channels_intake.adapters.voice import CTI_SOURCE, TWILIO_SOURCE
from channels_intake.models import ChannelAccount
from channels_intake.views.twilio import twiml, verify_twilio
from channels_intake.webhooks import handle_webhook, verify_bearer


def verify_cti_token(request: HttpRequest) -> None:
    verify_bearer(request, kind=ChannelAccount.Kind.CTI)


@csrf_exempt
@require_POST
def twilio_voice(request: HttpRequest) -> HttpResponse:
    return twiml(handle_webhook(request, source=TWILIO_SOURCE, channel="voice", verify=verify_twilio))


@csrf_exempt
@require_POST
def call_events(request: HttpRequest) -> HttpResponse:
    return handle_webhook(request, source=CTI_SOURCE, channel="voice", verify=verify_cti_token)


urlpatterns = [
    path("voice/twilio/", twilio_voice, name="twilio_voice"),
    path("voice/events/", call_events, name="voice_events"),
]
