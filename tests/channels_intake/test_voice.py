"""Phone calls: Twilio Voice status callbacks (signed for real with the twilio package; parameters as in
Twilio's voice webhook docs, https://www.twilio.com/docs/usage/webhooks/voice-webhooks) and the CTI/PBX
JSON call-event webhook."""

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from channels_intake.models import InboundEvent
from tests.factories import CustomerFactory
from tickets.intake import InboundMessage, receive
from tickets.models import Case, Customer, CustomerIdentity, Interaction, Message, Ticket

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "voice"
TWILIO_URL = "http://testserver/intake/voice/twilio/"
CTI_URL = "/intake/voice/events/"
TWILIO_TOKEN = "12345abcdef"
INTAKE_TOKEN = "s3cret-intake-token"
CALLER = "+447700900111"

# ringing, in-progress, completed: one inbound call as Twilio reports it.
RINGING, ANSWERED, COMPLETED = json.loads((FIXTURES / "twilio_inbound_call.json").read_text())
CALL_SID = COMPLETED["CallSid"]
CTI_EVENT = json.loads((FIXTURES / "cti_event.json").read_text())


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.INTAKE_TOKEN = INTAKE_TOKEN


def twilio(client, params, signature=None):
    """As Twilio sends it: form-encoded, signed over the URL and the parameters."""
    if signature is None:
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(TWILIO_URL, params)
    return client.post(
        TWILIO_URL,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )


def cti(client, body, token=INTAKE_TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(CTI_URL, data=data, content_type="application/json", headers=headers)


def calls():
    return Message.objects.filter(channel="voice", direction=Message.Direction.INBOUND)


# Twilio ---------------------------------------------------------------------------------------------------


def test_a_calls_status_sequence_records_one_call_when_it_ends(client):
    for params in (RINGING, ANSWERED):
        response = twilio(client, params)
        assert response.status_code == 200 and response["Content-Type"] == "text/xml"
    # Ringing and answered are kept in the event log, and nothing else exists yet.
    assert not Interaction.objects.exists() and not Ticket.objects.exists()
    ignored = InboundEvent.objects.filter(source="twilio_voice").order_by("id")
    assert [e.status for e in ignored] == ["processed", "processed"]
    assert "ringing" in ignored[0].result["messages"][0]["ignored"]

    assert twilio(client, COMPLETED).status_code == 200

    call = calls().get()
    assert call.provider_message_id == CALL_SID and call.sender == CALLER
    assert call.body.splitlines() == [
        f"Inbound call from {CALLER} to +442071838750, 6 min 30 s, completed.",
        f"Recording (6 min 25 s): {COMPLETED['RecordingUrl']}",
    ]
    # The call started 390 s before the final callback's Timestamp.
    assert call.sent_at == datetime(2026, 3, 3, 9, 0, 9, tzinfo=UTC)
    facts = call.meta["call"]
    assert (facts["direction"], facts["status"], facts["duration_seconds"]) == ("inbound", "completed", 390)
    assert call.meta["call"]["recording_sid"] == COMPLETED["RecordingSid"]
    interaction = Interaction.objects.get()
    assert interaction.channel == "voice" and interaction.identity.address == CALLER
    assert interaction.case.ticket.channel == "voice" and interaction.case.link_rule == "new_ticket"
    # No acknowledgement is sent over a phone call.
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_bad_or_missing_signature_is_refused_and_nothing_stored(client, settings):
    assert twilio(client, COMPLETED, signature="forged").status_code == 403
    # Signed over other parameters: a changed From is a forgery too.
    good = RequestValidator(TWILIO_TOKEN).compute_signature(TWILIO_URL, COMPLETED)
    assert twilio(client, {**COMPLETED, "From": "+447700900666"}, signature=good).status_code == 403
    unsigned = client.post(TWILIO_URL, urlencode(COMPLETED), content_type="application/x-www-form-urlencoded")
    assert unsigned.status_code == 403
    settings.TWILIO_AUTH_TOKEN = ""
    assert twilio(client, COMPLETED).status_code == 403
    assert not InboundEvent.objects.exists() and not Message.objects.exists()


def test_redelivered_final_callback_is_one_call(client):
    for _ in range(5):
        assert twilio(client, COMPLETED).status_code == 200
    assert calls().count() == 1 and Interaction.objects.count() == 1
    statuses = list(InboundEvent.objects.order_by("id").values_list("status", flat=True))
    assert statuses == ["processed"] + ["duplicate"] * 4


def test_two_calls_from_one_number_are_two_interactions_of_one_ticket(client):
    twilio(client, COMPLETED)
    second = {**COMPLETED, "CallSid": "CA0000000000000000000000000000beef", "CallDuration": "75"}
    del second["RecordingUrl"], second["RecordingSid"], second["RecordingDuration"]
    assert twilio(client, second).status_code == 200

    first_call, second_call = calls().order_by("id")
    assert first_call.interaction_id != second_call.interaction_id
    assert Interaction.objects.count() == 2 and Case.objects.count() == 2
    # Naming no reference, the second call joins the customer's only recent open ticket (rule 3).
    ticket = Ticket.objects.get()
    assert second_call.interaction.case.ticket == ticket
    assert second_call.interaction.case.link_rule == "recent_ticket"
    assert second_call.body == f"Inbound call from {CALLER} to +442071838750, 1 min 15 s, completed."


def test_a_missed_call_is_recorded_so_the_team_calls_back(client):
    for status in ("ringing", "no-answer"):
        params = {**RINGING, "CallSid": "CAmissed", "CallStatus": status, "CallDuration": "0"}
        assert twilio(client, params).status_code == 200
    call = calls().get()
    assert call.body == (
        f"Missed inbound call from {CALLER} to +442071838750: not answered. Please call the customer back."
    )
    assert call.meta["call"]["status"] == "no-answer" and call.meta["call"]["duration_seconds"] == 0
    assert call.interaction.case.ticket.subject.startswith("Missed inbound call from")


def test_an_outbound_call_belongs_to_the_number_called(client):
    params = {
        **COMPLETED,
        "CallSid": "CAoutbound0001",
        "Direction": "outbound-api",
        "From": "+442071838750",
        "To": "+447700900222",
        "CallDuration": "61",
    }
    del params["RecordingUrl"]
    assert twilio(client, params).status_code == 200
    call = calls().get()
    assert call.sender == "+447700900222"
    assert call.interaction.identity.address == "+447700900222"
    assert call.body == "Outbound call to +447700900222 from +442071838750, 1 min 01 s, completed."
    assert call.meta["call"]["direction"] == "outbound"
    assert not CustomerIdentity.objects.filter(address="+442071838750").exists()


def test_child_legs_recording_callbacks_and_withheld_numbers_are_kept_but_ignored(client):
    leg = {**COMPLETED, "CallSid": "CAleg", "ParentCallSid": CALL_SID, "Direction": "outbound-dial"}
    recording = {
        "AccountSid": COMPLETED["AccountSid"],
        "CallSid": CALL_SID,
        "RecordingSid": COMPLETED["RecordingSid"],
        "RecordingUrl": COMPLETED["RecordingUrl"],
        "RecordingStatus": "completed",
        "RecordingDuration": "385",
    }
    withheld = {**COMPLETED, "CallSid": "CAanon", "From": "anonymous"}
    for params in (leg, recording, withheld):
        assert twilio(client, params).status_code == 200
    assert not Message.objects.exists() and not Customer.objects.exists()
    reasons = [e.result["messages"][0]["ignored"] for e in InboundEvent.objects.order_by("id")]
    assert "leg of call" in reasons[0] and "recording" in reasons[1] and "withheld" in reasons[2]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"CallStatus": "completed", "From": CALLER}, "no CallSid"),
        ({**COMPLETED, "CallStatus": "exploded"}, "unknown CallStatus 'exploded'"),
        ({**COMPLETED, "CallDuration": "six"}, "CallDuration must be a whole number"),
        ({**COMPLETED, "RecordingUrl": "javascript:alert(1)"}, "RecordingUrl must be an http(s) URL"),
        ({k: v for k, v in COMPLETED.items() if k != "From"}, "no From"),
        ({**COMPLETED, "From": "client:alice"}, "From: 'client:alice' is not a phone number"),
    ],
)
def test_an_unreadable_callback_is_400_with_the_reason_and_kept(client, params, reason):
    response = twilio(client, params)
    assert response.status_code == 400 and reason in response.json()["error"]
    assert InboundEvent.objects.get().status == "failed" and not Message.objects.exists()


# CTI / PBX ------------------------------------------------------------------------------------------------


def test_a_call_event_naming_customer_and_reference_joins_that_ticket(client):
    CustomerFactory(unique_id="ABC")
    first = receive(
        InboundMessage(
            channel="email", sender="alex@abc.example", customer_unique_id="ABC", text="Internet down, ORD-1"
        )
    )
    other = receive(
        InboundMessage(
            channel="whatsapp", sender="447700900999", customer_unique_id="ABC", text="Billing wrong on ORD-2"
        )
    )
    assert first.ticket != other.ticket

    response = cti(client, CTI_EVENT)

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "processed"
    call = calls().get()
    case = call.interaction.case
    assert case.ticket.number == first.ticket and case.link_rule == "reference"
    assert call.interaction.customer.unique_id == "ABC"
    # The caller's number is now one of ABC's identities.
    assert CustomerIdentity.objects.get(address="+447700900100").customer.unique_id == "ABC"
    assert call.body.splitlines() == [
        "Inbound call from +447700900100 to +442071838750, 6 min 30 s, completed.",
        f"Notes: {CTI_EVENT['notes']}",
        f"Recording: {CTI_EVENT['recording_url']}",
    ]
    assert call.sent_at == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    assert call.meta["call"]["provider"] == "cti" and call.meta["call"]["duration_seconds"] == 390


def test_a_redelivered_call_event_is_a_no_op(client):
    for _ in range(3):
        assert cti(client, CTI_EVENT).status_code == 200
    assert calls().count() == 1 and Ticket.objects.count() == 1
    assert InboundEvent.objects.filter(status="duplicate").count() == 2


def test_an_outbound_call_event_is_attributed_to_the_number_called(client):
    event = {
        "call_id": "pbx-out-7",
        "direction": "outbound",
        "from": "+442071838750",
        "to": "07700 900333",
        "started_at": "2026-03-03T10:00:00+01:00",
        "ended_at": "2026-03-03T10:02:05+01:00",
        "notes": "Called back about the router.",
    }
    assert cti(client, event).status_code == 200
    call = calls().get()
    assert call.sender == "+447700900333"
    assert call.interaction.identity.address == "+447700900333"
    assert (
        call.body.splitlines()[0]
        == "Outbound call to 07700 900333 from +442071838750, 2 min 05 s, completed."
    )
    assert not CustomerIdentity.objects.filter(address="+442071838750").exists()


def test_a_missed_call_event(client):
    event = {**CTI_EVENT, "call_id": "pbx-missed", "status": "missed", "notes": "", "recording_url": ""}
    del event["ended_at"]
    assert cti(client, event).status_code == 200
    assert calls().get().body == (
        "Missed inbound call from +447700900100 to +442071838750: not answered. Please call the customer back."
    )


def test_a_wrong_or_missing_token_is_refused_and_nothing_stored(client, settings):
    assert cti(client, CTI_EVENT, token="guess").status_code == 403
    assert cti(client, CTI_EVENT, token=None).status_code == 403
    response = client.post(
        CTI_URL,
        json.dumps(CTI_EVENT),
        content_type="application/json",
        headers={"Authorization": INTAKE_TOKEN},
    )
    assert response.status_code == 403  # the token without "Bearer"
    settings.INTAKE_TOKEN = ""
    response = cti(client, CTI_EVENT, token="")
    assert response.status_code == 403 and "INTAKE_TOKEN is not set" in response.json()["error"]
    assert not InboundEvent.objects.exists() and not Message.objects.exists()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"call_id": "x", ', "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ("[1, 2]", "one JSON object"),
        ({k: v for k, v in CTI_EVENT.items() if k != "call_id"}, "call_id is required"),
        ({**CTI_EVENT, "direction": "sideways"}, "direction must be inbound or outbound"),
        ({**CTI_EVENT, "from": ""}, "from is required"),
        ({**CTI_EVENT, "direction": "outbound", "to": None}, "to is required"),
        ({**CTI_EVENT, "from": "12"}, "from: '12' is not a possible phone number"),
        ({**CTI_EVENT, "started_at": "yesterday"}, "started_at must be an ISO 8601"),
        ({**CTI_EVENT, "ended_at": "2026-03-03T08:00:00Z"}, "ended_at is before started_at"),
        ({**CTI_EVENT, "notes": ["a"]}, "notes must be a string"),
        ({**CTI_EVENT, "status": "lost"}, "status must be one of"),
        ({**CTI_EVENT, "recording_url": "javascript:alert(1)"}, "recording_url must be an http(s) URL"),
    ],
)
def test_an_unreadable_call_event_is_400_with_the_reason_and_kept(client, body, reason):
    response = cti(client, body)
    assert response.status_code == 400 and reason in response.json()["error"]
    event = InboundEvent.objects.get()
    assert event.status == "failed" and event.source == "cti_voice"
    assert not Message.objects.exists() and not Ticket.objects.exists()


def test_a_voice_call_and_an_sms_from_one_number_are_one_customer(client):
    """A call then an SMS naming the same order: one customer, one ticket, two interactions."""
    cti(client, {**CTI_EVENT, "customer_id": "", "from": CALLER, "call_id": "pbx-9"})
    receive(
        InboundMessage(
            channel="sms", sender=CALLER, text="Still down, order ORD-1", provider_message_id="SM9"
        )
    )
    assert Customer.objects.count() == 1 and Ticket.objects.count() == 1
    assert Interaction.objects.count() == 2
