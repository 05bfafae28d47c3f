"""The admin as an admin sees it: every page loads, in a bounded number of queries; history is read-only."""

import io
import json

import pytest
from django.contrib import admin
from django.urls import reverse

from channels_intake.models import InboundEvent
from channels_intake.services import accept
from tests.factories import AgentFactory, TicketFactory, UserFactory
from tickets.models import Customer, Team, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def data(front_office):
    AgentFactory(teams=[front_office])
    for _ in range(3):
        TicketFactory()
    accept(
        source="cli",
        channel="sms",
        payload=json.dumps({"channel": "sms", "sender": "+447700900500", "text": "Hi"}),
    )


def model_admins():
    return [m for m in admin.site._registry if m._meta.app_label in ("tickets", "channels_intake")]


@pytest.mark.parametrize("model", model_admins(), ids=lambda m: m._meta.label)
def test_every_changelist_and_change_page_loads(admin_client, data, model, django_assert_max_num_queries):
    opts = model._meta
    with django_assert_max_num_queries(20):
        response = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert response.status_code == 200
    obj = model.objects.first()
    if obj is not None:
        with django_assert_max_num_queries(40):
            response = admin_client.get(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            )
        assert response.status_code == 200


def test_ticket_status_and_owner_cannot_be_edited(admin_client, data):
    ticket = Ticket.objects.first()
    response = admin_client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk]))
    form = response.context["adminform"].form
    assert "status" not in form.fields and "assignee" not in form.fields and "team" not in form.fields


def test_ticket_search_by_number(admin_client, data):
    ticket = Ticket.objects.first()
    response = admin_client.get(reverse("admin:tickets_ticket_changelist"), {"q": ticket.number})
    assert list(response.context["cl"].result_list) == [ticket]


def test_replay_action(admin_client):
    Team.objects.all().delete()
    event = accept(
        source="cli",
        channel="sms",
        payload=json.dumps({"channel": "sms", "sender": "+447700900501", "text": "x"}),
    )
    assert event.status == "failed"
    Team.objects.create(name="Front office", slug="front-office")
    response = admin_client.post(
        reverse("admin:channels_intake_inboundevent_changelist"),
        {"action": "replay", "_selected_action": [event.pk]},
        follow=True,
    )
    assert response.status_code == 200
    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PROCESSED


def upload(client, text: str):
    f = io.BytesIO(text.encode())
    f.name = "customers.csv"
    return client.post(reverse("admin:tickets_customer_import"), {"file": f}, follow=True)


def test_import_page_imports_and_refuses_bad_files(admin_client):
    good = "unique_id,name,tier,email,phone,whatsapp,references\nK1,Kim,premium,kim@example.com,+447700900600,,ORD-5\n"
    response = upload(admin_client, good)
    assert response.status_code == 200 and Customer.objects.filter(unique_id="K1", tier="premium").exists()
    bad = "unique_id,name,tier,email,phone,whatsapp,references\nK2,Kai,gold,,,,\n"
    response = upload(admin_client, bad)
    assert b"row 2: tier" in response.content and not Customer.objects.filter(unique_id="K2").exists()


def test_import_page_needs_the_add_permission(client):
    client.force_login(UserFactory(username="viewer", is_staff=True))
    assert client.get(reverse("admin:tickets_customer_import")).status_code == 403
