"""seed_demo: the demo help desk the README's first command loads, built through the real pipeline."""

from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.utils import timezone

from channels_intake.models import InboundEvent
from tickets.channels import Channel
from tickets.lifecycle import ACTIVE_STATUSES, TRANSITIONS, Status
from tickets.models import (
    Agent,
    CsatFollowUp,
    CsatSurvey,
    Customer,
    CustomerConflict,
    Interaction,
    Message,
    Team,
    Ticket,
    TicketEvent,
)

pytestmark = pytest.mark.django_db

LOGINS = ("admin", "supervisor", "frontoffice", "backoffice")


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Customer, Ticket, TicketEvent, Interaction, Message, InboundEvent, Agent, Team)
    }


def test_seed_demo_builds_a_believable_help_desk_once(capsys):
    call_command("seed_demo")  # exactly what the README's first command runs
    out = capsys.readouterr().out
    assert "password 'demo'" in out and all(login in out for login in LOGINS)

    # Log-ins, roles and teams.
    for username in LOGINS:
        assert authenticate(username=username, password="demo") is not None
    assert set(Agent.objects.values_list("role", flat=True)) == set(Agent.Role.values)
    assert Agent.objects.count() >= 12
    assert Agent.objects.get(user__username="admin").user.is_superuser
    teams = {t.slug: t for t in Team.objects.select_related("fallback_team")}
    assert {"front-office", "billing", "technical"} <= set(teams)
    assert teams["billing"].kind == teams["technical"].kind == Team.Kind.BACK
    assert teams["billing"].fallback_team == teams["technical"].fallback_team == teams["front-office"]
    assert set(Agent.objects.get(user__username="supervisor").teams.values_list("slug", flat=True)) >= {
        "front-office",
        "billing",
        "technical",
    }

    # DOMAIN.md's worked example for ABC.
    abc = Customer.objects.get(unique_id="ABC")
    t1, t2 = abc.tickets.order_by("id")
    assert (t1.status, t1.cases.count()) == (Status.CLOSED, 3)
    assert set(t1.cases.values_list("status", flat=True)) == {"closed"}
    assert set(Interaction.objects.filter(case__ticket=t1).values_list("status", flat=True)) == {"closed"}
    contacts = list(abc.interactions.order_by("started_at").select_related("case__ticket"))
    assert [(i.channel, i.case.ticket_id) for i in contacts] == [
        ("voice", t1.pk),
        ("whatsapp", t1.pk),
        ("email", t1.pk),
        ("email", t2.pk),
    ]
    assert t2.cases.count() == 1 and t2.reference.value == "ORD-2" and t1.reference.value == "ORD-1"
    assert t1.closed_at > contacts[-1].started_at  # T1 closed after D came in

    # Every state, every channel, every transition, through the real pipeline.
    assert set(Ticket.objects.values_list("status", flat=True)) == set(Status.values)
    assert set(Ticket.objects.values_list("channel", flat=True)) == set(Channel.values)
    kinds = set(TicketEvent.objects.values_list("kind", flat=True))
    assert set(TRANSITIONS) <= kinds, set(TRANSITIONS) - kinds
    assert Ticket.objects.count() >= 350 and Customer.objects.count() >= 300
    assert CustomerConflict.objects.exists()  # someone quoted another customer's order
    inbound = Message.objects.filter(direction="in").count()
    assert InboundEvent.objects.filter(source="cli", status="processed").count() == inbound
    # Nothing set a status by hand: each ticket's status is the one its history last moved it to.
    last_status = {}
    for ticket_id, to_value in (
        TicketEvent.objects.filter(to_value__in=Status.values)
        .order_by("created_at", "id")
        .values_list("ticket_id", "to_value")
    ):
        last_status[ticket_id] = to_value
    assert {t.pk: t.status for t in Ticket.objects.all()} == last_status

    # Agents' loads, and work waiting for each demo log-in.
    for agent in Agent.objects.all():
        load = Ticket.objects.filter(assignee=agent, status__in=ACTIVE_STATUSES).count()
        assert load <= agent.max_active_assignments, agent
    for username in ("frontoffice", "backoffice", "supervisor"):
        mine = Counter(
            Ticket.objects.filter(assignee__user__username=username, status__in=ACTIVE_STATUSES).values_list(
                "status", flat=True
            )
        )
        assert len(mine) >= 2, (username, mine)

    # A month of history, in the past, in order; and nothing left for the outbox to send.
    now = timezone.now()
    created = sorted(Ticket.objects.values_list("created_at", flat=True))
    assert created[-1] <= now and created[0] < now - timedelta(days=20)
    assert not Ticket.objects.filter(updated_at__gt=now).exists()
    for ticket in Ticket.objects.filter(status=Status.CLOSED)[:50]:
        events = list(ticket.events.order_by("created_at", "id").values_list("kind", flat=True))
        assert events[0] == "created", events
        assert ticket.closed_at >= ticket.created_at
    assert not Message.objects.filter(direction="out", delivery_status="queued").exists()

    # CSAT for the dashboards: answered surveys, good and bad, in demo time; the bad ones with a senior agent.
    answered = CsatSurvey.objects.filter(state="answered").select_related("ticket")
    assert answered.filter(rating__gte=4).exists() and answered.filter(rating__lte=2).exists()
    assert all(s.ticket.closed_at < s.sent_at <= s.answered_at < now for s in answered)
    follow_ups = CsatFollowUp.objects.select_related("assignee", "survey")
    assert follow_ups.count() == answered.filter(rating__lte=2).count()
    assert all(f.assignee.is_senior for f in follow_ups) and follow_ups.filter(state="done").exists()
    assert not TicketEvent.objects.filter(kind__startswith="csat_", created_at__gt=now).exists()

    # The demo's agents were at work until now: the session timeout does not sweep them out at once.
    from tickets.services.routing import time_out_idle_agents

    assert time_out_idle_agents() == []

    # Idempotent.
    before = counts()
    call_command("seed_demo")
    assert counts() == before
    assert "already loaded" in capsys.readouterr().out


def test_seed_demo_reset_loads_it_afresh():
    call_command("seed_demo", customers=20, tickets=25)
    first = counts()
    call_command("seed_demo", "--reset", customers=20, tickets=25)
    assert counts() == first
    assert Customer.objects.filter(unique_id="ABC").count() == 1
