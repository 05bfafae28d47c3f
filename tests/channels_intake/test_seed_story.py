"""DOMAIN.md's worked example driven entirely through the providers' webhooks, as they would send it.

The customer comes from the CRM import (unique ID ``ABC`` with phone, WhatsApp and e-mail, orders ORD-1 and
ORD-2); every contact after that arrives over HTTP, signed the way its provider signs: a call from the PBX
(JSON call event), a WhatsApp message (Meta, X-Hub-Signature-256), an e-mail (raw RFC 5322 from the MTA pipe)
and an SMS (Twilio, X-Twilio-Signature). Then T1 is closed and the per-unique-ID table reads as DOMAIN.md's.
"""

import io
import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from twilio.request_validator import RequestValidator

from tests.channels_intake.meta_signing import post_signed
from tickets.models import Customer, Interaction, Ticket
from tickets.selectors.customers import interaction_table
from tickets.services import transitions
from tickets.services.imports import import_customers

pytestmark = pytest.mark.django_db

INTAKE_TOKEN = "story-intake-token"
WHATSAPP_SECRET = "story-wa-secret"
TWILIO_TOKEN = "story-twilio-token"
PHONE = "+447700900100"
CRM = (
    "unique_id,name,tier,email,phone,whatsapp,references\n"
    f"ABC,Ana B. Cole,standard,ana@example.com,{PHONE},{PHONE},ORD-1;ORD-2\n"
)


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.INTAKE_TOKEN = INTAKE_TOKEN
    settings.WHATSAPP_APP_SECRET = WHATSAPP_SECRET
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN


def call(client, started):
    event = {
        "call_id": "pbx-story-1",
        "direction": "inbound",
        "from": PHONE,
        "to": "+442071838750",
        "started_at": started.isoformat(),
        "ended_at": (started + timedelta(minutes=6)).isoformat(),
        "customer_id": "ABC",
        "reference": "ORD-1",
        "notes": "Internet not working since this morning.",
    }
    return client.post(
        "/intake/voice/events/",
        json.dumps(event),
        content_type="application/json",
        headers={"Authorization": f"Bearer {INTAKE_TOKEN}"},
    )


def whatsapp(client, sent):
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550783881",
                                    "phone_number_id": "1065",
                                },
                                "contacts": [{"profile": {"name": "Ana"}, "wa_id": PHONE[1:]}],
                                "messages": [
                                    {
                                        "from": PHONE[1:],
                                        "id": "wamid.story-2",
                                        "timestamp": str(int(sent.timestamp())),
                                        "type": "text",
                                        "text": {"body": "Still no internet, order ORD-1"},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    return post_signed(client, "/intake/whatsapp/", body, WHATSAPP_SECRET)


def email(client, sent):
    raw = (
        "From: Ana Cole <ana@example.com>\r\n"
        "To: support@helpdesk.test\r\n"
        "Subject: ORD-1 internet down for two days\r\n"
        f"Date: {sent.strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\n"
        "Message-ID: <story-3@example.com>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Writing again about ORD-1: the router still blinks red.\r\n"
    ).encode()
    return client.post(
        "/intake/email/raw/",
        data=raw,
        content_type="message/rfc822",
        headers={"Authorization": f"Bearer {INTAKE_TOKEN}"},
    )


def sms(client):
    url = "http://testserver/intake/sms/twilio/"
    params = {
        "MessageSid": "SMstory4",
        "AccountSid": "AC" + "0" * 32,
        "From": PHONE,
        "To": "+447700900999",
        "Body": "Separate problem: I was billed twice for ORD-2",
        "NumMedia": "0",
    }
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    return client.post(
        url,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )


def test_the_worked_example_through_the_webhooks(client, agent):
    report = import_customers(file=io.StringIO(CRM))
    assert not report.errors, report.errors
    abc = Customer.objects.get(unique_id="ABC")
    now = timezone.now().replace(microsecond=0)

    # 1. ABC phones about ORD-1: interaction A (voice), case 1, ticket T1.
    assert call(client, now - timedelta(minutes=60)).status_code == 200
    (t1,) = abc.tickets.all()
    assert t1.reference.value == "ORD-1" and t1.channel == "voice"

    # 2. WhatsApp naming ORD-1: interaction B, case 2, linked to T1.
    assert whatsapp(client, now - timedelta(minutes=45)).status_code == 200
    # 3. E-mail about ORD-1: interaction C, case 3, linked to T1.
    assert email(client, now - timedelta(minutes=30)).status_code == 200
    assert abc.tickets.count() == 1
    assert list(
        Interaction.objects.filter(customer=abc).order_by("started_at").values_list("channel", "case__ticket")
    ) == [("voice", t1.pk), ("whatsapp", t1.pk), ("email", t1.pk)]

    # 4. A billing problem on ORD-2 by SMS: interaction D, case 4, a new ticket T2.
    assert sms(client).status_code == 200
    t2 = abc.tickets.exclude(pk=t1.pk).get()
    assert t2.reference.value == "ORD-2"

    # Every webhook again (providers redeliver): nothing new.
    for again in (
        call(client, now - timedelta(minutes=60)),
        whatsapp(client, now - timedelta(minutes=45)),
        email(client, now - timedelta(minutes=30)),
        sms(client),
    ):
        assert again.status_code == 200
    assert Interaction.objects.filter(customer=abc).count() == 4 and abc.tickets.count() == 2

    # 5. T1 is closed: A, B and C and their cases close; T2's stay open.
    t1 = transitions.assign(ticket=Ticket.objects.get(pk=t1.pk), actor=None, agent=agent)
    transitions.open_ticket(ticket=t1, actor=agent.user)
    transitions.close(
        ticket=Ticket.objects.get(pk=t1.pk),
        actor=agent.user,
        resolution_type="fixed",
        notes="Router replaced.",
        reason="",
    )
    closed = Interaction.objects.filter(customer=abc, case__ticket=t1)
    assert set(closed.values_list("status", flat=True)) == {"closed"}
    assert set(closed.values_list("case__status", flat=True)) == {"closed"}
    assert Interaction.objects.get(customer=abc, case__ticket=t2).status != "closed"

    # 6. The report for ABC reads as DOMAIN.md's table.
    rows = [
        (
            "first" if r.first else "follow-up",
            r.issue,
            r.case_id,
            r.ticket_id,
            r.interactions_in_ticket,
            r.contacts,
            r.issues,
        )
        for r in interaction_table(abc)
    ]
    cases = list(
        Interaction.objects.filter(customer=abc).order_by("started_at").values_list("case", flat=True)
    )
    assert rows == [
        ("first", "A", cases[0], t1.pk, 1, 1, 1),
        ("follow-up", "A", cases[1], t1.pk, 2, 2, 1),
        ("follow-up", "A", cases[2], t1.pk, 3, 3, 1),
        ("first", "B", cases[3], t2.pk, 1, 4, 2),
    ]
