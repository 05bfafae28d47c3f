"""The story an agent lives, in a real browser: a customer writes, routing gives the ticket to Frank, Frank
finds it on his work list, opens it (it moves to `open` by itself), replies, notes, and resolves it."""

import pytest
from playwright.sync_api import expect

from tests.factories import AgentFactory
from tickets.intake import InboundMessage, receive
from tickets.models import Agent, Message, Note
from tickets.services.routing import distribute

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def frank(front_office):
    agent = AgentFactory(user__username="frank", teams=[front_office], presence=Agent.Presence.ONLINE)
    agent.user.set_password("demo")
    agent.user.save()
    return agent


def test_an_agent_works_a_ticket_from_his_list_to_resolved(
    page, live_server, log_in, frank, front_office, console_errors, screenshot
):
    result = receive(
        InboundMessage(
            channel="email",
            sender="kim@example.com",
            sender_name="Kim <b>Bold</b>",
            subject="Router broken <script>alert(1)</script>",
            text="My router ORD-4242 blinks red.",
            provider_message_id="<story-1@example.com>",
        )
    )
    distribute(team=front_office)
    ticket = Message.objects.get(pk=result.message).interaction.case.ticket
    assert ticket.assignee_id == frank.pk and ticket.status == "assigned"

    log_in("frank")
    expect(page).to_have_url(f"{live_server.url}/my/")
    screenshot("my-work")
    page.get_by_role("link", name=ticket.number).click()

    # Opening an assigned ticket opens it; the customer's markup is text, never markup.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Router broken <script>alert(1)</script>")
    ticket.refresh_from_db()
    assert ticket.status == "open"
    screenshot("ticket-opened")

    page.keyboard.press("r")  # the reply box, by keyboard
    page.keyboard.type("Hello Kim, please unplug it for 30 seconds.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator("#workspace")).to_contain_text("please unplug it for 30 seconds")

    page.get_by_label("Internal note").fill("Known firmware issue, see KB-12.")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#workspace")).to_contain_text("Known firmware issue")
    screenshot("replied-and-noted")

    resolve = page.locator("details.action-resolve")
    resolve.get_by_text("Resolve…").click()
    resolve.get_by_label("Resolution type").select_option("workaround")
    resolve.get_by_label("Resolution notes").fill("Power cycle cleared it.")
    resolve.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.locator("#workspace")).to_contain_text("resolved")
    screenshot("resolved")

    ticket.refresh_from_db()
    assert ticket.status == "resolved" and ticket.resolution_type == "workaround"
    reply = Message.objects.get(interaction__case__ticket=ticket, direction="out", body__contains="unplug")
    assert reply.channel == "email"
    assert Note.objects.filter(ticket=ticket, body__contains="firmware").exists()
    assert console_errors == []
