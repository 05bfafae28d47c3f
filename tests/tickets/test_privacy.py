"""Data protection: a customer's export holds everything about them; erasure leaves nothing personal anywhere in
the database or the media storage, keeps every figure reports count, is audited and is a no-op the second time.
Through the services, the management commands and the Customer admin's actions."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import models
from django.urls import reverse
from django.utils import timezone

from channels_intake.models import InboundEvent
from channels_intake.services import process_event, record_event
from tests.factories import UserFactory
from tickets.intake import InboundAttachment, InboundMessage, receive
from tickets.models import (
    Attachment,
    AuditEntry,
    Case,
    Customer,
    CustomerConflict,
    Interaction,
    Message,
    Ticket,
)
from tickets.models.csat import CsatSurvey
from tickets.models.tickets import parse_number
from tickets.selectors.customers import interaction_table
from tickets.services import transitions
from tickets.services.privacy import ERASED, erase_customer, export_customer
from tickets.services.replies import add_note, reply

pytestmark = pytest.mark.django_db

NAME = "Zelda Quintessa"
EMAIL = "zelda.q@example.org"
PHONE = "+447700900777"
ORDER = "ORD-77123"
STORY = "hamster chewed the router cable"
FILE_NAME = "zelda-passport.pdf"
FILE_BYTES = b"%PDF-1.4 passport number X1234567"
# Everything that names or describes Zelda; none of it may survive erasure anywhere.
PERSONAL = [NAME, "Quintessa", EMAIL, PHONE, PHONE.lstrip("+"), ORDER, STORY, FILE_NAME, "X1234567", "Zelda"]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def zelda(agent, media) -> Customer:
    """Zelda phones, writes on WhatsApp (through the stored inbound event) and by e-mail with a file; the agent
    replies, notes, resolves; she rates it; someone else quotes her order; an agent and the admin look at her."""
    call = receive(
        InboundMessage(
            channel="voice",
            sender=PHONE,
            text=f"Inbound call. Notes: {NAME} says the {STORY}",
            customer_unique_id="ZQ1",
            sender_name=NAME,
            reference=ORDER,
            provider_message_id="CA-zq",
            meta={
                "call": {
                    "direction": "inbound",
                    "status": "completed",
                    "duration_seconds": 200,
                    "from": PHONE,
                }
            },
        )
    )
    event = record_event(
        source="cli",
        channel="whatsapp",
        payload=json.dumps(
            {
                "channel": "whatsapp",
                "sender": PHONE.lstrip("+"),
                "text": f"Still broken, {ORDER}. {STORY}",
                "provider_message_id": "wamid.zq",
                "sender_name": NAME,
            }
        ),
    )
    assert process_event(event).status == InboundEvent.Status.PROCESSED
    receive(
        InboundMessage(
            channel="email",
            sender=EMAIL,
            subject=f"{ORDER} from {NAME}",
            text=f"Hello, {STORY}. Passport attached.",
            customer_unique_id="ZQ1",
            sender_name=NAME,
            provider_message_id="<zq-1@example.org>",
            attachments=[InboundAttachment(FILE_NAME, FILE_BYTES, "application/pdf")],
        )
    )
    ticket = Ticket.objects.get(pk=parse_number(call.ticket))
    ticket = transitions.assign(ticket=ticket, actor=None, agent=agent, reason="test")
    ticket = transitions.open_ticket(ticket=ticket, actor=agent.user)
    reply(ticket=ticket, actor=agent.user, body=f"Dear {NAME}, a new cable is on its way.", channel="email")
    add_note(ticket=Ticket.objects.get(pk=ticket.pk), actor=agent.user, body=f"{NAME} sounded upset: {STORY}")
    ticket = transitions.resolve(
        ticket=Ticket.objects.get(pk=ticket.pk),
        actor=agent.user,
        resolution_type="fixed",
        notes=f"Sent {NAME} a cable to {EMAIL}",
    )
    now = timezone.now()
    CsatSurvey.objects.create(
        ticket=ticket,
        channel="email",
        state="answered",
        scheduled_for=now,
        created_at=now,
        answered_at=now,
        rating=2,
        comment=f"Slow. {NAME}",
    )
    # Somebody else quotes Zelda's order: a conflict for a person, naming her reference.
    receive(InboundMessage(channel="sms", sender="+447700900999", text="Hello"))
    receive(
        InboundMessage(channel="sms", sender="+447700900999", text="Where is my parcel?", reference=ORDER)
    )
    assert CustomerConflict.objects.filter(claimed_customer__unique_id="ZQ1").exists()
    return Customer.objects.get(unique_id="ZQ1")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def _viewed(client, agent, admin_user, customer):
    client.force_login(agent.user)
    assert client.get(reverse("desk:customer", args=[customer.unique_id])).status_code == 200
    client.force_login(admin_user)
    url = reverse("admin:tickets_customer_change", args=[customer.pk])
    page = client.get(url)
    data = {"unique_id": customer.unique_id, "tier": customer.tier, "name": NAME}
    for prefix in ("identities", "references"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    assert (
        page.status_code == 200 and client.post(url, data).status_code == 302
    )  # an admin LogEntry naming her


def _text_columns(model) -> list[str]:
    kinds = (models.CharField, models.TextField, models.JSONField, models.BinaryField)
    return [f.attname for f in model._meta.concrete_fields if isinstance(f, kinds)]


def personal_data_left() -> list[str]:
    """Every (table, column) in the whole database still holding any of Zelda's data."""
    found = []
    needles = [n.lower() for n in PERSONAL]
    for model in apps.get_models(include_auto_created=True):
        columns = _text_columns(model)
        if not columns or model._meta.proxy:
            continue
        for row in model._base_manager.values_list("pk", *columns).iterator():
            for column, value in zip(columns, row[1:], strict=True):
                if value is None:
                    continue
                if isinstance(value, bytes | memoryview):
                    text = bytes(value).decode("latin-1")
                elif isinstance(value, str):
                    text = value
                else:
                    text = json.dumps(value, ensure_ascii=False)
                hits = [n for n in needles if n in text.lower()]
                if hits:
                    found.append(f"{model._meta.db_table}.{column} (pk {row[0]}): {hits}")
    return found


def statistics(customer: Customer) -> dict:
    """What reports count about the customer, which erasure must not change."""
    return {
        "tickets": list(
            Ticket.objects.filter(customer=customer)
            .order_by("id")
            .values(
                "id", "status", "priority", "channel", "team_id", "created_at", "resolved_at", "closed_at"
            )
        ),
        "interactions": list(
            Interaction.objects.filter(customer=customer)
            .order_by("id")
            .values("id", "channel", "status", "started_at", "closed_at")
        ),
        "cases": list(
            Case.objects.filter(interaction__customer=customer)
            .order_by("id")
            .values("id", "ticket_id", "link_rule")
        ),
        "messages": list(
            Message.objects.filter(interaction__customer=customer)
            .order_by("id")
            .values("id", "channel", "direction", "sent_at", "provider_message_id")
        ),
        "surveys": list(CsatSurvey.objects.filter(ticket__customer=customer).values("rating", "state")),
        "table": [
            (
                r.interaction_id,
                r.channel,
                r.case_id,
                r.ticket_id,
                r.interactions_in_ticket,
                r.contacts,
                r.issues,
            )
            for r in interaction_table(customer)
        ],
    }


# --- export ---------------------------------------------------------------------------------------------------


def test_the_export_holds_everything_about_the_customer(client, agent, admin_user, zelda):
    _viewed(client, agent, admin_user, zelda)
    data = export_customer(customer=zelda, actor=admin_user)
    assert data["customer"] | {"created_at": None} == {
        "unique_id": "ZQ1",
        "name": NAME,
        "tier": "standard",
        "created_at": None,
    }
    assert {(i["channel"], i["address"]) for i in data["identities"]} >= {("phone", PHONE), ("email", EMAIL)}
    assert [r["value"] for r in data["references"]] == [ORDER]
    assert [i["channel"] for i in data["interactions"]] == ["voice", "whatsapp", "email"]
    texts = [m["body"] for i in data["interactions"] for m in i["messages"]]
    assert any(STORY in t for t in texts) and any(t.startswith(f"Dear {NAME}") for t in texts)
    attachments = [a for i in data["interactions"] for m in i["messages"] for a in m["attachments"]]
    assert attachments == [
        {
            "filename": FILE_NAME,
            "content_type": "application/pdf",
            "size": len(FILE_BYTES),
            "sha256": attachments[0]["sha256"],
        }
    ]
    assert all(i["case"]["ticket"] == data["tickets"][0]["number"] for i in data["interactions"])
    [ticket] = data["tickets"]
    assert ticket["status"] == "resolved" and ticket["resolution_notes"] == f"Sent {NAME} a cable to {EMAIL}"
    assert [n["body"] for n in ticket["notes"]] == [f"{NAME} sounded upset: {STORY}"]
    assert {"assign", "open", "resolve"} <= {h["kind"] for h in ticket["history"]} | {"assign", "open"}
    assert [(s["rating"], s["comment"]) for s in data["surveys"]] == [(2, f"Slow. {NAME}")]
    who = {(e["who"], e["action"]) for e in data["access_log"]}
    assert {("frank", "view"), ("root", "view"), ("root", "change")} <= who
    json.dumps(data)  # JSON-ready as it is
    exported = AuditEntry.objects.get(action="export")
    assert (exported.customer_id, exported.actor_label) == (zelda.pk, "root")


def test_export_command_writes_the_json(zelda, tmp_path, capsys):
    call_command("export_customer", "ZQ1")
    data = json.loads(capsys.readouterr().out)
    assert data["customer"]["name"] == NAME and len(data["interactions"]) == 3
    target = tmp_path / "zq1.json"
    call_command("export_customer", "ZQ1", "--output", str(target))
    assert json.loads(target.read_text())["customer"]["unique_id"] == "ZQ1"
    assert (
        AuditEntry.objects.filter(action="export").first().actor_label.startswith("manage.py export_customer")
    )
    with pytest.raises(CommandError, match="No customer"):
        call_command("export_customer", "NOPE")


# --- erase ----------------------------------------------------------------------------------------------------


def test_after_erasure_nothing_personal_remains_anywhere_and_the_figures_stay(
    client, agent, admin_user, zelda, media
):
    _viewed(client, agent, admin_user, zelda)
    stored = [a.file.path for a in Attachment.objects.filter(message__interaction__customer=zelda)]
    assert stored and all(os.path.exists(p) for p in stored)
    assert personal_data_left()  # the search finds her before
    before = statistics(zelda)

    report = erase_customer(customer=zelda, actor=admin_user)

    assert personal_data_left() == []
    assert not any(os.path.exists(p) for p in stored)
    assert not any(f.is_file() for f in media.rglob("*"))
    assert statistics(zelda) == before
    zelda.refresh_from_db()
    assert zelda.unique_id == "ZQ1" and zelda.name == ""
    assert set(Message.objects.filter(interaction__customer=zelda).values_list("body", flat=True)) == {ERASED}
    call = Message.objects.get(provider_message_id="CA-zq")
    assert call.meta == {"call": {"direction": "inbound", "status": "completed", "duration_seconds": 200}}
    erased = AuditEntry.objects.get(action="erase")
    assert (erased.customer_id, erased.actor_id) == (zelda.pk, admin_user.pk)
    assert erased.details["messages"] == len(before["messages"]) and erased.details["inbound events"] == 1
    assert report.changed["attachments"] == 1 and not report.noop


def test_a_queued_reply_is_failed_not_sent_with_its_text_gone(agent, zelda):
    ticket = Ticket.objects.get(customer=zelda)
    ticket = transitions.reopen(ticket=ticket, actor=agent.user, reason="again")
    queued = Message.objects.filter(interaction__customer=zelda, delivery_status="queued")
    assert queued.exists()
    erase_customer(customer=zelda)
    assert not queued.exists()


def test_erasing_twice_is_a_no_op(zelda):
    first = erase_customer(customer=zelda)
    entries = AuditEntry.objects.count()
    second = erase_customer(customer=zelda)
    assert not first.noop and second.noop and second.total == 0
    assert AuditEntry.objects.count() == entries
    assert "nothing left to erase" in second.summary()


def test_the_same_address_writing_after_erasure_is_a_new_customer(zelda):
    erase_customer(customer=zelda)
    result = receive(InboundMessage(channel="email", sender=EMAIL, text="Hello again"))
    assert Ticket.objects.get(pk=parse_number(result.ticket)).customer.unique_id != "ZQ1"


def test_erase_command_needs_yes_and_is_idempotent(zelda, capsys):
    with pytest.raises(CommandError, match="--yes"):
        call_command("erase_customer", "ZQ1")
    assert Customer.objects.get(unique_id="ZQ1").name == NAME
    call_command("erase_customer", "ZQ1", "--yes")
    assert "ZQ1 erased" in capsys.readouterr().out
    call_command("erase_customer", "ZQ1", "--yes")
    assert "nothing left to erase" in capsys.readouterr().out
    assert AuditEntry.objects.get(action="erase").actor_label.startswith("manage.py erase_customer")
    assert personal_data_left() == []


# --- the Customer admin's actions -------------------------------------------------------------------------------


def test_admin_export_action_downloads_json(client, admin_user, zelda):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:tickets_customer_changelist"),
        {"action": "export_customers", "_selected_action": [zelda.pk]},
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    assert 'filename="export-ZQ1.json"' in response["Content-Disposition"]
    [data] = json.loads(response.content)
    assert data["customer"]["name"] == NAME


def test_admin_erase_action_asks_first_then_erases(client, admin_user, zelda):
    client.force_login(admin_user)
    url = reverse("admin:tickets_customer_changelist")
    confirm = client.post(url, {"action": "erase_customers", "_selected_action": [zelda.pk]})
    assert confirm.status_code == 200 and b"cannot be undone" in confirm.content
    assert Customer.objects.get(pk=zelda.pk).name == NAME
    done = client.post(url, {"action": "erase_customers", "_selected_action": [zelda.pk], "post": "yes"})
    assert done.status_code == 302
    assert Customer.objects.get(pk=zelda.pk).name == ""
    assert AuditEntry.objects.filter(action="erase", customer_id=zelda.pk, actor_label="root").exists()
    assert personal_data_left() == []


def test_an_agent_without_admin_rights_cannot_export_or_erase(client, agent, zelda):
    client.force_login(agent.user)
    url = reverse("admin:tickets_customer_changelist")
    response = client.post(url, {"action": "erase_customers", "_selected_action": [zelda.pk], "post": "yes"})
    assert response.status_code in (302, 403)
    assert Customer.objects.get(pk=zelda.pk).name == NAME
    assert not AuditEntry.objects.filter(action__in=["erase", "export"]).exists()


def test_recently_received_events_outside_the_window_are_left_alone(zelda):
    other = record_event(source="cli", channel="sms", payload=b'{"text": "unrelated"}')
    InboundEvent.objects.filter(pk=other.pk).update(received_at=timezone.now() - timedelta(days=30))
    erase_customer(customer=zelda)
    assert bytes(InboundEvent.objects.get(pk=other.pk).payload) == b'{"text": "unrelated"}'
