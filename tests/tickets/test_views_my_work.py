"""My work (``desk:my_work``) and "take next" (``desk:take_next``), through the test client."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from tests.factories import AgentFactory, TicketFactory
from tickets.lifecycle import Status
from tickets.models import Agent, Ticket
from tickets.views.my_work import ticket_url

pytestmark = pytest.mark.django_db


def mine(agent, status=Status.OPEN, **kw):
    return TicketFactory(status=status, assignee=agent, assigned_at=timezone.now(), **kw)


def numbers(group):
    return [t.number for t in group.tickets]


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("desk:my_work"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("desk:login"))


def test_an_admin_without_an_agent_profile_has_no_work_page(client):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    assert client.get(reverse("desk:my_work")).status_code == 403
    assert client.post(reverse("desk:take_next")).status_code == 403


def test_my_tickets_by_state_most_urgent_first_breached_first_and_marked(client, agent, other_agent):
    now = timezone.now()
    later = mine(agent, resolution_due=now + timedelta(hours=8), first_responded_at=now, subject="Later")
    # At risk: over 80 % of the target's time gone (tickets.sla, the definition every page shares).
    soon = mine(
        agent,
        created_at=now - timedelta(hours=8),
        resolution_due=now + timedelta(minutes=30),
        first_responded_at=now,
        subject="Soon",
    )
    # Not answered yet: the first-response target is the one that counts.
    unanswered = mine(
        agent,
        created_at=now - timedelta(hours=1),
        first_response_due=now + timedelta(minutes=10),
        resolution_due=now + timedelta(hours=9),
    )
    flagged = mine(agent, sla_breached=True, resolution_due=now + timedelta(hours=20), first_responded_at=now)
    overdue = mine(
        agent, resolution_due=now - timedelta(minutes=5), first_responded_at=now, subject="Overdue"
    )
    no_target = mine(agent, subject="No target")
    assigned = mine(agent, status=Status.ASSIGNED, resolution_due=now + timedelta(hours=1))
    pending = mine(agent, status=Status.PENDING, resolution_due=now + timedelta(hours=3))
    someone_elses = mine(other_agent, subject="Not mine")
    queued = TicketFactory(subject="In the queue")

    client.force_login(agent.user)
    response = client.get(reverse("desk:my_work"))
    assert response.status_code == 200
    groups = {g.status: g for g in response.context["work"].groups}
    breached_first = [numbers(groups[Status.OPEN])[i] for i in range(2)]
    assert set(breached_first) == {flagged.number, overdue.number}
    assert numbers(groups[Status.OPEN])[2:] == [
        unanswered.number,
        soon.number,
        later.number,
        no_target.number,
    ]
    assert numbers(groups[Status.ASSIGNED]) == [assigned.number]
    assert numbers(groups[Status.PENDING]) == [pending.number]
    states = {t.number: t.sla_state for g in groups.values() for t in g.tickets}
    assert states[flagged.number] == states[overdue.number] == "breached"
    assert states[soon.number] == states[unanswered.number] == "at-risk"
    assert states[later.number] == "ok" and states[no_target.number] == "none"

    html = response.content.decode()
    assert html.count('class="badge sla-flag">Breached<') == 2
    assert someone_elses.number not in html and queued.number not in html
    assert reverse("desk:customer", args=[later.customer.unique_id]) in html
    if ticket_url(later.pk):
        assert f'href="{ticket_url(later.pk)}"' in html


def test_load_against_my_limit_and_the_queue_depth(client, agent):
    Agent.objects.filter(pk=agent.pk).update(max_active_assignments=3)
    mine(agent)
    mine(agent, status=Status.PENDING)
    mine(agent, status=Status.RESOLVED, resolved_at=timezone.now())  # no longer counts
    TicketFactory()
    TicketFactory()
    client.force_login(agent.user)
    response = client.get(reverse("desk:my_work"))
    work = response.context["work"]
    assert (work.load, work.limit, work.queued, work.blocker) == (2, 3, 2, "")
    html = response.content.decode()
    assert "<strong>2 of 3</strong> active tickets" in html
    assert "Queued in my teams: <strong>2</strong>" in html


def test_resolved_recently_lists_the_last_week_only(client, agent):
    now = timezone.now()
    recent = mine(agent, status=Status.RESOLVED, resolved_at=now - timedelta(days=2), subject="Recent fix")
    closed = mine(agent, status=Status.CLOSED, closed_at=now - timedelta(hours=3), subject="Closed today")
    old = mine(
        agent, status=Status.CLOSED, resolved_at=now - timedelta(days=10), closed_at=now - timedelta(days=9)
    )
    spam = mine(agent, status=Status.CLOSED, closed_at=now, resolution_type="spam")
    client.force_login(agent.user)
    work = client.get(reverse("desk:my_work")).context["work"]
    assert [t.number for t in work.resolved] == [closed.number, recent.number]
    assert old.pk and spam.pk  # a week old, and spam: neither is listed


def test_htmx_refresh_returns_the_list_alone_and_keeps_polling(client, agent):
    ticket = mine(agent, subject="Polled")
    client.force_login(agent.user)
    page = client.get(reverse("desk:my_work")).content.decode()
    assert 'hx-trigger="every 15s"' in page and "<html" in page
    partial = client.get(reverse("desk:my_work"), headers={"HX-Request": "true"})
    html = partial.content.decode()
    assert partial.status_code == 200 and "<html" not in html and "Take next" not in html
    assert html.lstrip().startswith('<div id="my-work"') and 'hx-trigger="every 15s"' in html
    assert ticket.number in html


def test_customer_text_is_escaped(client, agent):
    mine(agent, subject="<script>alert(1)</script>")
    client.force_login(agent.user)
    html = client.get(reverse("desk:my_work")).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_the_page_costs_a_fixed_number_of_queries(client, agent, django_assert_max_num_queries):
    Agent.objects.filter(pk=agent.pk).update(max_active_assignments=40)
    now = timezone.now()
    for i in range(30):
        mine(
            agent,
            status=[Status.ASSIGNED, Status.OPEN, Status.PENDING][i % 3],
            resolution_due=now + timedelta(hours=i),
        )
    for _ in range(10):
        mine(agent, status=Status.RESOLVED, resolved_at=now)
        TicketFactory()
    client.force_login(agent.user)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("desk:my_work"))
    assert response.context["work"].load == 30


# Take next ------------------------------------------------------------------------------------------------


def test_take_next_gives_me_the_best_queued_ticket_and_takes_me_to_it(client, agent):
    low = TicketFactory(priority=3, subject="Low")
    urgent = TicketFactory(priority=1, subject="Urgent")
    client.force_login(agent.user)
    response = client.post(reverse("desk:take_next"))
    urgent.refresh_from_db()
    low.refresh_from_db()
    assert (urgent.status, urgent.assignee_id) == (Status.ASSIGNED, agent.pk)
    assert low.status == Status.NEW
    assert response.status_code == 302
    assert response["Location"] == (ticket_url(urgent.pk) or reverse("desk:my_work"))
    assert urgent.events.filter(kind="assign", actor=agent.user).exists()


def test_take_next_at_my_limit_is_refused_with_the_reason(client, agent):
    Agent.objects.filter(pk=agent.pk).update(max_active_assignments=1)
    mine(agent)
    queued = TicketFactory()
    client.force_login(agent.user)
    response = client.post(reverse("desk:take_next"), follow=True)
    assert "You are at your limit: 1 of 1 active tickets" in response.content.decode()
    queued.refresh_from_db()
    assert queued.status == Status.NEW and queued.assignee_id is None


def test_take_next_with_nothing_queued_says_so(client, agent, back_office):
    TicketFactory(team=back_office)  # another team's queue is not mine
    client.force_login(agent.user)
    response = client.post(reverse("desk:take_next"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("desk:my_work")
    assert "Nothing is queued in your teams right now." in response.content.decode()
    assert not Ticket.objects.filter(assignee=agent).exists()


def test_take_next_while_offline_is_refused(client, agent):
    Agent.objects.filter(pk=agent.pk).update(presence=Agent.Presence.OFFLINE)
    queued = TicketFactory()
    client.force_login(agent.user)
    response = client.post(reverse("desk:take_next"), follow=True)
    assert "You are offline" in response.content.decode()
    queued.refresh_from_db()
    assert queued.assignee_id is None
    # The page says so before the button is pressed, too.
    assert "You are offline" in client.get(reverse("desk:my_work")).content.decode()


def test_take_next_is_a_post_with_a_shortcut(client, agent):
    client.force_login(agent.user)
    assert client.get(reverse("desk:take_next")).status_code == 405
    html = client.get(reverse("desk:my_work")).content.decode()
    assert f'action="{reverse("desk:take_next")}"' in html and 'data-shortcut="t"' in html


def test_a_back_office_agent_takes_from_their_own_queue(client, back_agent, back_office):
    front = TicketFactory(priority=1)
    back = TicketFactory(team=back_office, priority=4)
    client.force_login(back_agent.user)
    client.post(reverse("desk:take_next"))
    back.refresh_from_db()
    front.refresh_from_db()
    assert back.assignee_id == back_agent.pk and front.assignee_id is None


def test_another_agent_is_not_shown_my_work(client, agent):
    other = AgentFactory(user__username="zed", teams=[])
    mine(agent, subject="Frank's only")
    client.force_login(other.user)
    response = client.get(reverse("desk:my_work"))
    assert "Frank&#x27;s only" not in response.content.decode()
    assert "no team" in response.context["work"].blocker
