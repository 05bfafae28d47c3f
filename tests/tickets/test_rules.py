"""The triage rule engine (issue 6): each condition and each action, the triggers, and a rule firing once.

Rules are admin data; the engine is ``tickets.services.rules``. Every firing is a ``RuleFiring`` row and a
``rule`` event on the ticket's history."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import CustomerFactory, ReferenceFactory, TeamFactory, TicketFactory
from tickets.lifecycle import Status
from tickets.models import Category, Customer, ReferenceKind, Rule, RuleFiring, Tag, Ticket
from tickets.models.tickets import ResolutionType
from tickets.services import rules, transitions

pytestmark = pytest.mark.django_db


def make_rule(**kw) -> Rule:
    """A rule that tags on creation unless told otherwise (the tag is the probe of whether it matched)."""
    kw.setdefault("name", "test rule")
    kw.setdefault("on_created", True)
    kw.setdefault("action", Rule.Action.ADD_TAG)
    if kw["action"] == Rule.Action.ADD_TAG and "tag" not in kw:
        kw["tag"] = Tag.objects.get_or_create(name="probe")[0]
    return Rule.objects.create(**kw)


def tagged(ticket: Ticket, name: str = "probe") -> bool:
    return ticket.tags.filter(name=name).exists()


@pytest.fixture(autouse=True)
def only_test_rules():
    """The installation's default rules (VIP, premium, duplicates) stay out of the way of these tests."""
    Rule.objects.update(active=False)


# Conditions: each one, matching and not --------------------------------------------------------------------


def _ticket_for(condition: str, matching: bool, team) -> tuple[Ticket, dict, str]:
    """(ticket, rule conditions, message text) for one condition, on a matching or a non-matching ticket."""
    other = TeamFactory(slug="billing", name="Billing")
    order = ReferenceKind.objects.get(code="order")
    account = ReferenceKind.objects.get(code="account")
    customer = CustomerFactory(tier=Customer.Tier.VIP if matching else Customer.Tier.STANDARD)
    ticket = TicketFactory(customer=customer, subject="Router question")
    text = ""
    match condition:
        case "customer_tier":
            conditions = {"customer_tier": "vip"}
        case "channel":
            conditions = {"channel": "whatsapp"}
            Ticket.objects.filter(pk=ticket.pk).update(channel="whatsapp" if matching else "email")
        case "keywords":
            conditions = {"keywords": "refund, outage"}
            text = "There is an OUTAGE in my street" if matching else "There is an outages page"
        case "reference_kind":
            conditions = {"reference_kind": order}
            kind = order if matching else account
            ref = ReferenceFactory(customer=customer, kind=kind, value="ORD-77" if matching else "ACC-77")
            Ticket.objects.filter(pk=ticket.pk).update(reference=ref)
        case "team":
            conditions = {"team": team}
            Ticket.objects.filter(pk=ticket.pk).update(team=team if matching else other)
        case "priority":
            conditions = {"priority": 1}
            Ticket.objects.filter(pk=ticket.pk).update(priority=1 if matching else 2)
        case "status":
            conditions = {"status": Status.NEW}
            if not matching:
                Ticket.objects.filter(pk=ticket.pk).update(status=Status.PENDING, assignee=None)
        case "idle_hours":
            conditions = {"idle_hours": 24}
            idle = timedelta(hours=25 if matching else 23)
            Ticket.objects.filter(pk=ticket.pk).update(updated_at=timezone.now() - idle)
        case _:
            raise AssertionError(condition)
    return Ticket.objects.get(pk=ticket.pk), conditions, text


CONDITIONS = [
    "customer_tier",
    "channel",
    "keywords",
    "reference_kind",
    "team",
    "priority",
    "status",
    "idle_hours",
]


@pytest.mark.parametrize("condition", CONDITIONS)
@pytest.mark.parametrize("matching", [True, False], ids=["matches", "does-not-match"])
def test_each_condition(condition, matching, front_office):
    ticket, conditions, text = _ticket_for(condition, matching, front_office)
    make_rule(**conditions)
    fired = rules.apply(ticket, rules.CREATED, text=text, channel=ticket.channel)
    assert fired == int(matching)
    assert tagged(ticket) is matching
    assert RuleFiring.objects.filter(ticket=ticket).exists() is matching


def test_all_conditions_must_hold(front_office):
    ticket = TicketFactory(customer=CustomerFactory(tier="vip"), subject="Refund please")
    make_rule(customer_tier="vip", keywords="refund", channel="whatsapp")  # e-mail ticket: channel fails
    assert rules.apply(ticket, rules.CREATED) == 0
    make_rule(name="second", customer_tier="vip", keywords="refund", channel="email")
    assert rules.apply(ticket, rules.CREATED) == 1


def test_keywords_match_the_subject_too_and_whole_words_only():
    ticket = TicketFactory(subject="Please cancel my contract")
    make_rule(keywords="cancel")
    make_rule(name="partial word", keywords="can", tag=Tag.objects.create(name="never"))
    rules.apply(ticket, rules.CREATED, text="")
    assert tagged(ticket) and not tagged(ticket, "never")


# Actions: each one, recorded on the history ----------------------------------------------------------------


def rule_event(ticket: Ticket, rule: Rule):
    return ticket.events.get(kind="rule", data__rule=rule.pk)


def test_set_priority_sets_it_either_way_and_retimes_the_sla():
    ticket = TicketFactory(priority=2)
    from tickets.services.sla import apply_targets

    apply_targets(ticket)
    ticket.save()
    due_before = ticket.resolution_due
    rule = make_rule(action=Rule.Action.SET_PRIORITY, new_priority=4)
    assert rules.apply(ticket, rules.CREATED) == 1
    ticket.refresh_from_db()
    assert ticket.priority == 4 and ticket.resolution_due > due_before
    event = rule_event(ticket, rule)
    assert (event.from_value, event.to_value, event.actor) == ("P2", "P4", None)


def test_raise_priority_never_lowers_it():
    high, low = TicketFactory(priority=1), TicketFactory(priority=4)
    rule = make_rule(action=Rule.Action.RAISE_PRIORITY, new_priority=2)
    assert rules.apply(high, rules.CREATED) == 0  # P1 already: nothing to do, nothing recorded
    assert rules.apply(low, rules.CREATED) == 1
    high.refresh_from_db(), low.refresh_from_db()
    assert (high.priority, low.priority) == (1, 2)
    assert not RuleFiring.objects.filter(ticket=high).exists()
    assert rule_event(low, rule).reason == "On creation; conditions met: none (every ticket)."


def test_add_tag():
    ticket = TicketFactory()
    rule = make_rule(tag=Tag.objects.create(name="outage"))
    rules.apply(ticket, rules.CREATED)
    assert tagged(ticket, "outage")
    assert rule_event(ticket, rule).to_value == "outage"


def test_set_category():
    ticket = TicketFactory()
    billing = Category.objects.create(name="Billing", slug="billing")
    rule = make_rule(action=Rule.Action.SET_CATEGORY, category=billing, keywords="invoice")
    rules.apply(ticket, rules.CREATED, text="Wrong invoice amount")
    ticket.refresh_from_db()
    assert ticket.category == billing
    assert rule_event(ticket, rule).to_value == "Billing"


def test_transfer_to_a_team_goes_through_the_lifecycle(back_office):
    ticket = TicketFactory()
    rule = make_rule(action=Rule.Action.TRANSFER, to_team=back_office, keywords="fibre")
    rules.apply(ticket, rules.CREATED, text="Fibre box blinking red")
    ticket.refresh_from_db()
    assert ticket.team == back_office and ticket.status == Status.NEW
    transfer = ticket.events.get(kind="transfer")
    assert transfer.actor is None and "test rule" in transfer.reason
    assert rule_event(ticket, rule).to_value == back_office.name


def test_close_as_spam_goes_through_the_lifecycle():
    ticket = TicketFactory()
    rule = make_rule(action=Rule.Action.MARK_SPAM, keywords="casino")
    rules.apply(ticket, rules.CREATED, text="Best CASINO bonus")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolution_type) == (Status.CLOSED, ResolutionType.SPAM)
    assert ticket.events.filter(kind="mark_spam", actor=None).exists()
    assert rule_event(ticket, rule)
    assert ticket.cases.get().status == "closed"


def test_offer_merge_records_the_duplicate_and_changes_nothing_else():
    original = TicketFactory(subject="My router keeps rebooting every hour")
    duplicate = TicketFactory(customer=original.customer, subject="My router keeps rebooting every hour!")
    rule = make_rule(action=Rule.Action.OFFER_MERGE)
    assert rules.apply(duplicate, rules.CREATED) == 1
    duplicate.refresh_from_db()
    assert duplicate.status == Status.NEW
    assert RuleFiring.objects.get(rule=rule, ticket=duplicate).duplicate_of == original
    assert rule_event(duplicate, rule).to_value == original.number


def test_merge_folds_the_duplicate_into_the_original():
    original = TicketFactory(subject="Router keeps rebooting")
    duplicate = TicketFactory(customer=original.customer, subject="Something else entirely")
    ref = ReferenceFactory(customer=original.customer)
    Ticket.objects.filter(pk__in=[original.pk, duplicate.pk]).update(reference=ref)  # same reference
    duplicate.refresh_from_db()
    rule = make_rule(action=Rule.Action.MERGE)
    assert rules.apply(duplicate, rules.CREATED) == 1
    duplicate.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into) == (Status.CLOSED, original)
    assert duplicate.resolution_type == ResolutionType.DUPLICATE
    assert original.cases.count() == 2
    assert "same reference" in rule_event(duplicate, rule).data["did"]


def test_no_duplicate_no_firing():
    TicketFactory(subject="Router keeps rebooting")  # another customer's
    mine = TicketFactory(subject="Router keeps rebooting")
    old = TicketFactory(customer=mine.customer, subject="Router keeps rebooting")
    Ticket.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=30))  # outside 24 h
    make_rule(action=Rule.Action.MERGE)
    assert rules.apply(mine, rules.CREATED) == 0
    mine.refresh_from_db()
    assert mine.status == Status.NEW


# Firing once, and the triggers -----------------------------------------------------------------------------


def test_a_rule_fires_once_per_ticket():
    ticket = TicketFactory()
    rule = make_rule(on_customer_message=True)
    assert rules.apply(ticket, rules.CREATED) == 1
    ticket.tags.clear()  # an agent took the tag off: the rule does not put it back
    assert rules.apply(ticket, rules.CREATED) == 0
    assert rules.apply(ticket, rules.CUSTOMER_MESSAGE) == 0
    assert not tagged(ticket)
    assert RuleFiring.objects.filter(rule=rule, ticket=ticket).count() == 1
    assert ticket.events.filter(kind="rule").count() == 1


def test_a_rule_runs_only_on_its_triggers():
    ticket = TicketFactory()
    make_rule(on_created=False, on_customer_message=True)
    assert rules.apply(ticket, rules.CREATED) == 0
    assert rules.apply(ticket, rules.CUSTOMER_MESSAGE) == 1


def test_an_inactive_rule_never_fires():
    ticket = TicketFactory()
    make_rule(active=False)
    assert rules.apply(ticket, rules.CREATED) == 0


def test_changed_rules_run_after_a_lifecycle_change_commits(agent, django_capture_on_commit_callbacks):
    ticket = TicketFactory()
    make_rule(on_created=False, on_changed=True, status=Status.ASSIGNED)
    with django_capture_on_commit_callbacks(execute=True):
        transitions.assign(ticket=ticket, actor=None, agent=agent)
    assert tagged(ticket)
    assert RuleFiring.objects.get(ticket=ticket).trigger == rules.CHANGED


def test_the_sweep_acts_on_idle_tickets_once():
    idle, busy = TicketFactory(), TicketFactory()
    Ticket.objects.filter(pk=idle.pk).update(updated_at=timezone.now() - timedelta(hours=50))
    rule = make_rule(
        on_created=False, on_sweep=True, idle_hours=48, action=Rule.Action.RAISE_PRIORITY, new_priority=2
    )
    assert rules.sweep() == 1
    assert rules.sweep() == 0  # safe to repeat
    idle.refresh_from_db(), busy.refresh_from_db()
    assert (idle.priority, busy.priority) == (2, 3)
    assert rule_event(idle, rule).data["trigger"] == "sweep"


def test_a_refused_action_leaves_nothing_and_other_rules_still_run(back_office):
    ticket = TicketFactory()
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.RESOLVED)
    make_rule(
        action=Rule.Action.TRANSFER, to_team=back_office, order=1
    )  # transfer is not allowed when resolved
    make_rule(name="tagger", order=2)
    assert rules.apply(ticket, rules.CREATED) == 1
    ticket.refresh_from_db()
    assert ticket.team.slug == "front-office" and tagged(ticket)
    assert list(RuleFiring.objects.filter(ticket=ticket).values_list("rule__name", flat=True)) == ["tagger"]


def test_later_rules_see_what_earlier_ones_changed():
    ticket = TicketFactory(subject="Total outage")
    make_rule(name="raise", order=1, keywords="outage", action=Rule.Action.SET_PRIORITY, new_priority=1)
    make_rule(name="tag P1", order=2, priority=1)
    assert rules.apply(ticket, rules.CREATED) == 2
    assert tagged(ticket)


# What the admin may save ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"on_created": False, "action": Rule.Action.MARK_SPAM}, "Tick at least one trigger"),
        ({"action": Rule.Action.RAISE_PRIORITY}, "new_priority"),
        ({"action": Rule.Action.SET_PRIORITY}, "new_priority"),
        ({"action": Rule.Action.ADD_TAG}, "tag"),
        ({"action": Rule.Action.SET_CATEGORY}, "category"),
        ({"action": Rule.Action.TRANSFER}, "to_team"),
    ],
)
def test_a_rule_without_what_its_action_needs_is_refused(fields, error):
    from django.core.exceptions import ValidationError

    rule = Rule(name="incomplete", **{"on_created": True, **fields})
    with pytest.raises(ValidationError, match=error):
        rule.full_clean()


def test_a_complete_rule_and_a_team_reopen_policy_are_accepted_or_refused(front_office):
    from django.core.exceptions import ValidationError

    Rule(name="ok", on_sweep=True, action=Rule.Action.MARK_SPAM, keywords="casino").full_clean()
    front_office.reopen_policy = "after_days"
    with pytest.raises(ValidationError, match="within how many days"):
        front_office.full_clean()
    front_office.reopen_after_days = 7
    front_office.full_clean()
