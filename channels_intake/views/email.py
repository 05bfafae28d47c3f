"""The raw e-mail pipe: an MTA (Postfix pipe, procmail, fetchmail…) POSTs each message as it arrived.

    curl -sf -H "Authorization: Bearer $INTAKE_TOKEN" -H "Content-Type: message/rfc822" \\
        --data-binary @- https://helpdesk.example.com/intake/email/raw/

The body is the message's bytes exactly (any content type is accepted; ``message/rfc822`` is expected).
The token is ``INTAKE_TOKEN`` or that of an active *e-mail pipe* channel account (admin); neither set refuses
every request. The adapter is ``channels_intake.adapters.email``.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from channels_intake.models import ChannelAccount
from channels_intake.webhooks import handle_webhook, verify_bearer


def verify_intake_token(request: HttpRequest) -> None:
    verify_bearer(request, kind=ChannelAccount.Kind.EMAIL_PIPE)


@csrf_exempt
@require_POST
def raw_email(request: HttpRequest) -> HttpResponse:
    return handle_webhook(request, source="email_raw", channel="email", verify=verify_intake_token)


urlpatterns = [path("email/raw/", raw_email, name="email_raw")]
