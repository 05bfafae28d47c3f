"""The queue view through the test client: filters, sort, keyset pages, live rows, bulk actions, SLA state."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import AgentFactory, CustomerFactory, TicketFactory, UserFactory
from tickets.lifecycle import Status
from tickets.models import Agent, Tag, Ticket, TicketEvent
from tickets.models.tickets import ResolutionType
from tickets.selectors import queue_view
from tickets.selectors.queue_view import FAR_FUTURE
from tickets.selectors.sla_state import SlaState, sla_state, with_sla_state

pytestmark = pytest.mark.django_db

QUEUE = "/queue/"


def shown(response) -> list[int]:
    """The ticket ids of the table's rows, in order."""
    return [int(pk) for pk in re.findall(r'data-ticket="(\d+)"', response.content.decode())]


def link(response, rel: str) -> str | None:
    match = re.search(rf'href="([^"]*)" rel="{rel}"', response.content.decode())
    return match.group(1).replace("&amp;", "&") if match else None


def follow_messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


# Access ---------------------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(QUEUE)
    assert response.status_code == 302 and response["Location"].startswith(reverse("desk:login"))
    assert client.get(reverse("desk:queue_rows")).status_code == 302


def test_users_who_are_not_agents_are_refused(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("visitor", password="pw"))
    assert client.get(QUEUE).status_code == 403
    assert client.post(reverse("desk:queue_bulk"), {"action": "spam"}).status_code == 403


def test_bulk_is_post_only(client, agent):
    client.force_login(agent.user)
    assert client.get(reverse("desk:queue_bulk")).status_code == 405


# The default filter and visibility ------------------------------------------------------------------------


def test_default_is_my_teams_active_tickets(client, agent, front_office, back_office):
    mine = {
        status: TicketFactory(
            team=front_office, status=status, assignee=None if status == Status.NEW else agent
        )
        for status in Status
    }
    TicketFactory(team=back_office)  # another team's queue
    client.force_login(agent.user)
    response = client.get(QUEUE)
    assert response.status_code == 200
    expected = {mine[s].pk for s in (Status.NEW, Status.ASSIGNED, Status.OPEN, Status.PENDING)}
    assert set(shown(response)) == expected
    assert "4 tickets" in response.content.decode()


def test_every_filter_has_its_label_and_agents_take_next_from_the_queue(client, back_agent, back_office):
    queued = TicketFactory(team=back_office)
    client.force_login(back_agent.user)
    html = client.get(QUEUE).content.decode()
    for label in ("Search", "Team", "Status", "Priority", "Source channel", "SLA", "Tag", "Assignee"):
        assert f">{label}</label>" in html
    assert "[invalid name]" not in html
    assert f'action="{reverse("desk:take_next")}"' in html  # the back office's start page is the queue
    response = client.post(reverse("desk:take_next"), {"next": "/queue/?priority=4"})
    assert response["Location"] == reverse("desk:ticket", args=[queued.pk])
    # Nothing left: the refusal says so on the queue it was asked from, filters kept; never off the site.
    response = client.post(reverse("desk:take_next"), {"next": "/queue/?priority=4"}, follow=True)
    assert response.redirect_chain[-1][0] == "/queue/?priority=4"
    assert "Nothing is queued in your teams right now." in response.content.decode()
    for elsewhere in ("https://evil.example/queue/", "/board/"):
        response = client.post(reverse("desk:take_next"), {"next": elsewhere})
        assert response["Location"] == reverse("desk:my_work")
    client.force_login(UserFactory(username="root", is_superuser=True))
    assert 'action="/my/take-next/"' not in client.get(QUEUE).content.decode()  # no agent, no work to take


def test_other_teams_tickets_stay_invisible_whatever_the_filter(client, agent, back_office):
    hidden = TicketFactory(team=back_office, subject="Back office only")
    client.force_login(agent.user)
    for query in ({"team": back_office.pk}, {"status": "all"}, {"q": hidden.number}, {"assignee": "none"}):
        response = client.get(QUEUE, query)
        assert response.status_code == 200
        assert hidden.pk not in shown(response)
        assert "Back office only" not in response.content.decode()


def test_an_admin_sees_every_team(client, front_office, back_office):
    admin = AgentFactory(role=Agent.Role.ADMIN, user__is_staff=True, user__is_superuser=True)
    a, b = TicketFactory(team=front_office), TicketFactory(team=back_office)
    client.force_login(admin.user)
    assert set(shown(client.get(QUEUE))) == {a.pk, b.pk}


def test_subjects_and_customer_names_are_escaped(client, agent, front_office):
    TicketFactory(
        team=front_office,
        subject="<script>alert(1)</script>",
        customer=CustomerFactory(name="<img src=x onerror=alert(2)>"),
    )
    client.force_login(agent.user)
    html = client.get(QUEUE).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html


# Filters --------------------------------------------------------------------------------------------------


def test_filters_by_team_status_priority_channel_tag_assignee_and_text(
    client, supervisor, agent, other_agent, front_office, back_office
):
    billing = Tag.objects.create(name="billing")
    t_back = TicketFactory(team=back_office, priority=1)
    t_p1 = TicketFactory(team=front_office, priority=1, channel="whatsapp", subject="Router is down")
    t_open = TicketFactory(team=front_office, status=Status.OPEN, assignee=agent, priority=2)
    t_other = TicketFactory(team=front_office, status=Status.PENDING, assignee=other_agent)
    t_closed = TicketFactory(team=front_office, status=Status.CLOSED, assignee=agent)
    t_tagged = TicketFactory(team=front_office, customer=CustomerFactory(unique_id="ACME", name="Acme Ltd"))
    t_tagged.tags.add(billing)
    client.force_login(supervisor.user)

    def ids(**query):
        return set(shown(client.get(QUEUE, query)))

    assert ids() == {t_back.pk, t_p1.pk, t_open.pk, t_other.pk, t_tagged.pk}
    assert ids(team=back_office.pk) == {t_back.pk}
    assert ids(status="open") == {t_open.pk}
    assert ids(status="closed") == {t_closed.pk}
    assert ids(status="all") == {t_back.pk, t_p1.pk, t_open.pk, t_other.pk, t_tagged.pk, t_closed.pk}
    assert ids(priority=1) == {t_back.pk, t_p1.pk}
    assert ids(priority=1, team=front_office.pk) == {t_p1.pk}
    assert ids(channel="whatsapp") == {t_p1.pk}
    assert ids(tag="billing") == {t_tagged.pk}
    assert ids(assignee="none") == {t_back.pk, t_p1.pk, t_tagged.pk}
    assert ids(assignee=other_agent.pk) == {t_other.pk}
    assert ids(q="router") == {t_p1.pk}
    assert ids(q=t_open.number) == {t_open.pk}
    assert ids(q=str(t_other.pk)) == {t_other.pk}
    assert ids(q="acme") == {t_tagged.pk}
    assert ids(q="Acme Ltd") == {t_tagged.pk}


def test_assignee_me_is_the_signed_in_agent(client, agent, other_agent, front_office):
    mine = TicketFactory(team=front_office, status=Status.OPEN, assignee=agent)
    TicketFactory(team=front_office, status=Status.OPEN, assignee=other_agent)
    client.force_login(agent.user)
    assert shown(client.get(QUEUE, {"assignee": "me"})) == [mine.pk]


def _sla_tickets(front_office, agent):
    """One ticket per case of the SLA definition (tickets.sla, share 0.8), named by the state it must be in."""
    now = timezone.now()
    h = timedelta(hours=1)

    def make(status=Status.NEW, created=-1, fr_due=None, due=10, responded=True, **fields):
        return TicketFactory(
            team=front_office,
            status=status,
            assignee=None if status == Status.NEW else agent,
            created_at=now + created * h,
            first_response_due=now + fr_due * h if fr_due is not None else None,
            first_responded_at=now if responded else None,
            resolution_due=now + due * h if due is not None else None,
            **fields,
        )

    return {
        "ok": make(),
        "at_risk": make(created=-9, due=1),
        "breached_by_time": make(status=Status.OPEN, due=-0.1),
        "breached_flag": make(sla_breached=True, due=100),
        "breach_recorded": make(status=Status.PENDING, resolution_breached_at=now - h, due=-1),
        "first_response_at_risk": make(created=-0.9, fr_due=0.1, due=20, responded=False),
        "first_response_late": make(status=Status.ASSIGNED, created=-2, fr_due=-1, due=20, responded=False),
        "answered_so_resolution_counts": make(created=-2, fr_due=-1, due=20, responded=True),
        "pending_is_paused": make(status=Status.PENDING, created=-30, due=-5, sla_paused_at=now - 6 * h),
        "resolved_clock_stopped": make(status=Status.RESOLVED, created=-30, due=-5),
        "no_due_time": make(due=None),
    }


EXPECTED_SLA = {
    "ok": SlaState.OK,
    "at_risk": SlaState.AT_RISK,
    "breached_by_time": SlaState.BREACHED,
    "breached_flag": SlaState.BREACHED,
    "breach_recorded": SlaState.BREACHED,
    "first_response_at_risk": SlaState.AT_RISK,
    "first_response_late": SlaState.BREACHED,
    "answered_so_resolution_counts": SlaState.OK,
    "pending_is_paused": SlaState.OK,
    "resolved_clock_stopped": SlaState.OK,
    "no_due_time": SlaState.OK,
}


def test_sla_state_in_python_and_in_sql_agree(agent, front_office):
    tickets = _sla_tickets(front_office, agent)
    now = timezone.now()
    in_sql = dict(with_sla_state(Ticket.objects.all(), now).values_list("pk", "sla_state"))
    for name, ticket in tickets.items():
        assert sla_state(ticket, now) == EXPECTED_SLA[name], name
        assert in_sql[ticket.pk] == EXPECTED_SLA[name], name


def test_sla_filter_and_row_labels(client, supervisor, agent, front_office):
    tickets = _sla_tickets(front_office, agent)
    client.force_login(supervisor.user)
    for state in SlaState:
        expected = {
            t.pk
            for name, t in tickets.items()
            if EXPECTED_SLA[name] == state and t.status in queue_view.ACTIVE
        }
        assert set(shown(client.get(QUEUE, {"sla": state.value}))) == expected, state
    html = client.get(QUEUE).content.decode()
    assert '<span class="sla-at-risk">At risk</span>' in html
    assert '<span class="sla-breached">Breached</span>' in html


def test_the_at_risk_share_is_a_setting(settings, agent, front_office):
    now = timezone.now()
    ticket = TicketFactory(
        team=front_office,
        created_at=now - timedelta(hours=6),
        first_responded_at=now,
        resolution_due=now + timedelta(hours=4),
    )
    assert sla_state(ticket, now) == SlaState.OK  # 60 % elapsed, under the default 80 %
    settings.HELPDESK = {**settings.HELPDESK, "SLA_AT_RISK_SHARE": 0.5}
    assert sla_state(ticket, now) == SlaState.AT_RISK
    assert with_sla_state(Ticket.objects.filter(pk=ticket.pk), now).get().sla_state == SlaState.AT_RISK


# Sort and keyset pages ------------------------------------------------------------------------------------


def _varied_queue(front_office, n=23):
    """Tickets with ties on every sort key and some without a due time (they sort last in their priority)."""
    now = timezone.now().replace(microsecond=0)
    tickets = []
    for i in range(n):
        tickets.append(
            TicketFactory(
                team=front_office,
                priority=1 + i % 3,
                resolution_due=None if i % 4 == 0 else now + timedelta(hours=i % 5),
                created_at=now - timedelta(minutes=i % 6),
                updated_at=now - timedelta(minutes=(i * 7) % 11),
                with_case=False,
            )
        )
    return tickets


def _queue_order(ticket):
    return (ticket.priority, ticket.resolution_due or FAR_FUTURE, ticket.created_at, ticket.pk)


def test_default_sort_is_the_routing_queue_order(client, agent, front_office):
    tickets = _varied_queue(front_office)
    client.force_login(agent.user)
    assert shown(client.get(QUEUE)) == [t.pk for t in sorted(tickets, key=_queue_order)]


@pytest.mark.parametrize(
    ("sort", "key", "reverse"),
    [
        ("-priority", _queue_order, True),
        ("number", lambda t: t.pk, False),
        ("-number", lambda t: t.pk, True),
        ("due", lambda t: (t.resolution_due or FAR_FUTURE, t.pk), False),
        ("-updated", lambda t: (t.updated_at, t.pk), True),
        ("created", lambda t: (t.created_at, t.pk), False),
    ],
)
def test_sorts(client, agent, front_office, sort, key, reverse):
    tickets = _varied_queue(front_office)
    client.force_login(agent.user)
    expected = [t.pk for t in sorted(tickets, key=key, reverse=reverse)]
    assert shown(client.get(QUEUE, {"sort": sort})) == expected


def test_keyset_pages_walk_every_row_once_forwards_and_back(client, agent, front_office, monkeypatch):
    monkeypatch.setattr(queue_view, "PER_PAGE", 5)
    tickets = _varied_queue(front_office)
    expected = [t.pk for t in sorted(tickets, key=_queue_order)]
    client.force_login(agent.user)
    pages, url = [], QUEUE + "?priority=&sort=priority"
    while url:
        response = client.get(url if url.startswith("/") else QUEUE + url)
        pages.append((url, shown(response)))
        url = link(response, "next")
    assert [pk for _url, rows in pages for pk in rows] == expected
    assert [len(rows) for _url, rows in pages] == [5, 5, 5, 5, 3]
    # Back from the last page: the page before it, then the one before that.
    last = client.get(pages[-1][0] if pages[-1][0].startswith("/") else QUEUE + pages[-1][0])
    previous = client.get(QUEUE + link(last, "prev"))
    assert shown(previous) == pages[-2][1]
    assert shown(client.get(QUEUE + link(previous, "prev"))) == pages[-3][1]
    # The first page has no way back; the last has no way on.
    first = client.get(QUEUE)
    assert link(first, "prev") is None and link(last, "next") is None


def test_a_cursor_for_another_sort_or_a_forged_one_shows_the_first_page(
    client, agent, front_office, monkeypatch
):
    monkeypatch.setattr(queue_view, "PER_PAGE", 5)
    tickets = _varied_queue(front_office, n=8)
    client.force_login(agent.user)
    cursor = link(client.get(QUEUE), "next").split("after=")[1].split("&")[0]
    first_by_number = [t.pk for t in sorted(tickets, key=lambda t: t.pk)][:5]
    assert shown(client.get(QUEUE, {"sort": "number", "after": cursor})) == first_by_number
    assert shown(client.get(QUEUE, {"sort": "number", "after": "not-a-cursor!"})) == first_by_number


def test_sort_links_drop_the_page_cursor_and_keep_the_filters(client, agent, front_office, monkeypatch):
    monkeypatch.setattr(queue_view, "PER_PAGE", 2)
    _varied_queue(front_office, n=5)
    client.force_login(agent.user)
    second = client.get(QUEUE + link(client.get(QUEUE, {"channel": "email"}), "next"))
    html = second.content.decode()
    header = re.search(r'<a hx-boost="true" href="([^"]*)">Updated</a>', html).group(1)
    assert "after" not in header and "channel=email" in header and "sort=updated" in header


def test_the_count_is_capped(client, agent, front_office, monkeypatch):
    monkeypatch.setattr(queue_view, "COUNT_CAP", 3)
    _varied_queue(front_office, n=5)
    client.force_login(agent.user)
    assert "More than 3 tickets" in client.get(QUEUE).content.decode()
    assert "2 tickets" in client.get(QUEUE, {"priority": 1}).content.decode()


# Live rows and HTMX ---------------------------------------------------------------------------------------


def test_the_rows_partial_polls_with_the_current_query(client, agent, front_office):
    ticket = TicketFactory(team=front_office, priority=2)
    TicketFactory(team=front_office, priority=3)
    client.force_login(agent.user)
    page = client.get(QUEUE, {"priority": 2, "sort": "-updated"}).content.decode()
    poll = re.search(r'<tbody id="queue-rows" hx-get="([^"]+)" hx-trigger="every (\d+)s"', page)
    assert poll and "priority=2" in poll.group(1) and "sort=-updated" in poll.group(1)
    rows = client.get(poll.group(1).replace("&amp;", "&"), HTTP_HX_REQUEST="true")
    body = rows.content.decode().strip()
    assert body.startswith("<tbody") and body.endswith("</tbody>") and "<html" not in body
    assert shown(rows) == [ticket.pk]


def test_an_htmx_filter_request_gets_only_the_results(client, agent, front_office):
    ticket = TicketFactory(team=front_office, channel="sms")
    TicketFactory(team=front_office)
    client.force_login(agent.user)
    response = client.get(QUEUE, {"channel": "sms"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="queue-results")
    html = response.content.decode().strip()
    assert html.startswith('<div id="queue-results"') and "<html" not in html
    assert shown(response) == [ticket.pk]


def test_query_count_is_bounded(client, supervisor, agent, front_office, django_assert_max_num_queries):
    tags = [Tag.objects.create(name=f"tag{i}") for i in range(3)]
    for i in range(30):
        t = TicketFactory(
            team=front_office,
            status=Status.OPEN if i % 2 else Status.NEW,
            assignee=agent if i % 2 else None,
            resolution_due=timezone.now() + timedelta(hours=i),
        )
        t.tags.add(*tags[: i % 4])
    client.force_login(supervisor.user)
    with django_assert_max_num_queries(13):
        response = client.get(QUEUE)
    assert len(shown(response)) == 30
    with django_assert_max_num_queries(9):
        client.get(reverse("desk:queue_rows"))


# Bulk actions ---------------------------------------------------------------------------------------------


def _selected(*tickets, version=None):
    return [f"{t.pk}:{t.version if version is None else version}" for t in tickets]


def test_a_supervisor_assigns_queued_and_reassigns_owned_tickets(
    client, supervisor, agent, other_agent, front_office
):
    queued = [TicketFactory(team=front_office) for _ in range(2)]
    owned = TicketFactory(team=front_office, status=Status.OPEN, assignee=other_agent)
    client.force_login(supervisor.user)
    response = client.post(
        reverse("desk:queue_bulk"),
        {
            "action": "assign",
            "agent": agent.pk,
            "ticket": _selected(*queued, owned),
            "next": "/queue/?priority=3",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/queue/?priority=3"
    for t in [*queued, owned]:
        t.refresh_from_db()
        assert t.assignee_id == agent.pk and t.status == Status.ASSIGNED
    assert TicketEvent.objects.filter(kind="reassign", ticket=owned).exists()
    page = client.get(response["Location"])
    assert "Assign: 3 done" in follow_messages(page)


def test_refusals_are_reported_per_ticket_with_their_reason(
    client, agent, other_agent, front_office, back_office
):
    mine = TicketFactory(team=front_office)
    closed = TicketFactory(team=front_office, status=Status.CLOSED, assignee=agent)
    stale = TicketFactory(team=front_office)
    invisible = TicketFactory(team=back_office)
    client.force_login(agent.user)
    response = client.post(
        reverse("desk:queue_bulk"),
        {
            "action": "assign",
            "agent": agent.pk,
            "ticket": [*_selected(mine, closed), *_selected(stale, version=99), f"{invisible.pk}:1"],
        },
        follow=True,
    )
    text = follow_messages(response)
    assert text.startswith("Assign: 1 done, 3 refused: ")
    assert f"{closed.number} (frank may not reassign {closed.number}.)" in text
    assert f"{stale.number} ({stale.number} was changed by someone else" in text
    assert f"{invisible.number} (no such ticket, or not one you may see)" in text
    mine.refresh_from_db()
    stale.refresh_from_db()
    invisible.refresh_from_db()
    assert mine.assignee_id == agent.pk
    assert stale.status == Status.NEW and invisible.status == Status.NEW


def test_an_agent_may_not_assign_tickets_to_someone_else(client, agent, other_agent, front_office):
    ticket = TicketFactory(team=front_office)
    client.force_login(agent.user)
    response = client.post(
        reverse("desk:queue_bulk"),
        {"action": "assign", "agent": other_agent.pk, "ticket": _selected(ticket)},
        follow=True,
    )
    assert "0 done, 1 refused" in follow_messages(response)
    assert "Only a supervisor may assign a ticket to someone else" in follow_messages(response)
    ticket.refresh_from_db()
    assert ticket.assignee_id is None


def test_bulk_transfer_priority_and_spam(client, agent, front_office, back_office):
    a, b, c = (TicketFactory(team=front_office, resolution_due=timezone.now()) for _ in range(3))
    client.force_login(agent.user)
    post = reverse("desk:queue_bulk")

    r = client.post(post, {"action": "priority", "priority": 1, "ticket": _selected(a, b)}, follow=True)
    assert "Set priority: 2 done" in follow_messages(r)
    a.refresh_from_db()
    assert a.priority == 1 and TicketEvent.objects.filter(ticket=a, kind="priority", to_value="P1").exists()

    r = client.post(post, {"action": "transfer", "team": back_office.pk, "ticket": _selected(a)}, follow=True)
    assert "Transfer: 1 done" in follow_messages(r)
    a.refresh_from_db()
    assert a.team_id == back_office.pk and a.status == Status.NEW

    r = client.post(post, {"action": "spam", "reason": "lottery", "ticket": _selected(c)}, follow=True)
    assert "Close as spam: 1 done" in follow_messages(r)
    c.refresh_from_db()
    assert c.status == Status.CLOSED and c.resolution_type == ResolutionType.SPAM


def test_bulk_without_what_it_needs_changes_nothing(client, agent, front_office):
    ticket = TicketFactory(team=front_office)
    client.force_login(agent.user)
    post = reverse("desk:queue_bulk")
    r = client.post(post, {"action": "assign", "ticket": _selected(ticket)}, follow=True)
    assert "Assigning needs an agent." in follow_messages(r)
    r = client.post(post, {"action": "transfer"}, follow=True)
    assert "Select at least one ticket." in follow_messages(r)
    r = client.post(post, {"action": "explode", "ticket": _selected(ticket)}, follow=True)
    assert "Nothing was changed" in follow_messages(r)
    ticket.refresh_from_db()
    assert ticket.version == 1 and ticket.status == Status.NEW


def test_bulk_never_redirects_off_the_queue(client, agent, front_office):
    ticket = TicketFactory(team=front_office)
    client.force_login(agent.user)
    for target in ("https://evil.example/queue/", "//evil.example/", "/admin/"):
        response = client.post(
            reverse("desk:queue_bulk"), {"action": "spam", "ticket": _selected(ticket), "next": target}
        )
        assert response["Location"] == QUEUE


@pytest.mark.postgres
def test_the_default_queue_reads_a_partial_index_in_queue_order(agent, supervisor, front_office, back_office):
    """The page's key query must come out of ``ticket_active_team_queue`` / ``ticket_active_queue`` sorted:
    with sorting forbidden, PostgreSQL still finds a plan with no Sort node only if an index matches the
    ORDER BY (the due-time expression included)."""
    from django.db import connection
    from django.http import QueryDict

    from tickets.filters import QueueFilter

    for team in (front_office, back_office):
        TicketFactory.create_batch(3, team=team, with_case=False)
    for user in (agent.user, supervisor.user):
        tickets = QueueFilter(QueryDict(""), user=user, queryset=queue_view.queue_tickets(user)).qs
        sort = queue_view.sort_named(None)
        page = tickets.order_by(*sort.order()).values_list("pk", *sort.keys)[: queue_view.PER_PAGE + 1]
        sql, params = page.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "ticket_active" in plan, plan
        assert "Sort" not in plan, plan
