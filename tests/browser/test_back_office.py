"""A back-office agent's day in a real browser: Bob of the technical team finds the queue on his start page,
filters it, takes the next ticket (ABC's internet fault, escalated to his team by the front office), reads the
front office's note, replies, sets it pending on the customer, the customer's answer by e-mail opens it
again, and Bob escalates it with a reason to the network team, whose agent finds it in her queue. What the
back office may not do (reassign, the board, logging calls) is not offered."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import demo_agent
from tests.factories import TeamFactory, TicketFactory
from tickets.models import Agent, Team, Ticket
from tickets.services import transitions
from tickets.services.replies import add_note

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def network(db) -> Team:
    return TeamFactory(name="Network engineering", slug="network", kind=Team.Kind.BACK)


def status_badge(page):
    return page.locator("#ticket-header .badge[title=Status]")


def queue_rows(page):
    return page.locator("#queue-rows tr")


def test_a_back_office_agent_works_an_escalated_ticket_from_the_queue(
    page, live_server, log_in, sign_in, front_office, back_office, network, abc, console_errors, screenshot
):
    frank = demo_agent("frank", "Frank", Agent.Role.FRONT_OFFICE, [front_office])
    demo_agent("bob", "Bob", Agent.Role.BACK_OFFICE, [back_office])
    demo_agent("nina", "Nina", Agent.Role.BACK_OFFICE, [network])
    # The front office took ABC's e-mail about ORD-1, noted the line test and escalated it to technical.
    abc.email("ORD-1 internet down", "The router blinks red since this morning.")
    t1 = Ticket.objects.get(customer=abc.customer)
    transitions.assign(ticket=t1, actor=None, agent=frank)
    transitions.open_ticket(ticket=t1.pk, actor=frank.user)
    add_note(ticket=t1, actor=frank.user, body="Line test failed at the cabinet.")
    transitions.escalate(
        ticket=t1.pk, actor=frank.user, reason="Line test failed: for the engineers", to_team=back_office
    )
    other = TicketFactory(team=back_office, subject="How do I change my plan?", priority=4)

    log_in("bob")
    expect(page).to_have_url(f"{live_server.url}/queue/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Board")).to_have_count(0)
    expect(nav.get_by_role("link", name="Log a call")).to_have_count(0)
    expect(queue_rows(page)).to_have_count(2)
    expect(page.locator("#queue-rows tr", has_text=t1.number)).to_contain_text("escalated")
    screenshot("queue")

    # Filters: by text, then by priority; the address keeps them; reset shows everything again.
    filters = page.get_by_role("form", name="Filter the queue")
    filters.get_by_label("Search").fill("internet")
    filters.get_by_label("Search").press("Enter")
    expect(queue_rows(page)).to_have_count(1)
    expect(queue_rows(page).first).to_contain_text(t1.number)
    expect(page).to_have_url(re.compile(r"/queue/\?.*q=internet"))
    filters.get_by_label("Search").fill("")
    filters.get_by_label("Priority").select_option("4")
    expect(queue_rows(page)).to_have_count(1)
    expect(queue_rows(page).first).to_contain_text(other.number)
    screenshot("queue-filtered")
    page.get_by_role("link", name="Reset").click()
    expect(queue_rows(page)).to_have_count(2)

    # Take next: the most urgent queued ticket of his team; looking at it opens it.
    page.get_by_role("button", name="Take next").click()
    expect(page.locator(".messages")).to_contain_text(f"You took {t1.number}")
    expect(status_badge(page)).to_have_text("Open")
    expect(page.locator("#ticket-header")).to_contain_text("Escalated")
    timeline = page.locator(".timeline")
    # Escalated to his team: the front office's internal note is his to read.
    expect(timeline).to_contain_text("Line test failed at the cabinet.")
    expect(timeline).to_contain_text("Line test failed: for the engineers")
    # Only supervisors reassign.
    expect(page.locator("details.action-reassign")).to_have_count(0)
    screenshot("taken")

    page.get_by_label("Reply to the customer").fill("We are testing your line from the exchange now.")
    page.get_by_role("button", name="Send reply").click()
    expect(timeline).to_contain_text("testing your line from the exchange")
    page.locator("details.action-pend summary").click()
    pend = page.locator("details.action-pend")
    pend.get_by_label("Reason").fill("Waiting on Ana to read the router lights")
    pend.get_by_role("button", name="Pend", exact=True).click()
    expect(status_badge(page)).to_have_text("Pending")
    screenshot("pending")

    # The customer answers by e-mail, quoting the ticket number: open again.
    abc.email(f"Re: {t1.number}", "All four lights are red now.")
    page.reload()
    expect(status_badge(page)).to_have_text("Open")
    expect(timeline).to_contain_text("All four lights are red now.")

    # Escalate to the network team with the reason: it leaves Bob's sight, he is back on his queue.
    page.locator("details.action-escalate summary").click()
    escalate = page.locator("details.action-escalate")
    escalate.get_by_label("To").select_option(label="Network engineering")
    escalate.get_by_label("Reason").fill("Fault is in the street cabinet")
    escalate.get_by_role("button", name="Escalate").click()
    expect(page).to_have_url(f"{live_server.url}/queue/")
    expect(page.locator(".messages")).to_contain_text(f"{t1.number} is escalated.")
    expect(page.locator("#queue-rows tr", has_text=t1.number)).to_have_count(0)
    screenshot("escalated-away")

    # The board is refused to him (the link is not offered; the address answers 403).
    assert page.request.get(f"{live_server.url}/board/").status == 403

    # The network team's agent finds it in her queue, escalated, with the reason on its history.
    nina = sign_in("nina")
    expect(nina).to_have_url(f"{live_server.url}/queue/")
    row = nina.locator("#queue-rows tr", has_text=t1.number)
    expect(row).to_contain_text("escalated")
    row.get_by_role("link", name=t1.number).click()
    expect(nina.locator(".timeline")).to_contain_text("Fault is in the street cabinet")
    screenshot("network-queue", nina)

    t1 = Ticket.objects.get(pk=t1.pk)
    assert (t1.team_id, t1.status, t1.assignee_id) == (network.pk, "new", None)
    assert t1.escalated and t1.escalation_level == 2
    assert t1.events.filter(kind="escalate", reason="Fault is in the street cabinet").exists()
    assert console_errors == []
