"""Every workspace action through the test client, for every role: allowed (done, recorded) or refused
(403 when the user sees the ticket, 404 when they do not), and a refusal changes nothing.

The expectations are written out from the README's "Who may see and do what" table rather than computed
from ``tickets.lifecycle``, so a change to the table that breaks the promise fails here.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import AgentFactory, UserFactory
from tickets.intake import InboundMessage, receive
from tickets.lifecycle import Status
from tickets.models import Agent, Category, Message, Note, Tag, Ticket, TicketEvent
from tickets.models.tickets import parse_number
from tickets.services import transitions
from tickets.services.replies import add_note

pytestmark = pytest.mark.django_db

OWNER, TEAMMATE, SUPERVISOR, ADMIN, STRANGER = "owner", "teammate", "supervisor", "admin", "stranger"
IN_SIGHT = (OWNER, TEAMMATE, SUPERVISOR, ADMIN)


def _receive(**kw) -> Ticket:
    return Ticket.objects.get(pk=parse_number(receive(InboundMessage(**kw)).ticket))


@pytest.fixture
def people(agent, other_agent, back_agent, supervisor, front_office) -> dict[str, Agent]:
    # As in the demo: the admin is also an agent of the teams (so they may take a ticket themselves).
    admin = AgentFactory(
        user=UserFactory(username="adam", is_staff=True, is_superuser=True),
        role=Agent.Role.ADMIN,
        teams=[front_office],
    )
    return {OWNER: agent, TEAMMATE: other_agent, SUPERVISOR: supervisor, ADMIN: admin, STRANGER: back_agent}


@pytest.fixture
def tickets(agent, front_office) -> dict[str, Ticket]:
    """Customer ABC's internet ticket (a call and an e-mail, owned by frank, open) and their billing one."""
    first = _receive(
        channel="voice",
        sender="+447700900111",
        text="Internet not working",
        customer_unique_id="ABC",
        reference="ORD-1001",
        provider_message_id="CA-access",
    )
    _receive(
        channel="email",
        sender="abc@example.com",
        subject="ORD-1001 still down",
        text="Still down",
        customer_unique_id="ABC",
        provider_message_id="<access-1@example.com>",
    )
    billing = _receive(
        channel="email",
        sender="abc@example.com",
        subject="Billed twice",
        text="ORD-2002 billed twice",
        customer_unique_id="ABC",
        reference="ORD-2002",
        provider_message_id="<access-2@example.com>",
    )
    assert billing.pk != first.pk
    ticket = transitions.assign(ticket=first, actor=None, agent=agent, reason="routing")
    ticket = transitions.open_ticket(ticket=ticket, actor=agent.user)
    return {"ticket": ticket, "billing": billing}


def _post(client, url: str, data: dict, ticket: Ticket, *, version: bool = True):
    payload = {"version": Ticket.objects.get(pk=ticket.pk).version, **data} if version else data
    return client.post(url, payload)


def _request(action: str, ticket: Ticket, billing: Ticket, people, back_office):
    """(URL, data, the event kind a success records) for one workspace action on ``ticket``."""
    act = reverse("desk:ticket_act", args=[ticket.pk, action])
    case = ticket.cases.order_by("-id").first()
    match action:
        case "pend":
            return act, {"reason": "Waiting for the customer"}, "pend"
        case "resolve":
            return act, {"resolution_type": "fixed", "notes": "Line reset"}, "resolve"
        case "close":
            return act, {"resolution_type": "fixed", "notes": "Line reset"}, "close"
        case "escalate":
            return act, {"reason": "Needs an engineer", "to_team": ""}, "escalate"
        case "transfer":
            return act, {"team": back_office.pk, "reason": "Technical"}, "transfer"
        case "reassign":
            return act, {"agent": people[TEAMMATE].pk, "reason": "Frank is off"}, "reassign"
        case "merge":
            return act, {"into": billing.number, "reason": "Same customer"}, "merge"
        case "mark_spam":
            return act, {"reason": ""}, "mark_spam"
        case "reply":
            url = reverse("desk:ticket_reply", args=[ticket.pk])
            return url, {"channel": "email", "body": "An engineer is on the way"}, "reply"
        case "note":
            return reverse("desk:ticket_note", args=[ticket.pk]), {"body": "Line test booked"}, "note"
        case "priority" | "category" | "tags":
            value = {
                "priority": 1,
                "category": Category.objects.get_or_create(name="Outage", slug="outage")[0].pk,
                "tags": [Tag.objects.get_or_create(name="fibre")[0].pk],
            }[action]
            return reverse("desk:ticket_edit", args=[ticket.pk, action]), {action: value}, action
        case "relink":
            url = reverse("desk:ticket_relink", args=[ticket.pk, case.pk])
            return url, {"to_ticket": billing.number, "reason": "About the bill"}, "relinked"
        case "split":
            url = reverse("desk:ticket_split", args=[ticket.pk, case.pk])
            return url, {"subject": "A second issue", "reason": ""}, "split"
    raise AssertionError(action)


Y, N = True, False
# On an open ticket owned by frank (front office), for: owner, teammate, supervisor, admin.
OPEN_TICKET = {
    "pend": (Y, N, Y, Y),
    "resolve": (Y, N, Y, Y),
    "close": (Y, N, Y, Y),
    "escalate": (Y, N, Y, Y),
    "transfer": (Y, Y, Y, Y),
    "reassign": (N, N, Y, Y),
    "merge": (Y, Y, Y, Y),
    "mark_spam": (Y, Y, Y, Y),
    "reply": (Y, N, Y, Y),
    "note": (Y, Y, Y, Y),
    "priority": (Y, Y, Y, Y),
    "category": (Y, Y, Y, Y),
    "tags": (Y, Y, Y, Y),
    "relink": (Y, Y, Y, Y),
    "split": (Y, Y, Y, Y),
}
CASES = [
    pytest.param(action, who, allowed, id=f"{action}-{who}-{'allowed' if allowed else 'refused'}")
    for action, row in OPEN_TICKET.items()
    for who, allowed in zip(IN_SIGHT, row, strict=True)
]


def _snapshot(ticket: Ticket) -> tuple:
    t = Ticket.objects.get(pk=ticket.pk)
    return (t.version, t.status, t.assignee_id, t.team_id, t.priority, t.category_id, t.cases.count())


@pytest.mark.parametrize(("action", "who", "allowed"), CASES)
def test_every_action_on_an_open_ticket_for_every_role(
    client, tickets, people, back_office, action, who, allowed
):
    ticket, billing = tickets["ticket"], tickets["billing"]
    user = people[who].user
    url, data, kind = _request(action, ticket, billing, people, back_office)
    before = _snapshot(ticket)
    events_before = TicketEvent.objects.filter(actor=user).count()
    client.force_login(user)

    response = _post(client, url, data, ticket, version=action != "note")

    if allowed:
        assert response.status_code == 302, response.content.decode()[:2000]
        assert TicketEvent.objects.filter(actor=user, kind=kind).exists()
    else:
        assert response.status_code == 403
        assert "may not" in response.content.decode()
        assert _snapshot(ticket) == before
        assert TicketEvent.objects.filter(actor=user).count() == events_before
        assert not Message.objects.filter(direction="out", author=people[who]).exists()


@pytest.mark.parametrize("action", list(OPEN_TICKET))
def test_an_agent_of_another_team_cannot_reach_any_action(client, tickets, people, back_office, action):
    ticket, billing = tickets["ticket"], tickets["billing"]
    url, data, _ = _request(action, ticket, billing, people, back_office)
    before = _snapshot(ticket)
    client.force_login(people[STRANGER].user)
    assert _post(client, url, data, ticket).status_code == 404
    assert _snapshot(ticket) == before
    assert not TicketEvent.objects.filter(actor=people[STRANGER].user).exists()
    assert not Note.objects.exists()


def test_an_agent_of_another_team_reads_nothing_of_the_ticket(client, tickets, people):
    ticket = tickets["ticket"]
    client.force_login(people[STRANGER].user)
    for name in ("desk:ticket", "desk:ticket_header", "desk:ticket_canned"):
        assert client.get(reverse(name, args=[ticket.pk])).status_code == 404


@pytest.mark.parametrize(("who", "allowed"), [(OWNER, Y), (TEAMMATE, N), (SUPERVISOR, N), (ADMIN, N)])
def test_open_an_assigned_ticket(client, agent, people, who, allowed):
    ticket = _receive(channel="email", sender="q@example.com", text="Help")
    ticket = transitions.assign(ticket=ticket, actor=None, agent=agent)
    client.force_login(people[who].user)
    response = _post(client, reverse("desk:ticket_act", args=[ticket.pk, "open"]), {}, ticket)
    assert response.status_code == (302 if allowed else 403)
    assert Ticket.objects.get(pk=ticket.pk).status == (Status.OPEN if allowed else Status.ASSIGNED)


@pytest.mark.parametrize(("who", "allowed"), [(OWNER, Y), (TEAMMATE, N), (SUPERVISOR, Y), (ADMIN, Y)])
def test_reopen_a_resolved_ticket(client, tickets, people, who, allowed):
    ticket = transitions.resolve(
        ticket=tickets["ticket"].pk, actor=people[OWNER].user, resolution_type="fixed", notes="Done"
    )
    client.force_login(people[who].user)
    url = reverse("desk:ticket_act", args=[ticket.pk, "reopen"])
    response = _post(client, url, {"reason": "Still down"}, ticket)
    assert response.status_code == (302 if allowed else 403)
    assert Ticket.objects.get(pk=ticket.pk).status == (Status.ASSIGNED if allowed else Status.RESOLVED)


@pytest.mark.parametrize(
    ("who", "status"), [(TEAMMATE, 302), (SUPERVISOR, 302), (ADMIN, 302), (STRANGER, 404)]
)
def test_take_a_queued_ticket(client, people, who, status):
    ticket = _receive(channel="email", sender="queued@example.com", text="Queued")
    client.force_login(people[who].user)
    response = _post(client, reverse("desk:ticket_act", args=[ticket.pk, "assign"]), {}, ticket)
    assert response.status_code == status
    t = Ticket.objects.get(pk=ticket.pk)
    if status == 302:
        assert (t.status, t.assignee_id) == (Status.ASSIGNED, people[who].pk)
    else:
        assert (t.status, t.assignee_id) == (Status.NEW, None)


def test_an_admin_without_an_agent_profile_may_not_take_a_ticket(client, db):
    ticket = _receive(channel="email", sender="queued@example.com", text="Queued")
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    response = _post(client, reverse("desk:ticket_act", args=[ticket.pk, "assign"]), {}, ticket)
    assert response.status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW
    assert "/act/assign/" not in client.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()


def test_take_it_is_offered_only_to_agents_of_the_tickets_team(client, supervisor, back_office):
    """Someone who sees the ticket but is not in its team (an admin, a supervisor of other teams) would be
    refused: the button is not offered."""
    ticket = _receive(channel="email", sender="queued@example.com", text="Queued")
    outsider = AgentFactory(
        user=UserFactory(username="adam", is_superuser=True), role=Agent.Role.ADMIN, teams=[back_office]
    )
    client.force_login(outsider.user)
    html = client.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()
    assert "/act/assign/" not in html and "/act/transfer/" in html
    response = _post(client, reverse("desk:ticket_act", args=[ticket.pk, "assign"]), {}, ticket)
    assert response.status_code == 400 and "is not in Front office" in response.content.decode()
    client.force_login(supervisor.user)
    assert "/act/assign/" in client.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()


def test_the_buttons_match_the_table(client, tickets, people):
    """What each role is offered on the open ticket is exactly what the table lets them do."""
    ticket = tickets["ticket"]
    offered = {
        "pend": "/act/pend/",
        "resolve": "/act/resolve/",
        "close": "/act/close/",
        "escalate": "/act/escalate/",
        "transfer": "/act/transfer/",
        "reassign": "/act/reassign/",
        "merge": "/act/merge/",
        "mark_spam": "/act/mark_spam/",
        "reply": 'id="reply-form"',
        "note": 'id="note-form"',
        "priority": "/edit/priority/",
        "relink": "/relink/",
        "split": "/split/",
    }
    for index, who in enumerate(IN_SIGHT):
        client.force_login(people[who].user)
        html = client.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()
        for action, marker in offered.items():
            assert (marker in html) == OPEN_TICKET[action][index], f"{who} {action}"


def test_notes_of_other_teams_stay_hidden_both_ways_and_supervisors_see_all(
    client, agent, back_agent, supervisor, back_office, front_office
):
    ticket = _receive(channel="email", sender="notes@example.com", text="Help")
    ticket = transitions.assign(ticket=ticket, actor=None, agent=agent)
    add_note(ticket=ticket, actor=agent.user, body="Front office note")
    ticket = transitions.transfer(ticket=ticket.pk, actor=agent.user, team=back_office)
    ticket = transitions.assign(ticket=ticket, actor=None, agent=back_agent)
    add_note(ticket=ticket, actor=back_agent.user, body="Back office note")
    url = reverse("desk:ticket", args=[ticket.pk])

    client.force_login(back_agent.user)
    html = client.get(url).content.decode()
    assert "Back office note" in html and "Front office note" not in html

    client.force_login(supervisor.user)
    html = client.get(url).content.decode()
    assert "Back office note" in html and "Front office note" in html

    transitions.transfer(ticket=ticket.pk, actor=back_agent.user, team=front_office)
    client.force_login(agent.user)
    html = client.get(url).content.decode()
    assert "Front office note" in html and "Back office note" not in html
    assert "1 internal note of another team not shown" in html


@pytest.mark.parametrize("who", IN_SIGHT)
def test_the_workspace_and_an_action_cost_a_bounded_number_of_queries_for_every_role(
    client, tickets, people, who, django_assert_max_num_queries
):
    """Each role sees other forms (a supervisor's reassign lists the team's agents with their load): still a
    fixed handful of queries, and an htmx action answers with the fresh workspace within the same bound."""
    ticket = tickets["ticket"]
    client.force_login(people[who].user)
    url = reverse("desk:ticket", args=[ticket.pk])
    client.get(url)  # the session and content types, once
    with django_assert_max_num_queries(28):
        assert client.get(url).status_code == 200
    with django_assert_max_num_queries(36):
        response = client.post(
            reverse("desk:ticket_note", args=[ticket.pk]), {"body": "Checked"}, HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200 and "Note added." in response.content.decode()
