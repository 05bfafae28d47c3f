"""Twilio SMS webhooks, signed for real with the twilio package (parameters as in Twilio's Messaging docs:
https://www.twilio.com/docs/messaging/guides/webhook-request)."""

from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from channels_intake.models import InboundEvent
from tickets.intake import InboundMessage, receive
from tickets.models import Interaction, Message, Ticket

pytestmark = pytest.mark.django_db

TOKEN = "12345abcdef"
URL = "http://testserver/intake/sms/twilio/"
SAMPLE = {
    "ToCountry": "GB",
    "SmsMessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
    "NumMedia": "0",
    "SmsSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
    "SmsStatus": "received",
    "Body": "Internet down again, order ORD-4242",
    "To": "+447700900999",
    "NumSegments": "1",
    "MessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
    "AccountSid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "From": "+447700900111",
    "ApiVersion": "2010-04-01",
}


@pytest.fixture(autouse=True)
def token(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN


def post(client, params, signature=None):
    """As Twilio sends it: form-encoded, signed over the URL and the parameters."""
    signature = RequestValidator(TOKEN).compute_signature(URL, params) if signature is None else signature
    return client.post(
        URL,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )


def test_an_sms_becomes_interaction_case_and_ticket(client):
    response = post(client, SAMPLE)
    assert response.status_code == 200 and response["Content-Type"] == "text/xml"
    message = Message.objects.get(provider_message_id=SAMPLE["MessageSid"])
    assert message.channel == "sms" and message.sender == "+447700900111"
    ticket = message.interaction.case.ticket
    assert ticket.reference.value == "ORD-4242" and ticket.channel == "sms"


def test_bad_or_missing_signature_is_refused_and_nothing_stored(client, settings):
    assert post(client, SAMPLE, signature="forged").status_code == 403
    assert (
        client.post(URL, urlencode(SAMPLE), content_type="application/x-www-form-urlencoded").status_code
        == 403
    )
    settings.TWILIO_AUTH_TOKEN = ""
    assert post(client, SAMPLE).status_code == 403
    assert not InboundEvent.objects.exists() and not Message.objects.exists()


def test_redelivery_is_one_message(client):
    for _ in range(5):
        assert post(client, SAMPLE).status_code == 200
    assert Message.objects.filter(provider_message_id=SAMPLE["MessageSid"]).count() == 1


def test_follow_up_on_another_channel_with_the_same_order_joins_the_ticket(client):
    first = receive(
        InboundMessage(
            channel="email", sender="kim@example.com", customer_unique_id="KIM", text="ORD-4242 broken"
        )
    )
    # Kim's phone is known from the CRM: the SMS is Kim's.
    from tickets.models import Customer, CustomerIdentity

    CustomerIdentity.objects.create(
        customer=Customer.objects.get(unique_id="KIM"), channel="phone", address="+447700900111"
    )
    post(client, SAMPLE)
    sms = Message.objects.get(provider_message_id=SAMPLE["MessageSid"])
    assert sms.interaction.case.ticket.number == first.ticket


def test_status_callback_updates_our_message_and_creates_none(client):
    receive(InboundMessage(channel="sms", sender="+447700900111", text="hi"))
    ours = Message.objects.get(direction="out")  # the acknowledgement
    Message.objects.filter(pk=ours.pk).update(provider_message_id="SMout1", delivery_status="sent")
    params = {
        "MessageSid": "SMout1",
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
        "AccountSid": "AC1",
        "From": "+447700900999",
        "To": "+447700900111",
    }
    assert post(client, params).status_code == 200
    ours.refresh_from_db()
    assert ours.delivery_status == "failed" and "30003" in ours.error
    assert Message.objects.count() == 2


def test_unreadable_payload_is_400_with_the_reason(client):
    response = post(client, {"Body": "no sid"})
    assert response.status_code == 400 and "MessageSid" in response.json()["error"]
    assert InboundEvent.objects.get().status == "failed"


def test_too_large_is_413(client, settings):
    settings.HELPDESK = {**settings.HELPDESK, "MAX_WEBHOOK_BYTES": 100}
    assert post(client, {**SAMPLE, "Body": "x" * 500}).status_code == 413
    assert not Interaction.objects.exists() and not Ticket.objects.exists()
