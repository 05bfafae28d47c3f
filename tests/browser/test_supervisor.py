"""A supervisor's morning in a real browser: the board, an agent's limit raised in place, a ticket reassigned."""

import pytest
from playwright.sync_api import expect

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
    page.wait_for_load_state()
    screenshot("reassigned")

    ticket = Ticket.objects.get(pk=ticket.pk)
    assert ticket.assignee_id == olga.pk
    assert ticket.events.filter(kind="reassign", reason__contains="dentist").exists()
    assert console_errors == []
