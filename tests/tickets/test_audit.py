"""The audit trail: who viewed and who changed which ticket and customer (views, services, the Django admin),
append-only in the model, its queryset and (PostgreSQL) the database."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import CustomerFactory, IdentityFactory, TicketFactory, UserFactory
from tickets.intake import InboundMessage, receive
from tickets.models import AuditEntry, Customer, CustomerIdentity, Ticket, TicketEvent
from tickets.models.audit import AppendOnlyError
from tickets.models.tickets import parse_number
from tickets.services import transitions
from tickets.services.replies import add_note

pytestmark = pytest.mark.django_db

View, Change = AuditEntry.Action.VIEW, AuditEntry.Action.CHANGE


@pytest.fixture
def ticket(agent) -> Ticket:
    t = TicketFactory(customer=CustomerFactory(unique_id="AUD1", name="Audrey Private"))
    return transitions.assign(ticket=t, actor=None, agent=agent, reason="test")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


# --- views ----------------------------------------------------------------------------------------------------


def test_opening_the_workspace_records_one_view_with_who_where_and_what(client, agent, ticket):
    client.force_login(agent.user)
    before = AuditEntry.objects.count()
    response = client.get(reverse("desk:ticket", args=[ticket.pk]), REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200
    view = AuditEntry.objects.get(action=View)
    assert (view.actor_id, view.actor_label) == (agent.user.pk, "frank")
    assert (view.object_type, view.object_id) == ("tickets.ticket", str(ticket.pk))
    assert (view.ticket_id, view.customer_id) == (ticket.pk, ticket.customer_id)
    assert view.path == f"/tickets/{ticket.pk}/" and view.ip == "203.0.113.9"
    # The owner opening an assigned ticket is also a change ("open"), audited with its history event.
    opened = AuditEntry.objects.get(action=Change)
    assert opened.event.kind == TicketEvent.objects.get(pk=opened.event_id).kind
    assert AuditEntry.objects.count() == before + 2


def test_a_page_view_costs_exactly_one_insert_and_no_read(client, agent, ticket):
    client.force_login(agent.user)
    url = reverse("desk:ticket", args=[ticket.pk])
    client.get(url)  # opens it (a change); now a plain view
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    audit = [q["sql"] for q in queries if "tickets_auditentry" in q["sql"]]
    assert len(audit) == 1 and audit[0].startswith("INSERT")


def test_downloading_an_attachment_records_a_view_naming_it(client, agent, ticket, settings, tmp_path):
    from django.core.files.base import ContentFile

    from tickets.models import Attachment, Message

    settings.MEDIA_ROOT = tmp_path
    message = Message.objects.filter(interaction__case__ticket=ticket).first()
    found = Attachment(message=message, filename="a.txt", content_type="text/plain", size=2, sha256="0" * 64)
    found.file.save("a", ContentFile(b"hi"))
    client.force_login(agent.user)
    response = client.get(reverse("desk:ticket_attachment", args=[ticket.pk, found.pk]))
    assert response.status_code == 200
    view = AuditEntry.objects.get(action=View)
    assert (view.ticket_id, view.details) == (ticket.pk, {"attachment": found.pk})
    assert view.path == reverse("desk:ticket_attachment", args=[ticket.pk, found.pk])


def test_the_header_poll_is_not_a_view(client, agent, ticket):
    client.force_login(agent.user)
    client.get(reverse("desk:ticket_header", args=[ticket.pk]))
    assert not AuditEntry.objects.filter(action=View).exists()


def test_a_ticket_the_agent_may_not_see_records_nothing(client, back_agent, ticket):
    client.force_login(back_agent.user)
    assert client.get(reverse("desk:ticket", args=[ticket.pk])).status_code == 404
    assert not AuditEntry.objects.filter(action=View).exists()


def test_the_customer_page_records_a_view_of_the_customer(client, agent, ticket):
    client.force_login(agent.user)
    response = client.get(reverse("desk:customer", args=["AUD1"]))
    assert response.status_code == 200
    view = AuditEntry.objects.get(action=View)
    assert (view.object_type, view.customer_id, view.ticket_id) == (
        "tickets.customer",
        ticket.customer_id,
        None,
    )


def test_a_forged_forwarded_address_is_stored_as_none_not_an_error(client, agent, ticket, settings):
    settings.HELPDESK = {**settings.HELPDESK, "TRUSTED_PROXY_HOPS": 1}
    client.force_login(agent.user)
    response = client.get(reverse("desk:customer", args=["AUD1"]), HTTP_X_FORWARDED_FOR="<script>")
    assert response.status_code == 200
    assert AuditEntry.objects.get(action=View).ip is None


# --- changes through the services -----------------------------------------------------------------------------


def test_a_persons_change_points_at_its_history_event_without_repeating_it(agent, ticket):
    transitions.open_ticket(ticket=ticket, actor=agent.user)
    add_note(ticket=Ticket.objects.get(pk=ticket.pk), actor=agent.user, body="Audrey's router is broken")
    changes = list(AuditEntry.objects.filter(action=Change).order_by("id"))
    assert [c.details["kind"] for c in changes] == [
        TicketEvent.objects.get(pk=c.event_id).kind for c in changes
    ]
    assert {c.ticket_id for c in changes} == {ticket.pk} and {c.actor_id for c in changes} == {agent.user.pk}
    # The trail holds ids and kinds only: the note's text stays in the note.
    assert not any("router" in str(c.details) for c in changes)


def test_the_systems_changes_stay_in_the_history_only(db, front_office):
    result = receive(InboundMessage(channel="email", sender="sys@example.com", text="Hello"))
    ticket = Ticket.objects.get(pk=parse_number(result.ticket))
    assert ticket.events.exists()
    assert not AuditEntry.objects.exists()


# --- the Django admin ---------------------------------------------------------------------------------------


def test_an_admin_change_to_a_customer_is_audited_without_the_personal_data(client, admin_user, ticket):
    client.force_login(admin_user)
    customer = ticket.customer
    url = reverse("admin:tickets_customer_change", args=[customer.pk])
    page = client.get(url)
    assert page.status_code == 200
    viewed = AuditEntry.objects.get(action=View)
    assert (viewed.customer_id, viewed.actor_label, viewed.details) == (customer.pk, "root", {"admin": True})
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if k in ("unique_id", "tier")}
    data |= {"name": "Audrey Renamed"}
    for prefix in ("identities", "references"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    response = client.post(url, data)
    assert response.status_code == 302, response.content[:2000]
    entry = LogEntry.objects.get()
    changed = AuditEntry.objects.get(action=Change)
    assert (changed.object_type, changed.object_id, changed.customer_id) == (
        "tickets.customer",
        str(customer.pk),
        customer.pk,
    )
    assert changed.details == {"admin": "change", "log_entry": entry.pk}
    assert changed.actor_id == admin_user.pk and changed.path == url
    assert "Audrey" not in str(changed.details) + changed.object_id


def test_admin_bulk_deletions_are_audited_one_entry_each(client, admin_user):
    customer = CustomerFactory()
    identities = [IdentityFactory(customer=customer) for _ in range(3)]
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:tickets_customeridentity_changelist"),
        {"action": "delete_selected", "_selected_action": [i.pk for i in identities], "post": "yes"},
    )
    assert response.status_code == 302
    assert not CustomerIdentity.objects.filter(customer=customer).exists()
    deleted = AuditEntry.objects.filter(action=Change, object_type="tickets.customeridentity")
    assert sorted(int(d.object_id) for d in deleted) == sorted(i.pk for i in identities)
    assert {d.customer_id for d in deleted} == {customer.pk}
    assert {d.details["admin"] for d in deleted} == {"deletion"}


def test_the_audit_log_is_read_only_in_the_admin(client, admin_user, agent, ticket):
    transitions.open_ticket(ticket=ticket, actor=agent.user)
    entry = AuditEntry.objects.get()
    client.force_login(admin_user)
    listing = client.get(reverse("admin:tickets_auditentry_changelist") + "?action__exact=change")
    assert listing.status_code == 200 and "frank" in listing.content.decode()
    # One ticket's and one customer's trail, as the README links them.
    for query, expected in (
        (f"ticket__id__exact={ticket.pk}", 1),
        ("customer__id__exact=999999", 0),
        ("object_type=tickets.ticket", 1),
        ("object_type=tickets.customer", 0),
    ):
        response = client.get(reverse("admin:tickets_auditentry_changelist") + "?" + query)
        assert response.status_code == 200 and response.context["cl"].result_count == expected
    assert client.get(reverse("admin:tickets_auditentry_add")).status_code == 403
    change_url = reverse("admin:tickets_auditentry_change", args=[entry.pk])
    assert client.get(change_url).status_code == 200
    client.post(change_url, {"action": "erase"})
    client.post(reverse("admin:tickets_auditentry_delete", args=[entry.pk]), {"post": "yes"})
    entry.refresh_from_db()
    assert entry.action == Change


# --- append-only ----------------------------------------------------------------------------------------------


def test_the_model_and_its_queryset_refuse_to_rewrite_the_trail(agent, ticket):
    transitions.open_ticket(ticket=ticket, actor=agent.user)
    entry = AuditEntry.objects.get()
    entry.action = View
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(action=View)
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.bulk_update([entry], ["action"])
    assert AuditEntry.objects.get().action == Change


def test_deleting_what_an_entry_names_leaves_the_entry(admin_user, agent):
    customer = CustomerFactory()
    from tickets.services.audit import record_view

    record_view(actor=agent.user, customer=customer)
    Customer.objects.filter(pk=customer.pk).delete()
    agent.user.delete()
    entry = AuditEntry.objects.get()
    assert (entry.customer_id, entry.actor_label) == (customer.pk, "frank")


@pytest.mark.postgres
def test_postgresql_refuses_update_and_delete_from_any_client(agent, ticket):
    transitions.open_ticket(ticket=ticket, actor=agent.user)
    pk = AuditEntry.objects.get().pk
    for sql in (
        "UPDATE tickets_auditentry SET action = 'view' WHERE id = %s",
        "DELETE FROM tickets_auditentry WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(sql, [pk])
    assert AuditEntry.objects.get(pk=pk).action == Change


# --- the CRM import ---------------------------------------------------------------------------------------------

CRM = (
    "unique_id,name,tier,email,phone,whatsapp,references\n"
    "IMP1,Imogen Port,premium,imogen@example.com,,,\n"
    "IMP2,Ian Port,,ian@example.com,,,\n"
)


def test_an_admin_csv_import_audits_each_customer_it_created_or_changed(client, admin_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(admin_user)
    url = reverse("admin:tickets_customer_import")

    def upload(text):
        return client.post(url, {"file": SimpleUploadedFile("crm.csv", text.encode(), "text/csv")})

    assert upload(CRM).status_code == 302
    entries = AuditEntry.objects.filter(action=Change, object_type="tickets.customer")
    ids = set(Customer.objects.filter(unique_id__in=["IMP1", "IMP2"]).values_list("pk", flat=True))
    assert {e.customer_id for e in entries} == ids and len(entries) == 2
    assert {(e.actor_id, e.path, e.details["import"]) for e in entries} == {(admin_user.pk, url, "csv")}
    assert upload(CRM).status_code == 302  # the same file again changes nothing, and records nothing
    assert entries.all().count() == 2
    assert upload(CRM.replace("Ian Port", "Ian Porter")).status_code == 302
    assert entries.all().count() == 3
    assert entries.all().first().customer_id == Customer.objects.get(unique_id="IMP2").pk


def test_the_import_command_names_who_ran_it(tmp_path):
    from django.core.management import call_command

    path = tmp_path / "crm.csv"
    path.write_text(CRM)
    call_command("import_customers", str(path))
    labels = set(AuditEntry.objects.values_list("actor_label", flat=True))
    assert len(labels) == 1 and labels.pop().startswith("manage.py import_customers (")
