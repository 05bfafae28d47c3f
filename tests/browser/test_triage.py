"""Triage in a real browser: a likely duplicate arrives, the workspace offers the merge, the agent takes it."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import demo_agent
from tickets.intake import InboundMessage, receive
from tickets.lifecycle import Status
from tickets.models import Agent, Ticket
from tickets.services import transitions

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def web_form(text: str, subject: str):
    result = receive(InboundMessage(channel="web", sender="dup@example.com", text=text, subject=subject))
    return Ticket.objects.get(pk=int(result.ticket[2:]))


def test_an_agent_merges_the_duplicate_the_workspace_offers(
    page, live_server, log_in, front_office, console_errors, screenshot
):
    frank = demo_agent("frank", "Frank", Agent.Role.FRONT_OFFICE, [front_office], max_active_assignments=5)
    first = web_form("My router reboots every hour since Monday", "Router")
    web_form("My order ORD-55 has not arrived", "Order")
    again = web_form("My router reboots every hour since Monday!!", "Router")
    for ticket in (first, again):
        if Ticket.objects.get(pk=ticket.pk).status == Status.NEW:
            transitions.assign(ticket=ticket, actor=None, agent=frank)

    log_in("frank")
    page.goto(f"{live_server.url}/tickets/{again.pk}/")
    banner = page.locator(".duplicate-offer")
    expect(banner).to_contain_text(f"This looks like a duplicate of {first.number}")
    screenshot("offered")

    page.once("dialog", lambda dialog: dialog.accept())
    banner.get_by_role("button", name=f"Merge into {first.number}").click()
    expect(page.locator("#workspace")).to_contain_text(f"{again.number} is merged.")
    expect(page.locator(".duplicate-offer")).to_have_count(0)
    screenshot("merged")

    again.refresh_from_db()
    assert (again.status, again.merged_into_id) == (Status.CLOSED, first.pk)
    assert first.cases.count() == 2
    assert console_errors == []
