"""The raw e-mail pipe: an MTA (Postfix pipe, procmail, fetchmail…) POSTs each message as it arrived.

    curl -sf -H "Authorization: Bearer $INTAKE_TOKEN" -H "Content-Type: message/rfc822" \\
        --data-binary @- https://helpdesk.example.com/intake/email/raw/

The body is the message's bytes exactly (any content type is accepted; ``message/rfc822`` is expected).
``INTAKE_TOKEN`` unset refuses every request. The adapter is ``channels_intake.adapters.email``.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from channels_intake.webhooks import Unauthentic, bearer_token, constant_time_equal, handle_webhook


def verify_intake_token(request: HttpRequest) -> None:
    expected = getattr(settings, "INTAKE_TOKEN", "")
    if not expected:
        raise Unauthentic("INTAKE_TOKEN is not set: the raw e-mail intake refuses every request")
    if not constant_time_equal(bearer_token(request), expected):
        raise Unauthentic("missing or wrong bearer token")


@csrf_exempt
@require_POST
def raw_email(request: HttpRequest) -> HttpResponse:
    return handle_webhook(request, source="email_raw", channel="email", verify=verify_intake_token)


urlpatterns = [path("email/raw/", raw_email, name="email_raw")]
