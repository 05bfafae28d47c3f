"""The admin as an admin sees it: every page loads in a bounded number of queries, list pages do not grow
with their rows, the lifecycle and history are read-only, replay and the CSV import work."""

import io
import json

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from channels_intake.models import InboundEvent
from channels_intake.services import accept
from tests.factories import AgentFactory, TeamFactory, UserFactory
from tickets.models import (
    Agent,
    BusinessCalendar,
    CannedResponse,
    Category,
    Customer,
    CustomerConflict,
    CustomerIdentity,
    ReferenceKind,
    RoutingRule,
    SlaPolicy,
    Tag,
    Team,
    Ticket,
    TicketEvent,
)
from tickets.services import transitions
from tickets.services.replies import add_note, reply

pytestmark = pytest.mark.django_db

OUR_APPS = ("tickets", "channels_intake")
CHANGELIST_MAX_QUERIES = 10
CHANGE_PAGE_MAX_QUERIES = 20


def intake(**fields) -> InboundEvent:
    return accept(source="cli", channel=fields["channel"], payload=json.dumps(fields))


def ticket_of(event: InboundEvent) -> Ticket:
    return Ticket.objects.get(pk=int(event.result["messages"][0]["ticket"][2:]))


def build(n: int, front_office: Team) -> None:
    """One more of everything an admin sees, made the way the help desk makes it."""
    calendar = BusinessCalendar.objects.create(name=f"Calendar {n}", timezone="Europe/London")
    team = TeamFactory(name=f"Team {n}", slug=f"team-{n}", calendar=calendar, fallback_team=front_office)
    category = Category.objects.create(name=f"Category {n}", slug=f"category-{n}")
    tag = Tag.objects.create(name=f"tag-{n}")
    CannedResponse.objects.create(title=f"Canned {n}", body="Hello {customer_name}", team=team)
    RoutingRule.objects.create(name=f"Rule {n}", keywords=f"word{n}", team=team, category=category)
    SlaPolicy.objects.create(priority=1, team=team, first_response_minutes=10, resolution_minutes=60)
    ReferenceKind.objects.create(code=f"kind-{n}", name=f"Kind {n}", pattern=rf"K{n}-\d+")
    agent = AgentFactory(teams=[front_office, team], max_active_assignments=50)

    first = intake(channel="email", sender=f"alice{n}@example.com", subject="Router", text=f"ORD-{n}00 broke")
    ticket = ticket_of(first)
    intake(channel="whatsapp", sender=f"4477009005{n:02d}", customer_unique_id=ticket.customer.unique_id,
           text=f"Still broken, ORD-{n}00")  # fmt: skip
    ticket.tags.add(tag)
    ticket = transitions.assign(ticket=ticket, actor=None, agent=agent, reason="test")
    reply(ticket=ticket, actor=agent.user, body="On it", channel="email")
    add_note(ticket=ticket, actor=agent.user, body="Looked at the line")
    transitions.pend(ticket=ticket, actor=agent.user, reason="waiting")
    # Someone else quotes Alice's order: a conflict for a person to decide.
    intake(channel="sms", sender=f"+4477009006{n:02d}", text="Hello")
    intake(channel="sms", sender=f"+4477009006{n:02d}", text=f"About ORD-{n}00")
    accept(source="cli", channel="sms", payload=b"{not json")  # stored, and kept as failed


@pytest.fixture
def data(front_office):
    build(0, front_office)
    assert CustomerConflict.objects.exists() and InboundEvent.objects.filter(status="failed").exists()
    return front_office


def registered():
    return sorted(admin.site._registry, key=lambda m: m._meta.label)


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


@pytest.mark.parametrize("model", registered(), ids=lambda m: m._meta.label)
def test_every_changelist_and_change_page_loads(admin_client, data, model, django_assert_max_num_queries):
    with django_assert_max_num_queries(CHANGELIST_MAX_QUERIES):
        response = admin_client.get(changelist(model))
    assert response.status_code == 200
    obj = model._default_manager.order_by("pk").last()
    if obj is None:
        return
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
    with django_assert_max_num_queries(CHANGE_PAGE_MAX_QUERIES):
        response = admin_client.get(url)
    assert response.status_code == 200


def test_list_pages_do_not_query_per_row(admin_client, data):
    """No N+1: the same number of queries for a list of one of everything as for three."""
    models = [m for m in registered() if m._meta.app_label in OUR_APPS]

    def counts():
        result = {}
        for model in models:
            with CaptureQueriesContext(connection) as queries:
                assert admin_client.get(changelist(model)).status_code == 200
            result[model._meta.label] = len(queries)
        return result

    before = counts()
    build(1, data)
    build(2, data)
    assert counts() == before


def test_the_user_page_shows_the_agent(admin_client, front_office):
    agent = AgentFactory(user__username="frank", teams=[front_office])
    response = admin_client.get(reverse("admin:auth_user_change", args=[agent.user.pk]))
    assert b"Max active assignments" in response.content
    assert b"Front office" in response.content


def test_ticket_status_owner_and_team_are_read_only(admin_client, data):
    ticket = Ticket.objects.exclude(assignee=None).first()
    url = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    form = admin_client.get(url).context["adminform"].form
    assert set(form.fields) == {"subject", "category", "tags"}
    other = AgentFactory(teams=[ticket.team])
    response = admin_client.post(
        url,
        {
            "subject": "Router broken (edited)",
            "status": "closed",
            "assignee": other.pk,
            "team": TeamFactory().pk,
            **inline_management(admin_client.get(url)),
        },
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.subject == "Router broken (edited)"
    assert (fresh.status, fresh.assignee_id, fresh.team_id) == (
        ticket.status,
        ticket.assignee_id,
        ticket.team_id,
    )
    # The edit itself is history.
    assert fresh.events.filter(kind="edited", data__fields=["subject"]).exists()


def inline_management(response) -> dict:
    """The inline formsets' management fields, as the browser would send them back."""
    fields = {}
    for formset in response.context["inline_admin_formsets"]:
        prefix = formset.formset.prefix
        fields[f"{prefix}-TOTAL_FORMS"] = formset.formset.total_form_count()
        fields[f"{prefix}-INITIAL_FORMS"] = formset.formset.initial_form_count()
        for i, form in enumerate(formset.formset.forms):
            if form.instance.pk:
                fields[f"{prefix}-{i}-id"] = form.instance.pk
                fields[f"{prefix}-{i}-ticket"] = form.instance.ticket_id
    return fields


def test_tickets_and_history_cannot_be_added_or_deleted(admin_client, data):
    ticket = Ticket.objects.first()
    event = TicketEvent.objects.first()
    assert admin_client.get(reverse("admin:tickets_ticket_add")).status_code == 403
    assert admin_client.get(reverse("admin:tickets_ticket_delete", args=[ticket.pk])).status_code == 403
    assert admin_client.get(reverse("admin:tickets_ticketevent_add")).status_code == 403
    assert admin_client.get(reverse("admin:tickets_ticketevent_delete", args=[event.pk])).status_code == 403
    page = admin_client.get(reverse("admin:tickets_ticketevent_change", args=[event.pk]))
    assert page.status_code == 200 and not page.context["adminform"].form.fields  # a view, not a form
    assert (
        admin_client.post(reverse("admin:tickets_ticketevent_change", args=[event.pk]), {}).status_code == 403
    )


@pytest.mark.parametrize("term", ["number", "lower", "unpadded"])
def test_ticket_search_by_number(admin_client, data, term):
    ticket = Ticket.objects.order_by("pk").last()
    q = {"number": ticket.number, "lower": ticket.number.lower(), "unpadded": f"T-{ticket.pk}"}[term]
    response = admin_client.get(reverse("admin:tickets_ticket_changelist"), {"q": q})
    assert list(response.context["cl"].result_list) == [ticket]


def test_ticket_search_by_subject_and_customer(admin_client, data):
    ticket = Ticket.objects.get(subject="Router")
    for q in ("Router", ticket.customer.unique_id):
        response = admin_client.get(reverse("admin:tickets_ticket_changelist"), {"q": q})
        assert ticket in response.context["cl"].result_list


@pytest.mark.parametrize("q", ["alice0@example.com", "ORD-000", "07700 900500", "+44 7700 900500"])
def test_customer_search_by_address_reference_and_phone_as_typed(admin_client, data, q):
    alice = CustomerIdentity.objects.get(address="alice0@example.com").customer
    response = admin_client.get(reverse("admin:tickets_customer_changelist"), {"q": q})
    assert list(response.context["cl"].result_list) == [alice]


def test_reference_kind_with_a_broken_pattern_is_refused(admin_client):
    response = admin_client.post(
        reverse("admin:tickets_referencekind_add"),
        {"code": "bad", "name": "Bad", "pattern": "ORD-(", "active": "on"},
    )
    assert response.status_code == 200
    assert "Not a valid regular expression" in str(response.context["adminform"].form.errors["pattern"])
    assert not ReferenceKind.objects.filter(code="bad").exists()


def test_a_team_cannot_fall_back_to_itself(admin_client, front_office):
    response = admin_client.post(
        reverse("admin:tickets_team_change", args=[front_office.pk]),
        {
            "name": "Front office",
            "slug": "front-office",
            "kind": "front",
            "fallback_team": front_office.pk,
            "overflow_after_minutes": 30,
        },
    )
    assert response.status_code == 200
    assert "cannot overflow to itself" in str(response.context["adminform"].form.errors)


def test_an_identity_typed_in_the_admin_is_stored_as_intake_finds_it(admin_client):
    customer = Customer.objects.create(unique_id="K1")
    response = admin_client.post(
        reverse("admin:tickets_customeridentity_add"),
        {"customer": customer.pk, "channel": "phone", "address": "07700 900123"},
    )
    assert response.status_code == 302
    assert CustomerIdentity.objects.get(customer=customer).address == "+447700900123"


def test_presence_set_in_the_admin_goes_through_the_service(admin_client, front_office):
    agent = AgentFactory(teams=[front_office], presence=Agent.Presence.OFFLINE)
    response = admin_client.post(
        reverse("admin:tickets_agent_change", args=[agent.pk]),
        {
            "user": agent.user.pk,
            "role": agent.role,
            "teams": [front_office.pk],
            "max_active_assignments": 5,
            "presence": "online",
        },
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.presence == "online" and agent.presence_changed_at is not None


# --- inbound events -----------------------------------------------------------------------------------


def test_replay_action_processes_failed_events_and_skips_processed_ones(admin_client):
    Team.objects.all().delete()
    failed = intake(channel="sms", sender="+447700900501", text="x")
    assert failed.status == "failed"
    Team.objects.create(name="Front office", slug="front-office")
    done = intake(channel="sms", sender="+447700900502", text="y")
    response = admin_client.post(
        reverse("admin:channels_intake_inboundevent_changelist"),
        {"action": "replay", "_selected_action": [failed.pk, done.pk]},
        follow=True,
    )
    failed.refresh_from_db()
    assert failed.status == InboundEvent.Status.PROCESSED and failed.attempts == 2
    assert Ticket.objects.count() == 2  # the processed one was not taken in twice
    text = [str(m) for m in response.context["messages"]]
    assert text == ["Replayed: 1 processed, 1 skipped (already processed)"]


def test_replay_reports_events_that_still_fail(admin_client):
    event = accept(source="cli", channel="sms", payload=b"{not json")
    response = admin_client.post(
        reverse("admin:channels_intake_inboundevent_changelist"),
        {"action": "replay", "_selected_action": [event.pk]},
        follow=True,
    )
    text = [str(m) for m in response.context["messages"]]
    assert text[0] == "Replayed: 1 failed" and text[1].startswith(f"event {event.pk}: unreadable payload")


def test_replay_needs_the_change_permission(client):
    user = UserFactory(username="viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_inboundevent"))
    client.force_login(user)
    event = accept(source="cli", channel="sms", payload=b"{not json")
    response = client.get(reverse("admin:channels_intake_inboundevent_changelist"))
    assert response.status_code == 200
    action_form = response.context["action_form"]
    assert action_form is None or "replay" not in dict(action_form.fields["action"].choices)
    client.post(
        reverse("admin:channels_intake_inboundevent_changelist"),
        {"action": "replay", "_selected_action": [event.pk]},
    )
    event.refresh_from_db()
    assert event.attempts == 1


def test_inbound_events_are_read_only_and_the_payload_is_escaped(admin_client):
    event = accept(source="cli", channel="sms", payload=b'<script>alert("x")</script>')
    url = reverse("admin:channels_intake_inboundevent_change", args=[event.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert b'<script>alert("x")</script>' not in response.content
    assert b"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in response.content
    assert admin_client.post(url, {}).status_code == 403
    delete = reverse("admin:channels_intake_inboundevent_delete", args=[event.pk])
    assert admin_client.get(delete).status_code == 403


# --- customer import ----------------------------------------------------------------------------------

HEADER = "unique_id,name,tier,email,phone,whatsapp,references\n"


def upload(client, text: str, **kw):
    f = io.BytesIO(text.encode())
    f.name = "customers.csv"
    return client.post(reverse("admin:tickets_customer_import"), {"file": f}, **kw)


def test_the_customer_list_offers_the_import(admin_client):
    response = admin_client.get(reverse("admin:tickets_customer_changelist"))
    assert reverse("admin:tickets_customer_import").encode() in response.content
    page = admin_client.get(reverse("admin:tickets_customer_import"))
    assert page.status_code == 200 and b"csrfmiddlewaretoken" in page.content


def test_the_import_page_imports_a_file(admin_client):
    response = upload(
        admin_client, HEADER + "K1,Kim,premium,kim@example.com,+447700900600,,ORD-5\n", follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("admin:tickets_customer_changelist")
    assert [str(m) for m in response.context["messages"]] == [
        "1 row(s): 1 customer(s) created, 0 updated, 0 unchanged; 2 identities and 1 references added."
    ]
    assert Customer.objects.filter(unique_id="K1", tier="premium").exists()


def test_the_import_page_refuses_a_bad_file_showing_every_error_by_row(admin_client):
    bad = HEADER + "K2,Kai,gold,,,,\nK3,Kit,,not-an-email,,,\n"
    response = upload(admin_client, bad)
    assert response.status_code == 200
    assert not Customer.objects.exists()
    content = response.content.decode()
    assert "2 errors; nothing was imported" in content
    assert "<td>2</td><td>tier &#x27;gold&#x27; is not one of standard, premium, vip</td>" in content
    assert "<td>3</td><td>email: &#x27;not-an-email&#x27; is not an e-mail address</td>" in content


def test_the_import_needs_the_add_permission(client):
    user = UserFactory(username="viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(user)
    assert client.get(reverse("admin:tickets_customer_import")).status_code == 403
    assert upload(client, HEADER + "K1,Kim,,,,,\n").status_code == 403
    listing = client.get(reverse("admin:tickets_customer_changelist"))
    assert reverse("admin:tickets_customer_import").encode() not in listing.content
    user.user_permissions.add(Permission.objects.get(codename="add_customer"))
    assert client.get(reverse("admin:tickets_customer_import")).status_code == 200


def test_the_import_needs_staff_and_a_csrf_token():
    anonymous = Client()
    assert anonymous.get(reverse("admin:tickets_customer_import")).status_code == 302  # to the log-in page
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    assert upload(strict, HEADER + "K1,Kim,,,,,\n").status_code == 403
    assert not Customer.objects.exists()
