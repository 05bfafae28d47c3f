"""The SLA sweep and escalation rules (``tickets.services.escalation``), with ``now`` passed explicitly:
each rule acts once per ticket, however often the scan runs; the triggers at their edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from tests.factories import IdentityFactory, TicketFactory
from tickets import tasks
from tickets.intake import InboundMessage, receive
from tickets.lifecycle import Status
from tickets.models import EscalationFiring, EscalationRule, Ticket, TicketEvent
from tickets.services import escalation, replies
from tickets.services import sla as sla_clocks
from tickets.services import transitions as tr

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Rule = EscalationRule


def new_ticket(*, priority: int = 3, created_at: datetime = T0) -> Ticket:
    ticket = TicketFactory(priority=priority, created_at=created_at, updated_at=created_at)
    sla_clocks.apply_targets(ticket)  # 24/7: P3 is 240 minutes to first response, 1440 to resolution
    ticket.save()
    return ticket


def rule(**kw) -> EscalationRule:
    return EscalationRule.objects.create(name=kw.pop("name", "test rule"), **kw)


def events(ticket: Ticket, kind: str) -> list[TicketEvent]:
    return list(TicketEvent.objects.filter(ticket=ticket, kind=kind))


def test_a_new_installation_escalates_breached_p1_and_p2_to_the_supervisors():
    default = EscalationRule.objects.get()
    assert (default.trigger, default.target, default.priority_at_most, default.action) == (
        Rule.Trigger.BREACHED,
        "",
        2,
        Rule.Action.NOTIFY_SUPERVISOR,
    )
    p2, p3 = new_ticket(priority=2), new_ticket(priority=3)
    late = max(p2.resolution_due, p3.resolution_due) + timedelta(minutes=1)

    first = escalation.scan(late)
    second = escalation.scan(late + timedelta(minutes=1))

    assert first == {"breaches": 2, "fired": 1} and second == {"breaches": 0, "fired": 0}
    p2.refresh_from_db()
    assert p2.escalated and p2.escalation_level == 1 and p2.status == Status.NEW
    [escalated] = events(p2, "escalate")
    assert escalated.data["to"] == "supervisor"
    assert "Breached P1/P2" in escalated.reason and "first response target was breached" in escalated.reason
    assert not events(p3, "escalate") and Ticket.objects.get(pk=p3.pk).sla_breached
    assert EscalationFiring.objects.filter(ticket=p2).count() == 1


def test_at_risk_raises_the_priority_once_and_re_times_the_clocks():
    EscalationRule.objects.all().delete()
    rule(trigger=Rule.Trigger.AT_RISK, target=Rule.Target.RESOLUTION, action=Rule.Action.RAISE_PRIORITY)
    ticket = new_ticket(priority=3)
    ticket.first_responded_at = T0 + timedelta(minutes=5)
    ticket.save()
    now = T0 + timedelta(minutes=1440 * 0.9)

    assert escalation.scan(now)["fired"] == 1
    assert escalation.scan(now + timedelta(minutes=1))["fired"] == 0
    ticket.refresh_from_db()
    assert ticket.priority == 2
    assert ticket.resolution_due == T0 + timedelta(minutes=480)  # the P2 target, from creation
    [raised] = events(ticket, "priority")
    assert (raised.from_value, raised.to_value) == ("P3", "P2")
    assert "resolution target is at risk" in raised.reason


@pytest.mark.parametrize("minutes, fires", [(191, False), (192, True)])
def test_the_at_risk_trigger_at_its_edge(minutes, fires):
    """0.8 (the default share) of a 240-minute first-response target is 192 minutes."""
    EscalationRule.objects.all().delete()
    rule(
        trigger=Rule.Trigger.AT_RISK, target=Rule.Target.FIRST_RESPONSE, action=Rule.Action.NOTIFY_SUPERVISOR
    )
    ticket = new_ticket(priority=3)
    assert escalation.scan(T0 + timedelta(minutes=minutes))["fired"] == int(fires)
    assert bool(events(ticket, "escalate")) is fires


def test_the_at_risk_share_setting_moves_the_edge(settings):
    EscalationRule.objects.all().delete()
    rule(trigger=Rule.Trigger.AT_RISK, action=Rule.Action.NOTIFY_SUPERVISOR)
    new_ticket(priority=3)
    assert escalation.scan(T0 + timedelta(minutes=130))["fired"] == 0
    settings.HELPDESK = {**settings.HELPDESK, "SLA_AT_RISK_SHARE": 0.5}
    assert escalation.scan(T0 + timedelta(minutes=130))["fired"] == 1


def test_a_paused_ticket_is_not_at_risk(agent):
    EscalationRule.objects.all().delete()
    rule(trigger=Rule.Trigger.AT_RISK, action=Rule.Action.NOTIFY_SUPERVISOR)
    ticket = new_ticket(priority=3)
    tr.assign(ticket=ticket, actor=None, agent=agent)
    tr.open_ticket(ticket=ticket, actor=agent.user)
    tr.pend(ticket=ticket, actor=agent.user, reason="waiting on the customer")
    assert escalation.scan(T0 + timedelta(minutes=230)) == {"breaches": 0, "fired": 0}


def follow_up(customer_id: str, channel: str, sender: str) -> str:
    return receive(
        InboundMessage(
            channel=channel, sender=sender, text="Still down! ORD-4711", customer_unique_id=customer_id
        )
    ).ticket


def test_a_customer_who_followed_up_n_times_is_escalated_into_another_team(back_office):
    EscalationRule.objects.all().delete()
    rule(
        trigger=Rule.Trigger.FOLLOW_UPS,
        follow_ups=2,
        action=Rule.Action.MOVE_TO_TEAM,
        escalation_team=back_office,
    )
    number = follow_up("FRUSTRATED", "whatsapp", "447700900555")
    ticket = Ticket.objects.get(pk=int(number[2:]))
    assert follow_up("FRUSTRATED", "email", "frustrated@example.com") == number
    assert escalation.scan()["fired"] == 0  # one follow-up
    assert follow_up("FRUSTRATED", "sms", "447700900555") == number
    assert escalation.scan()["fired"] == 1  # two follow-ups
    assert escalation.scan()["fired"] == 0
    ticket.refresh_from_db()
    assert ticket.team == back_office and ticket.status == Status.NEW and ticket.escalated
    [moved] = events(ticket, "escalate")
    assert moved.data["to_team"] == back_office.name and "followed up 2 times" in moved.reason


def test_a_conversation_an_agent_opened_counts_as_a_follow_up_only_once_the_customer_answers(agent):
    EscalationRule.objects.all().delete()
    rule(trigger=Rule.Trigger.FOLLOW_UPS, follow_ups=1, action=Rule.Action.NOTIFY_SUPERVISOR)
    number = follow_up("QUIET", "whatsapp", "447700900666")
    ticket = Ticket.objects.get(pk=int(number[2:]))
    IdentityFactory(customer=ticket.customer, address="quiet@example.com")
    tr.assign(ticket=ticket, actor=None, agent=agent)
    replies.reply(ticket=ticket, actor=agent.user, body="Details by e-mail.", channel="email")
    assert ticket.cases.count() == 2  # the agent's e-mail opened a conversation of its own
    assert escalation.scan()["fired"] == 0  # the customer has not come back

    assert follow_up("QUIET", "email", "quiet@example.com") == number  # answers in that conversation
    assert ticket.cases.count() == 2
    assert escalation.scan()["fired"] == 1


def test_p1_escalates_by_rule_once():
    EscalationRule.objects.all().delete()
    rule(trigger=Rule.Trigger.P1, action=Rule.Action.NOTIFY_SUPERVISOR)
    p1, p2 = new_ticket(priority=1), new_ticket(priority=2)
    assert escalation.scan(T0 + timedelta(minutes=1))["fired"] == 1
    assert escalation.scan(T0 + timedelta(minutes=2))["fired"] == 0
    assert len(events(p1, "escalate")) == 1 and not events(p2, "escalate")


def test_inactive_rules_and_resolved_tickets_are_left_alone(agent):
    EscalationRule.objects.update(active=False)
    rule(trigger=Rule.Trigger.P1, action=Rule.Action.NOTIFY_SUPERVISOR, active=False)
    assert escalation.scan(T0 + timedelta(days=5))["fired"] == 0
    EscalationRule.objects.update(active=True)
    resolved = new_ticket(priority=1)
    tr.assign(ticket=resolved, actor=None, agent=agent)
    tr.open_ticket(ticket=resolved, actor=agent.user)
    tr.resolve(ticket=resolved, actor=agent.user, resolution_type="fixed", notes="done")
    assert not events(resolved, "escalate")
    escalation.scan(T0 + timedelta(days=5))
    assert not events(resolved, "escalate")


def test_the_scheduled_task_runs_the_scan():
    ticket = new_ticket(priority=1, created_at=T0)  # long past due by the real clock
    result = tasks.sla_scan()
    assert result["breaches"] == 1 and result["fired"] == 1
    assert events(ticket, "escalate")


def test_admin_edits_rules_and_refuses_a_team_move_without_a_team(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    assert client.get(reverse("admin:tickets_escalationrule_changelist")).status_code == 200
    response = client.post(
        reverse("admin:tickets_escalationrule_add"),
        {
            "name": "Move breached",
            "active": "on",
            "trigger": "breached",
            "target": "",
            "priority_at_most": "4",
            "follow_ups": "3",
            "action": "move_to_team",
            "order": "100",
        },
    )
    assert response.status_code == 200
    assert "Name the team the ticket is escalated into." in response.content.decode()
    assert not EscalationRule.objects.filter(name="Move breached").exists()
