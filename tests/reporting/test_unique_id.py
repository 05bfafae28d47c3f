"""The per-unique-ID report of DOMAIN.md's worked example, row by row: the story comes in through the
providers' webhooks (as ``tests/channels_intake/test_seed_story.py`` drives it), then the supervisor reads
the report as a page and as CSV."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.channels_intake import test_seed_story as story
from tickets.models import Customer, Interaction, Ticket
from tickets.models.audit import AuditEntry
from tickets.services import transitions
from tickets.services.imports import import_customers

pytestmark = pytest.mark.django_db

HEADER = [
    "interaction",
    "channel",
    "case",
    "ticket",
    "interactions_in_ticket",
    "contacts_per_unique_id",
    "issues",
]


@pytest.fixture
def worked_example(client, settings, agent):
    settings.INTAKE_TOKEN = story.INTAKE_TOKEN
    settings.WHATSAPP_APP_SECRET = story.WHATSAPP_SECRET
    settings.TWILIO_AUTH_TOKEN = story.TWILIO_TOKEN
    assert not import_customers(file=io.StringIO(story.CRM)).errors
    now = timezone.now().replace(microsecond=0)
    assert story.call(client, now - timedelta(minutes=60)).status_code == 200  # A: voice, T1
    assert story.whatsapp(client, now - timedelta(minutes=45)).status_code == 200  # B: WhatsApp, T1
    assert story.email(client, now - timedelta(minutes=30)).status_code == 200  # C: e-mail, T1
    assert story.sms(client).status_code == 200  # D: SMS about ORD-2, T2
    abc = Customer.objects.get(unique_id="ABC")
    t1 = abc.tickets.get(reference__value="ORD-1")
    t1 = transitions.assign(ticket=t1, actor=None, agent=agent)
    transitions.open_ticket(ticket=t1, actor=agent.user)
    transitions.close(
        ticket=Ticket.objects.get(pk=t1.pk),
        actor=agent.user,
        resolution_type="fixed",
        notes="Router replaced.",
    )
    t2 = abc.tickets.get(reference__value="ORD-2")
    cases = list(
        Interaction.objects.filter(customer=abc).order_by("started_at", "id").values_list("case", flat=True)
    )
    return t1, t2, cases


def expected(t1, t2, cases):
    # DOMAIN.md, "The worked example", step 6 — with each interaction's channel.
    return [
        ["first", "voice", str(cases[0]), t1.number, "1", "1", "1"],
        ["follow-up", "whatsapp", str(cases[1]), t1.number, "2", "2", "1"],
        ["follow-up", "email", str(cases[2]), t1.number, "3", "3", "1"],
        ["first", "sms", str(cases[3]), t2.number, "1", "4", "2"],
    ]


def test_the_csv_is_domain_tables_row_by_row(client, supervisor, worked_example):
    client.force_login(supervisor.user)
    response = client.get("/reports/unique-id/ABC.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [HEADER, *expected(*worked_example)]


def test_the_page_shows_the_same_rows_as_the_csv(client, supervisor, worked_example):
    client.force_login(supervisor.user)
    page = client.get("/reports/unique-id/ABC/").content.decode()
    table = page[page.index('<table class="data unique-id-table">') : page.index("</table>")]
    header = re.findall(r'<th scope="col">(.*?)</th>', table)
    body = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table)[1:]]
    assert header == HEADER
    assert body == expected(*worked_example)
    csv_rows = list(
        csv.reader(io.StringIO(b"".join(client.get("/reports/unique-id/ABC.csv").streaming_content).decode()))
    )
    assert [header, *body] == csv_rows


def test_search_form_and_unknown_customer(client, supervisor, worked_example):
    client.force_login(supervisor.user)
    response = client.get("/reports/unique-id/?unique_id=ABC")
    assert response.status_code == 302 and response["Location"] == "/reports/unique-id/ABC/"
    assert client.get("/reports/unique-id/NOPE/").status_code == 404
    assert client.get("/reports/unique-id/NOPE.csv").status_code == 404


def test_agents_may_not_read_it(client, agent, worked_example):
    client.force_login(agent.user)
    assert client.get("/reports/unique-id/ABC/").status_code == 403
    assert client.get("/reports/unique-id/ABC.csv").status_code == 403


def test_reading_a_customers_report_is_audited(client, supervisor, worked_example):
    client.force_login(supervisor.user)
    abc = Customer.objects.get(unique_id="ABC")
    before = set(AuditEntry.objects.filter(customer_id=abc.pk).values_list("pk", flat=True))
    client.get("/reports/unique-id/ABC/")
    b"".join(client.get("/reports/unique-id/ABC.csv").streaming_content)
    new = AuditEntry.objects.filter(customer_id=abc.pk).exclude(pk__in=before).order_by("pk")
    assert [(e.action, e.actor_id, e.details) for e in new] == [
        ("view", supervisor.user.pk, {"report": "unique_id"}),
        ("export", supervisor.user.pk, {"report": "unique_id_csv"}),
    ]
