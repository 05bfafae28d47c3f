"""A supervisor's morning in a real browser: the board, an agent's limit raised in place, a ticket reassigned."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import demo_agent
from tests.factories import AgentFactory, TicketFactory
from tickets.models import Agent, Ticket
from tickets.services import transitions

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_supervisor_raises_a_limit_and_reassigns_from_the_board(
    page, live_server, log_in, front_office, console_errors, screenshot
):
    sue = AgentFactory(user__username="sue", role=Agent.Role.SUPERVISOR, teams=[front_office])
    sue.user.set_password("demo")
    sue.user.save()
    frank = AgentFactory(
        user__username="frank", user__first_name="Frank", teams=[front_office], presence=Agent.Presence.ONLINE
    )
    olga = AgentFactory(
        user__username="olga",
        user__first_name="Olga",
        teams=[front_office],
        presence=Agent.Presence.ONLINE,
        max_active_assignments=1,
    )
    ticket = transitions.assign(
        ticket=TicketFactory(team=front_office, subject="Fibre cut"),
        actor=None,
        agent=frank,
        reason="routing",
    )

    log_in("sue")
    expect(page).to_have_url(f"{live_server.url}/board/")
    screenshot("board")

    # Olga's limit, in place.
    page.get_by_label(f"Maximum active tickets of {olga}").fill("3")
    page.get_by_label(f"Maximum active tickets of {olga}").locator("xpath=..").get_by_role(
        "button", name="Set limit"
    ).click()
    expect(page.get_by_text(f"{olga} may now have 3 active tickets.")).to_be_visible()
    olga.refresh_from_db()
    assert olga.max_active_assignments == 3

    # Frank's ticket to Olga, with the reason.
    row = page.locator("tr", has_text=str(frank)).filter(has=page.get_by_text("1 active"))
    row.get_by_text("1 active").click()
    row.get_by_label(f"Ticket of {frank} to reassign").select_option(f"{ticket.pk}:{ticket.version}")
    row.get_by_label("to", exact=True).select_option(str(olga.pk))
    row.get_by_placeholder("Reason").fill("Frank is at the dentist")
    row.get_by_role("button", name="Reassign").click()
    expect(page.locator(".messages")).to_contain_text(f"{ticket.number} is reassigned to {olga}.")
    screenshot("reassigned")

    ticket = Ticket.objects.get(pk=ticket.pk)
    assert ticket.assignee_id == olga.pk
    assert ticket.events.filter(kind="reassign", reason__contains="dentist").exists()
    assert console_errors == []


def test_a_supervisor_reassigns_an_escalated_ticket_and_the_new_owner_resolves_and_closes_it(
    page, live_server, log_in, sign_in, front_office, abc, console_errors, screenshot
):
    demo_agent("sue", "Sue", Agent.Role.SUPERVISOR, [front_office])
    frank = demo_agent("frank", "Frank", Agent.Role.FRONT_OFFICE, [front_office])
    olga = demo_agent("olga", "Olga", Agent.Role.FRONT_OFFICE, [front_office])
    # ABC's WhatsApp about ORD-1 is Frank's; he escalated it to his supervisors.
    abc.whatsapp("No internet since this morning, order ORD-1")
    t1 = Ticket.objects.get(customer=abc.customer)
    transitions.assign(ticket=t1, actor=None, agent=frank)
    transitions.open_ticket(ticket=t1.pk, actor=frank.user)
    transitions.escalate(ticket=t1.pk, actor=frank.user, reason="Customer threatens to leave")

    log_in("sue")
    expect(page).to_have_url(f"{live_server.url}/board/")
    row = page.locator("tr", has_text="Frank").filter(has=page.get_by_text("1 active"))
    row.get_by_text("1 active").click()  # his active tickets, with why each is his
    row.locator(".agent-tickets").get_by_role("link", name=t1.number).click()
    expect(page.locator("#ticket-header")).to_contain_text("Escalated")
    expect(page.locator(".timeline")).to_contain_text("Customer threatens to leave")
    # A supervisor looking does not open someone else's ticket, and is not offered to.
    expect(page.get_by_role("button", name="Open", exact=True)).to_have_count(0)
    screenshot("escalated-ticket")

    page.locator("details.action-reassign summary").click()
    reassign = page.locator("details.action-reassign")
    reassign.get_by_label("To agent").select_option(str(olga.pk))
    reassign.get_by_label("Reason").fill("Olga knows this fibre fault")
    reassign.get_by_role("button", name="Reassign").click()
    expect(page.locator(".ws-messages")).to_contain_text(f"{t1.number} is reassigned.")
    header = page.locator("#ticket-header")
    expect(header).to_contain_text("Olga")
    expect(header.locator(".badge[title=Status]")).to_have_text("Assigned")
    screenshot("reassigned")

    # Olga, at her own desk, finds it on her work list, opens it, resolves and closes it.
    olga_page = sign_in("olga")
    expect(olga_page).to_have_url(f"{live_server.url}/my/")
    olga_page.get_by_role("link", name=t1.number).click()
    status = olga_page.locator("#ticket-header .badge[title=Status]")
    expect(status).to_have_text("Open")
    olga_page.locator("details.action-resolve summary").click()
    resolve = olga_page.locator("details.action-resolve")
    resolve.get_by_label("Resolution type").select_option("fixed")
    resolve.get_by_label("Resolution notes").fill("Fibre spliced at the cabinet.")
    resolve.get_by_role("button", name="Resolve", exact=True).click()
    expect(status).to_have_text("Resolved")
    olga_page.locator("details.action-close summary").click()
    olga_page.locator("details.action-close").get_by_role("button", name="Close", exact=True).click()
    expect(status).to_have_text("Closed")
    screenshot("closed-by-olga", olga_page)

    t1 = Ticket.objects.get(pk=t1.pk)
    assert (t1.status, t1.assignee_id, t1.resolution_type) == ("closed", olga.pk, "fixed")
    assert t1.events.get(kind="reassign").reason == "Olga knows this fibre fault"
    assert t1.events.get(kind="reassign").actor.username == "sue"
    assert t1.events.get(kind="close").actor.username == "olga"
    assert console_errors == []


def test_a_change_from_a_stale_screen_is_refused_with_who_changed_what_and_the_fresh_ticket(
    page, live_server, log_in, sign_in, front_office, abc, console_errors, screenshot
):
    demo_agent("sue", "Sue", Agent.Role.SUPERVISOR, [front_office])
    frank = demo_agent("frank", "Frank", Agent.Role.FRONT_OFFICE, [front_office])
    abc.whatsapp("No internet since this morning, order ORD-1")
    t1 = Ticket.objects.get(customer=abc.customer)
    transitions.assign(ticket=t1, actor=None, agent=frank)

    log_in("frank")
    page.get_by_role("link", name=t1.number).click()
    status = page.locator("#ticket-header .badge[title=Status]")
    expect(status).to_have_text("Open")
    page.locator("details.action-resolve summary").click()
    resolve = page.locator("details.action-resolve")
    resolve.get_by_label("Resolution type").select_option("fixed")
    resolve.get_by_label("Resolution notes").fill("Router replaced.")

    # Meanwhile his supervisor, at her own desk, sets the ticket pending.
    sue = sign_in("sue")
    sue.goto(f"{live_server.url}/tickets/{t1.pk}/")
    sue.locator("details.action-pend summary").click()
    sue.locator("details.action-pend").get_by_label("Reason").fill("Waiting for the engineer's report")
    sue.locator("details.action-pend").get_by_role("button", name="Pend", exact=True).click()
    expect(sue.locator("#ticket-header .badge[title=Status]")).to_have_text("Pending")

    # Frank's resolve from the screen he had open is refused: who changed what, the fresh state, his text kept.
    resolve.get_by_role("button", name="Resolve", exact=True).click()
    messages = page.locator(".ws-messages")
    expect(messages).to_contain_text(f"sue changed {t1.number}")
    expect(messages).to_contain_text("Waiting for the engineer's report")
    expect(messages).to_contain_text("Your change was not saved")
    expect(status).to_have_text("Pending")
    expect(page.locator("details.action-resolve").get_by_label("Resolution notes")).to_have_value(
        "Router replaced."
    )
    screenshot("conflict")

    # Sent again from the fresh screen, it goes through.
    page.locator("details.action-resolve").get_by_role("button", name="Resolve", exact=True).click()
    expect(status).to_have_text("Resolved")
    t1 = Ticket.objects.get(pk=t1.pk)
    assert (t1.status, t1.resolution_notes) == ("resolved", "Router replaced.")
    assert console_errors == []
