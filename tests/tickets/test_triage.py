"""Triage through intake and the workspace (issue 6): priority rules for premium and VIP customers at
creation and on change, the duplicate offer → merge, spam closed on arrival, the priority matrix."""

import re

import pytest
from django.urls import reverse

from tests.factories import TicketFactory
from tickets.intake import InboundMessage, receive
from tickets.lifecycle import Status
from tickets.models import Customer, Message, PriorityMatrixCell, Rule, RuleFiring, Tag, Ticket
from tickets.models.tickets import ResolutionType
from tickets.services import priority, transitions
from tickets.services.sla import apply_targets

pytestmark = pytest.mark.django_db


def email(sender, text, **kw) -> InboundMessage:
    return InboundMessage(channel="email", sender=sender, text=text, **kw)


def web_form(sender, text, **kw) -> InboundMessage:
    """The web form: every submission is an interaction of its own (no open thread to join)."""
    return InboundMessage(channel="web", sender=sender, text=text, **kw)


def ticket_of(result) -> Ticket:
    return Ticket.objects.get(pk=int(result.ticket[2:]))


# Priority rules: premium and VIP customers ------------------------------------------------------------------


def test_a_premium_customers_ticket_is_p2_from_the_first_moment_and_the_history_says_why():
    Customer.objects.create(unique_id="PREM", tier=Customer.Tier.PREMIUM)
    ticket = ticket_of(receive(email("boss@example.com", "Login broken", customer_unique_id="PREM")))
    assert ticket.priority == 2
    created, rule = ticket.events.filter(kind__in=["created", "rule"]).order_by("id")
    assert (created.kind, created.data["priority"]) == ("created", "P3")  # the matrix's medium × medium
    assert (rule.kind, rule.from_value, rule.to_value) == ("rule", "P3", "P2")
    assert rule.data["rule_name"] == "Premium customers: at least P2" and rule.data["trigger"] == "created"
    assert rule.reason == "On creation; conditions met: Premium customer."
    # Its SLA due times are P2's, not P3's.
    p2 = Ticket(priority=2, team=ticket.team, created_at=ticket.created_at)
    apply_targets(p2)
    assert (ticket.first_response_due, ticket.resolution_due) == (p2.first_response_due, p2.resolution_due)


def test_a_vip_customers_ticket_is_p1():
    Customer.objects.create(unique_id="VIP9", tier=Customer.Tier.VIP)
    ticket = ticket_of(receive(email("ceo@example.com", "Question", customer_unique_id="VIP9")))
    assert ticket.priority == 1
    assert ticket.events.get(kind="rule").data["rule_name"] == "VIP customers: P1"


def test_a_standard_customers_ticket_keeps_the_matrix_priority():
    ticket = ticket_of(receive(email("someone@example.com", "Question")))
    assert ticket.priority == 3 and not ticket.events.filter(kind="rule").exists()


def test_a_customer_who_became_premium_gets_raised_on_the_next_change(
    agent, django_capture_on_commit_callbacks
):
    ticket = ticket_of(receive(email("grower@example.com", "Question")))
    Customer.objects.filter(pk=ticket.customer_id).update(tier=Customer.Tier.PREMIUM)
    with django_capture_on_commit_callbacks(execute=True):
        transitions.assign(ticket=ticket, actor=None, agent=agent)
    ticket.refresh_from_db()
    assert ticket.priority == 2
    assert ticket.events.get(kind="rule").data["trigger"] == "changed"


def test_a_keyword_rule_raises_priority_on_a_customer_message():
    Rule.objects.create(
        name="Outage: P1",
        on_customer_message=True,
        keywords="outage",
        action=Rule.Action.RAISE_PRIORITY,
        new_priority=1,
    )
    first = receive(email("street@example.com", "Slow internet", subject="Slow", customer_unique_id="S1"))
    ticket = ticket_of(first)
    assert ticket.priority == 3
    receive(email("street@example.com", "Now it is a full outage", subject=f"Re: [{first.ticket}] Slow"))
    ticket.refresh_from_db()
    assert ticket.priority == 1
    assert ticket.events.get(kind="rule").data["trigger"] == "customer_message"


# The priority matrix ---------------------------------------------------------------------------------------


def test_impact_and_urgency_set_priority_through_the_edited_matrix(agent):
    PriorityMatrixCell.objects.filter(impact=1, urgency=2).update(priority=1)  # the admin made it critical
    ticket = TicketFactory()
    transitions.assign(ticket=ticket, actor=None, agent=agent)
    ticket = priority.set_impact_urgency(ticket=ticket, actor=agent.user, impact=1, urgency=2)
    assert (ticket.impact, ticket.urgency, ticket.priority) == (1, 2, 1)
    event = ticket.events.get(kind="priority")
    assert (event.from_value, event.to_value, event.actor) == ("P3", "P1", agent.user)
    assert "matrix" in event.reason


def test_the_default_matrix_is_installed():
    cells = {(c.impact, c.urgency): c.priority for c in PriorityMatrixCell.objects.all()}
    assert len(cells) == 9 and cells[(1, 1)] == 1 and cells[(3, 3)] == 4 and cells[(2, 2)] == 3


# Duplicates: offered in the workspace, merged through the merge service ------------------------------------


@pytest.fixture
def duplicate(agent):
    """A customer with two open tickets writes about the first again, in a new web form."""
    first = ticket_of(
        receive(web_form("dup@example.com", "My router reboots every hour since Monday", subject="Router"))
    )
    receive(web_form("dup@example.com", "Separate question about my invoice ORD-55", subject="Invoice"))
    again = receive(
        web_form("dup@example.com", "My router reboots every hour since Monday!!", subject="Router")
    )
    assert again.new_ticket
    for t in (first, ticket_of(again)):
        transitions.assign(ticket=t, actor=None, agent=agent)
    return first, ticket_of(again)


def test_the_duplicate_rule_offers_the_merge(duplicate):
    first, again = duplicate
    firing = RuleFiring.objects.get(ticket=again)
    assert (firing.rule.action, firing.duplicate_of) == (Rule.Action.OFFER_MERGE, first)
    assert again.status != Status.CLOSED  # offered, not done


def test_the_workspace_shows_the_offer_and_its_button_merges(client, agent, duplicate):
    first, again = duplicate
    client.force_login(agent.user)
    page = client.get(reverse("desk:ticket", args=[again.pk])).content.decode()
    assert "looks like a duplicate of" in page and f"Merge into {first.number}" in page
    form = re.search(r'<form[^>]*class="card duplicate-offer".*?</form>', page, re.S).group(0)
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
    assert fields["into"] == first.number
    response = client.post(reverse("desk:ticket_act", args=[again.pk, "merge"]), fields)
    assert response.status_code == 302
    again.refresh_from_db()
    assert (again.status, again.merged_into, again.resolution_type) == (
        Status.CLOSED,
        first,
        ResolutionType.DUPLICATE,
    )
    assert first.cases.count() == 2
    assert again.events.get(kind="merge").actor == agent.user
    # Merged: no offer any more.
    assert (
        "looks like a duplicate of"
        not in client.get(reverse("desk:ticket", args=[again.pk])).content.decode()
    )


def test_no_offer_for_an_unrelated_ticket(client, agent):
    ticket = TicketFactory(assignee=None)
    client.force_login(agent.user)
    assert (
        "looks like a duplicate of"
        not in client.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()
    )


def test_a_merge_rule_merges_on_arrival():
    Rule.objects.filter(action=Rule.Action.OFFER_MERGE).update(action=Rule.Action.MERGE)
    first = ticket_of(receive(web_form("m@example.com", "Television has no signal at all", subject="TV")))
    receive(web_form("m@example.com", "Unrelated: my order ORD-56 is late", subject="Order"))
    result = receive(web_form("m@example.com", "Television has no signal at all.", subject="TV"))
    assert result.ticket == first.number  # the message lives on the original now
    merged = Ticket.objects.get(merged_into=first)
    assert merged.status == Status.CLOSED and merged.events.filter(kind="merge", actor=None).exists()
    assert first.cases.count() == 2


# Spam -------------------------------------------------------------------------------------------------------


def test_a_spam_rule_closes_on_arrival_without_an_acknowledgement():
    Rule.objects.create(name="Casino spam", on_created=True, keywords="casino", action=Rule.Action.MARK_SPAM)
    ticket = ticket_of(receive(email("spam@example.net", "Win big at our CASINO today", subject="Offer")))
    assert (ticket.status, ticket.resolution_type) == (Status.CLOSED, ResolutionType.SPAM)
    assert ticket.events.filter(kind="mark_spam", actor=None).exists()
    assert ticket.events.get(kind="rule").data["rule_name"] == "Casino spam"
    assert not Message.objects.filter(
        interaction__case__ticket=ticket, direction=Message.Direction.OUTBOUND
    ).exists()


def test_auto_tag_and_auto_categorise_on_arrival():
    from tickets.models import Category

    fibre = Tag.objects.create(name="fibre")
    billing = Category.objects.create(name="Billing", slug="billing")
    Rule.objects.create(
        name="Fibre", on_created=True, keywords="fibre", action=Rule.Action.ADD_TAG, tag=fibre
    )
    Rule.objects.create(
        name="Invoices",
        on_created=True,
        keywords="invoice",
        action=Rule.Action.SET_CATEGORY,
        category=billing,
    )
    ticket = ticket_of(receive(email("t@example.com", "My fibre invoice is wrong", subject="Invoice")))
    assert list(ticket.tags.values_list("name", flat=True)) == ["fibre"]
    assert ticket.category == billing


def test_a_vip_ticket_split_off_is_p1_and_not_offered_as_a_duplicate_of_its_source(agent):
    from tickets.services import editing

    Customer.objects.create(unique_id="VIPS", tier=Customer.Tier.VIP)
    first = receive(
        web_form("vs@example.com", "Router down and a billing question", customer_unique_id="VIPS")
    )
    source = ticket_of(first)
    receive(
        InboundMessage(
            channel="sms",
            sender="+441632960077",
            text="Router down and a billing question",
            customer_unique_id="VIPS",
        )
    )
    transitions.assign(ticket=source, actor=None, agent=agent)
    case = source.cases.order_by("-id").first()
    new = editing.split(case=case, actor=agent.user, subject="Billing")
    new.refresh_from_db()
    assert new.priority == 1 and new.events.get(kind="rule").data["rule_name"] == "VIP customers: P1"
    assert not RuleFiring.objects.filter(ticket=new, duplicate_of=source).exists()


def test_the_workspace_sets_impact_and_urgency_and_the_matrix_gives_the_priority(client, agent):
    ticket = TicketFactory()
    transitions.assign(ticket=ticket, actor=None, agent=agent)
    client.force_login(agent.user)
    page = client.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()
    assert "Set priority" in page
    ticket.refresh_from_db()
    response = client.post(
        reverse("desk:ticket_edit", args=[ticket.pk, "impact"]),
        {"version": ticket.version, "impact": 1, "urgency": 1},
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.impact, ticket.urgency, ticket.priority) == (1, 1, 1)
    assert ticket.events.filter(kind="priority", actor=agent.user, to_value="P1").exists()
