"""A call an agent placed to the customer (CTI ``direction: outbound``, Twilio ``Direction: outbound-api`` /
``outbound-dial``, or logged by hand as outbound) is recorded as its own voice interaction on the ticket the
usual rules find, but it is not the customer coming back: no pending → open, no reopen, no customer-message
rules, no follow-up for the escalation rules. The same call inbound does all of that."""

import json
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from tickets.intake import InboundMessage, receive
from tickets.lifecycle import Status
from tickets.models import Case, EscalationRule, Message, Rule, Ticket, TicketEvent
from tickets.services import escalation
from tickets.services import transitions as tr

pytestmark = pytest.mark.django_db

CUSTOMER, DESK = "+447700900333", "+442071838750"
INTAKE_TOKEN, TWILIO_TOKEN = "s3cret-intake-token", "12345abcdef"
TWILIO_URL = "http://testserver/intake/voice/twilio/"


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.INTAKE_TOKEN = INTAKE_TOKEN
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN


def cti(client, direction: str, call_id: str, **extra):
    customer, other = ("from", "to") if direction == "inbound" else ("to", "from")
    event = {
        "call_id": call_id,
        "direction": direction,
        customer: CUSTOMER,
        other: DESK,
        "started_at": "2026-03-03T10:00:00Z",
        "ended_at": "2026-03-03T10:02:05Z",
        "reference": "ORD-77",
        **extra,
    }
    response = client.post(
        "/intake/voice/events/",
        data=json.dumps(event),
        content_type="application/json",
        headers={"Authorization": f"Bearer {INTAKE_TOKEN}"},
    )
    assert response.status_code == 200, response.content
    return Message.objects.get(channel="voice", provider_message_id=call_id)


def twilio(client, direction: str, sid: str):
    caller, called = (CUSTOMER, DESK) if direction == "inbound" else (DESK, CUSTOMER)
    params = {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": caller,
        "To": called,
        "CallStatus": "completed",
        "CallDuration": "95",
        "Direction": direction,
        "Timestamp": "Tue, 03 Mar 2026 10:05:00 +0000",
    }
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(TWILIO_URL, params)
    response = client.post(
        TWILIO_URL,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )
    assert response.status_code == 200, response.content
    return Message.objects.get(channel="voice", provider_message_id=sid)


@pytest.fixture
def pending(agent) -> Ticket:
    """The customer's SMS about ORD-77, answered and set pending: waiting on the customer."""
    result = receive(InboundMessage(channel="sms", sender=CUSTOMER, text="Where is ORD-77?"))
    ticket = Ticket.objects.get(cases__interaction_id=result.interaction)
    tr.assign(ticket=ticket, actor=None, agent=agent)
    tr.open_ticket(ticket=ticket, actor=agent.user)
    return tr.pend(ticket=ticket, actor=agent.user, reason="waiting on the customer")


def state(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def test_an_outbound_cti_call_is_recorded_on_the_pending_ticket_and_leaves_it_pending(client, pending):
    before = state(pending)
    sent = Message.objects.filter(direction="out").count()  # the SMS's acknowledgement
    call = cti(client, "outbound", "pbx-out-1", notes="Told her the parcel left today.")
    case = Case.objects.get(interaction=call.interaction)
    assert case.ticket_id == pending.pk and case.link_rule == "reference"
    assert call.interaction.channel == "voice" and call.meta["call"]["direction"] == "outbound"
    after = state(pending)
    assert after.status == Status.PENDING
    assert after.last_customer_message_at == before.last_customer_message_at
    assert not TicketEvent.objects.filter(ticket=pending, kind__in=["customer_reply", "reopen"]).exists()
    assert Message.objects.filter(direction="out").count() == sent  # nothing sent to the customer


def test_an_inbound_cti_call_on_the_pending_ticket_opens_it(client, pending):
    call = cti(client, "inbound", "pbx-in-1")
    assert Case.objects.get(interaction=call.interaction).ticket_id == pending.pk
    assert state(pending).status == Status.OPEN


@pytest.mark.parametrize("direction", ["outbound-api", "outbound-dial"])
def test_an_outbound_twilio_call_leaves_the_pending_ticket_pending(client, pending, direction):
    call = twilio(client, direction, f"CA{direction}")
    assert call.interaction.case.ticket_id == pending.pk
    assert call.body.startswith(f"Outbound call to {CUSTOMER}")
    assert state(pending).status == Status.PENDING


def test_an_inbound_twilio_call_opens_the_pending_ticket(client, pending):
    call = twilio(client, "inbound", "CAinbound")
    assert call.interaction.case.ticket_id == pending.pk
    assert state(pending).status == Status.OPEN


def test_an_outbound_call_does_not_reopen_a_resolved_ticket_but_an_inbound_one_does(client, pending, agent):
    tr.resolve(ticket=state(pending), actor=agent.user, resolution_type="fixed", notes="Parcel delivered")
    cti(client, "outbound", "pbx-out-2")
    assert state(pending).status == Status.RESOLVED
    assert not TicketEvent.objects.filter(ticket=pending, kind="reopen").exists()
    cti(client, "inbound", "pbx-in-2")
    assert state(pending).status == Status.ASSIGNED  # reopened, back with its agent
    assert TicketEvent.objects.filter(ticket=pending, kind="reopen").count() == 1


def test_an_outbound_call_is_no_follow_up_for_the_escalation_rules(client, pending, back_office):
    EscalationRule.objects.all().delete()
    EscalationRule.objects.create(
        name="Followed up twice",
        trigger=EscalationRule.Trigger.FOLLOW_UPS,
        follow_ups=1,
        action=EscalationRule.Action.MOVE_TO_TEAM,
        escalation_team=back_office,
    )
    cti(client, "outbound", "pbx-out-3")
    cti(client, "outbound", "pbx-out-4")
    assert escalation.scan()["fired"] == 0
    cti(client, "inbound", "pbx-in-3")
    assert escalation.scan()["fired"] == 1
    moved = TicketEvent.objects.get(ticket=pending, kind="escalate")
    assert "followed up 1 times" in moved.reason


def test_an_outbound_call_does_not_run_the_customer_message_rules(client, pending):
    Rule.objects.create(
        name="Outage: P1",
        on_customer_message=True,
        keywords="outage",
        action=Rule.Action.RAISE_PRIORITY,
        new_priority=1,
    )
    cti(client, "outbound", "pbx-out-5", notes="Customer reports an outage")
    assert state(pending).priority != 1
    cti(client, "inbound", "pbx-in-5", notes="Customer reports an outage")
    assert state(pending).priority == 1
