"""The knowledge base in a real browser under the strict CSP: suggestions load beside a ticket, the reply
box's search inserts an article into the reply, and an article is written from a resolved ticket."""

import pytest
from playwright.sync_api import expect

from tests.factories import AgentFactory, TicketFactory
from tickets.lifecycle import Status
from tickets.models import Agent, Article, Category

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def frank(front_office):
    agent = AgentFactory(user__username="frank", teams=[front_office], presence=Agent.Presence.ONLINE)
    agent.user.set_password("demo")
    agent.user.save()
    return agent


def test_suggest_insert_and_write_from_a_ticket(page, live_server, log_in, frank, console_errors, screenshot):
    router = Category.objects.create(name="Router", slug="router")
    Article.objects.create(
        title="Router light red",
        body="Dear {customer_name}, please power-cycle the router for 30 seconds.",
        category=router,
        published=True,
    )
    working = TicketFactory(
        subject="Router light is red", status=Status.OPEN, assignee=frank, category=router
    )
    done = TicketFactory(
        subject="Router dead after storm",
        status=Status.RESOLVED,
        assignee=frank,
        category=router,
        resolution_type="fixed",
        resolution_notes="Replaced the power supply of the router.",
    )
    log_in("frank")

    page.goto(f"{live_server.url}/tickets/{working.pk}/")
    panel = page.locator("#kb-panel")
    expect(panel.get_by_role("link", name="Router light red")).to_be_visible()  # loaded by htmx
    expect(panel.get_by_role("button", name="Create article from this ticket")).to_have_count(0)

    page.locator("#id_reply_body").fill("Hello,")
    page.get_by_role("searchbox", name="Knowledge base").fill("power")
    insert = page.get_by_role("button", name="Insert “Router light red” into the reply")
    expect(insert).to_be_visible()
    insert.click()
    expect(page.locator("#id_reply_body")).to_have_value(
        f"Hello,\n\nDear {working.customer.name}, please power-cycle the router for 30 seconds."
    )
    screenshot("article-inserted")

    page.goto(f"{live_server.url}/tickets/{done.pk}/")
    create = page.get_by_role("button", name="Create article from this ticket")
    expect(create).to_be_visible()
    with page.expect_navigation():
        create.click()
    expect(page.get_by_label("Title")).to_have_value("Router dead after storm")
    expect(page.get_by_label("Text")).to_have_value("Replaced the power supply of the router.")
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Router dead after storm")).to_be_visible()
    expect(page.get_by_text("Draft", exact=True)).to_be_visible()
    screenshot("draft-from-ticket")
    assert Article.objects.get(source_ticket=done).author == frank
    assert console_errors == []
