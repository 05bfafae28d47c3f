"""CSRF: every POST to every URL (from the resolver) without a CSRF token is refused (403) and changes nothing —
for an admin, who could otherwise do anything, and for a visitor on the public pages. Only the webhooks are
exempt: providers cannot hold our CSRF cookie, so they are authenticated by their signatures instead.

Forged and replayed webhook signatures, per channel (the channel's own test module does it with the provider's
real signing):

| webhook | forged / missing / unset secret → 403, nothing stored | the same signed request again → no-op |
| --- | --- | --- |
| ``/intake/email/raw/`` | ``test_email.py::test_a_wrong_or_missing_token_is_refused_and_nothing_stored``, ``…without_an_intake_token_setting…`` | ``test_email.py::test_the_same_message_five_times_is_one_message`` |
| ``/intake/whatsapp/`` | ``test_whatsapp.py::test_a_bad_or_missing_signature_is_refused_and_nothing_stored``, ``…while_the_app_secret_is_unset`` | ``test_whatsapp.py::test_the_same_wamid_five_times_is_one_message`` |
| ``/intake/meta/`` | ``test_meta.py::test_a_bad_or_missing_signature_is_refused_and_nothing_stored`` | ``test_meta.py::test_the_same_mid_five_times_is_one_message`` |
| ``/intake/sms/twilio/`` | ``test_sms.py::test_bad_or_missing_signature_is_refused_and_nothing_stored`` | ``test_sms.py::test_redelivery_is_one_message`` |
| ``/intake/voice/twilio/`` | ``test_voice.py::test_bad_or_missing_signature_is_refused_and_nothing_stored`` | ``test_voice.py::test_redelivered_final_callback_is_one_call`` |
| ``/intake/voice/events/`` | ``test_voice.py::test_a_wrong_or_missing_token_is_refused_and_nothing_stored`` | ``test_voice.py::test_a_redelivered_call_event_is_a_no_op`` |
| ``/anymail/<esp>/…`` | below, and ``test_access.py`` for every ESP's URL | ``test_email.py`` (the same parser and Message-ID) |

Below: the parts no channel module covers — a signature made with the wrong secret over the *exact* body
(the one forgery that is not simply a missing header), a valid signature over a body changed afterwards,
and django-anymail's webhooks while ``ANYMAIL_WEBHOOK_SECRET`` is unset (anymail itself would accept them).
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from channels_intake.models import InboundEvent
from tests.channels_intake.meta_signing import meta_signature
from tests.security.test_access import ROUTES, is_webhook, post_data, urls_for
from tickets.models import Message

# --- CSRF ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", [r for r in ROUTES if not is_webhook(r)], ids=str)
def test_a_post_without_a_csrf_token_is_refused(route, world):
    admin = Client(enforce_csrf_checks=True)
    admin.force_login(world.users["admin"])
    visitor = Client(enforce_csrf_checks=True)
    before = world.state()
    for client in (admin, visitor):
        for url in urls_for(route, world):
            response = client.post(url, post_data(world))
            assert response.status_code == 403, f"POST {url} without a CSRF token → {response.status_code}"
    assert world.state() == before


def test_with_the_token_the_same_post_goes_through(world):
    """The refusal above is the CSRF check, not something else: with the cookie's token, the note is added."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.owner.user)
    page = client.get(f"/tickets/{world.ticket.pk}/")
    token = (
        page.cookies["csrftoken"].value if "csrftoken" in page.cookies else client.cookies["csrftoken"].value
    )
    url = f"/tickets/{world.ticket.pk}/note/"
    assert client.post(url, {"body": "a note"}).status_code == 403
    assert client.post(url, {"body": "a note", "csrfmiddlewaretoken": token}).status_code == 302
    assert world.ticket.notes.filter(body="a note").exists()


# --- Forged signatures --------------------------------------------------------------------------------------

WA_SECRET = "wa-secret-for-forgery-tests"
META_SECRET = "meta-secret-for-forgery-tests"
TWILIO_TOKEN = "twilio-token-for-forgery-tests"


@pytest.fixture
def secrets(db, settings):
    settings.WHATSAPP_APP_SECRET = WA_SECRET
    settings.META_APP_SECRET = META_SECRET
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN


def whatsapp_body(text: str) -> bytes:
    message = {"from": "447700900111", "id": "wamid.forged1", "timestamp": "1772528400", "type": "text"}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "447700900999", "phone_number_id": "1"},
        "contacts": [{"profile": {"name": "Ada"}, "wa_id": "447700900111"}],
        "messages": [{**message, "text": {"body": text}}],
    }
    entry = {"id": "1", "changes": [{"value": value, "field": "messages"}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def messenger_body(text: str) -> bytes:
    event = {"sender": {"id": "2401"}, "recipient": {"id": "1061"}, "timestamp": 1772528400000}
    event["message"] = {"mid": "m_forged1", "text": text}
    return json.dumps({"object": "page", "entry": [{"id": "1061", "time": 1, "messaging": [event]}]}).encode()


@pytest.mark.parametrize(
    "url, body, secret",
    [
        ("/intake/whatsapp/", whatsapp_body, WA_SECRET),
        ("/intake/meta/", messenger_body, META_SECRET),
    ],
    ids=["whatsapp", "meta"],
)
def test_meta_signatures_made_with_another_secret_or_over_another_body_are_refused(
    client, secrets, url, body, secret
):
    original = body("Internet down")
    wrong_secret = meta_signature(original, "not-the-app-secret")
    other_body = body("Internet down. Also refund me 1000 pounds")
    for sent, signature in ((original, wrong_secret), (other_body, meta_signature(original, secret))):
        response = client.post(url, sent, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature)
        assert response.status_code == 403
    assert not InboundEvent.objects.exists() and not Message.objects.exists()
    # The genuine request goes through, twice as once (a replay is a no-op duplicate).
    for _ in range(2):
        response = client.post(
            url,
            original,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=meta_signature(original, secret),
        )
        assert response.status_code == 200
    assert (
        Message.objects.filter(direction=Message.Direction.INBOUND).count() == 1
    )  # (plus our acknowledgement)


@pytest.mark.parametrize("path", ["/intake/sms/twilio/", "/intake/voice/twilio/"])
def test_twilio_signatures_for_other_parameters_or_another_url_are_refused(client, secrets, path):
    params = {
        "MessageSid": "SMforged1",
        "CallSid": "CAforged1",
        "From": "+447700900111",
        "To": "+447700900999",
    }
    params |= {"Body": "hi", "CallStatus": "completed", "Direction": "inbound", "AccountSid": "AC1"}
    url = f"http://testserver{path}"
    validator = RequestValidator(TWILIO_TOKEN)
    forgeries = [
        ({**params, "From": "+447700900222"}, validator.compute_signature(url, params)),  # body changed
        (params, validator.compute_signature("http://testserver/other/", params)),  # signed for another URL
        (params, RequestValidator("another-token").compute_signature(url, params)),  # another account
    ]
    for sent, signature in forgeries:
        response = client.post(
            path,
            urlencode(sent),
            content_type="application/x-www-form-urlencoded",
            HTTP_X_TWILIO_SIGNATURE=signature,
        )
        assert response.status_code == 403
    assert not InboundEvent.objects.exists() and not Message.objects.exists()


@pytest.mark.parametrize("route", [r for r in ROUTES if r.route.startswith("anymail/")], ids=str)
def test_anymail_webhooks_refuse_everything_while_their_secret_is_unset(route, client, settings, world):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": ""}
    for url in urls_for(route, world):
        # Even with basic-auth credentials: there is nothing to check them against.
        response = client.post(url, {"x": "1"}, HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
        assert response.status_code == 403, url
    assert not InboundEvent.objects.exists()
