import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from tickets.channels import Channel
from tickets.lifecycle import ACTIVE_STATUSES, Status
from tickets.models import Agent, Customer, Ticket

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_a_believable_help_desk_once():
    call_command("seed_demo")  # exactly what the README's first command runs
    for username in ("admin", "supervisor", "frontoffice", "backoffice"):
        assert authenticate(username=username, password="demo") is not None
    roles = set(Agent.objects.values_list("role", flat=True))
    assert roles == set(Agent.Role.values)

    abc = Customer.objects.get(unique_id="ABC")
    t1, t2 = abc.tickets.order_by("id")
    assert (t1.status, t1.cases.count()) == (Status.CLOSED, 3)
    assert set(t1.cases.values_list("status", flat=True)) == {"closed"}
    assert [c.interaction.channel for c in t1.cases.order_by("id")] == ["voice", "whatsapp", "email"]
    assert t2.cases.count() == 1 and t2.reference.value == "ORD-2"

    assert set(Ticket.objects.values_list("status", flat=True)) == set(Status.values)
    assert set(Ticket.objects.values_list("channel", flat=True)) == set(Channel.values)
    for agent in Agent.objects.all():
        load = Ticket.objects.filter(assignee=agent, status__in=ACTIVE_STATUSES).count()
        assert load <= agent.max_active_assignments
    for username in ("frontoffice", "backoffice", "supervisor"):
        assert Ticket.objects.filter(assignee__user__username=username, status__in=ACTIVE_STATUSES).exists()

    counts = (Customer.objects.count(), Ticket.objects.count())
    call_command("seed_demo")  # exactly what the README's first command runs
    assert (Customer.objects.count(), Ticket.objects.count()) == counts
