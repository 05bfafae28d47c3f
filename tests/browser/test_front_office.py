"""DOMAIN.md's worked example at the front office, in a real browser: Fiona logs ABC's call (ticket T1), ABC
writes on WhatsApp and by e-mail about the same order (linked to T1), Fiona takes the next ticket, replies,
sets it pending, ABC answers, Fiona escalates it to her supervisors, ABC's billing problem becomes T2,
and Fiona resolves and closes T1 — every case of T1 closes with it."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import demo_agent
from tickets.models import Agent, Case, Message, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def status_badge(page):
    return page.locator("#ticket-header .badge[title=Status]")


def test_the_front_office_works_the_worked_example_from_the_call_to_closed(
    page, live_server, log_in, front_office, abc, console_errors, screenshot
):
    demo_agent("fiona", "Fiona", Agent.Role.FRONT_OFFICE, [front_office])
    log_in("fiona")
    expect(page).to_have_url(f"{live_server.url}/my/")

    # 1. ABC phones about ORD-1: Fiona logs the call; the caller card finds ABC as she types.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Log a call").click()
    expect(page.get_by_role("heading", name="Log a call")).to_be_visible()
    page.get_by_label("Phone number").fill("+447700900100")
    expect(page.locator("#caller-match")).to_contain_text("ABC")
    page.get_by_label("Order or account reference").fill("ORD-1")
    page.get_by_label("Notes").fill("Internet not working since this morning; router light red.")
    screenshot("call-form")
    page.get_by_role("button", name="Log the call").click()
    expect(page.locator(".messages")).to_contain_text("Call logged on a new ticket")
    t1 = Ticket.objects.get(customer=abc.customer)
    expect(page.get_by_role("heading", level=1)).to_contain_text(t1.number)
    expect(status_badge(page)).to_have_text("New")  # in the front office's queue, nobody's yet
    screenshot("call-logged")

    # 2-3. ABC writes about ORD-1 on WhatsApp and by e-mail: both link to T1.
    abc.whatsapp("Still no internet, order ORD-1")
    abc.email("ORD-1 internet down", "Writing again about ORD-1: the router still blinks red.")
    assert Case.objects.filter(ticket=t1).count() == 3

    # Take next: T1 is the only queued ticket; looking at it opens it.
    page.get_by_role("link", name="My work").click()
    page.get_by_role("button", name="Take next").click()
    expect(page.locator(".messages")).to_contain_text(f"You took {t1.number}")
    expect(status_badge(page)).to_have_text("Open")
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("router light red")
    expect(timeline).to_contain_text("Still no internet, order ORD-1")
    expect(timeline).to_contain_text("the router still blinks red")
    expect(page.locator(".interactions > li")).to_have_count(3)
    screenshot("taken-and-opened")

    # Reply: by e-mail, the channel ABC used last.
    expect(page.get_by_label("Send by")).to_have_value("email")
    page.get_by_label("Reply to the customer").fill(
        "Hello Ana, please restart the router and tell us the lights."
    )
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".ws-messages")).to_contain_text("Reply queued for sending by E-mail.")
    expect(timeline).to_contain_text("please restart the router")

    # Pend: waiting on the customer.
    page.locator("details.action-pend summary").click()
    pend = page.locator("details.action-pend")
    pend.get_by_label("Reason").fill("Waiting for Ana to restart the router")
    pend.get_by_role("button", name="Pend", exact=True).click()
    expect(status_badge(page)).to_have_text("Pending")
    screenshot("replied-and-pending")

    # ABC answers on WhatsApp: the ticket is open again, with the answer in the timeline.
    abc.whatsapp("Restarted it, the light is still red.")
    page.reload()
    expect(status_badge(page)).to_have_text("Open")
    expect(timeline).to_contain_text("the light is still red")

    # Escalate to the supervisors, with the reason; the owner keeps it.
    page.locator("details.action-escalate summary").click()
    escalate = page.locator("details.action-escalate")
    expect(escalate.get_by_label("To")).to_have_value("")  # the supervisors of the team
    escalate.get_by_label("Reason").fill("Third contact today, customer works from home")
    escalate.get_by_role("button", name="Escalate").click()
    expect(page.locator("#ticket-header")).to_contain_text("Escalated")
    expect(timeline).to_contain_text("escalated it to the supervisors")
    # Only supervisors reassign: the front office is not offered it.
    expect(page.locator("details.action-reassign")).to_have_count(0)
    screenshot("escalated")

    # 4. A billing problem on ORD-2: a new ticket T2, shown in the customer panel.
    abc.email("Billed twice for ORD-2", "Separate problem: I was billed twice for ORD-2.")
    t2 = Ticket.objects.exclude(pk=t1.pk).get(customer=abc.customer)
    page.reload()
    expect(page.locator(".other-tickets")).to_contain_text(t2.number)

    # 5. Resolve (type and notes required), then close: every case of T1 closes.
    page.locator("details.action-resolve summary").click()
    resolve = page.locator("details.action-resolve")
    resolve.get_by_label("Resolution type").select_option("fixed")
    resolve.get_by_label("Resolution notes").fill("Port reset at the exchange; line back in sync.")
    resolve.get_by_role("button", name="Resolve", exact=True).click()
    expect(status_badge(page)).to_have_text("Resolved")
    screenshot("resolved")
    page.locator("details.action-close summary").click()
    close = page.locator("details.action-close")
    expect(close.get_by_label("Resolution notes")).to_have_value(re.compile("Port reset"))
    close.get_by_role("button", name="Close", exact=True).click()
    expect(status_badge(page)).to_have_text("Closed")
    expect(page.locator("#reply-form")).to_have_count(0)  # nothing more to write on a closed ticket
    screenshot("closed")

    t1.refresh_from_db()
    assert (t1.status, t1.resolution_type, t1.escalated) == ("closed", "fixed", True)
    assert set(Case.objects.filter(ticket=t1).values_list("status", flat=True)) == {"closed"}
    assert Ticket.objects.get(pk=t2.pk).status == "new"
    reply = Message.objects.get(direction="out", body__contains="restart the router")
    assert (reply.channel, reply.author.user.username) == ("email", "fiona")
    assert list(t1.events.filter(kind__in=["pend", "escalate"]).values_list("reason", flat=True)) == [
        "Waiting for Ana to restart the router",
        "Third contact today, customer works from home",
    ]
    assert console_errors == []
