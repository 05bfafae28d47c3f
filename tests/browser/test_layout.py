"""The workspace's pages at a desk's 1280 px and on a tablet held upright (820 × 1180): nothing wider than
the screen (no sideways scrolling of the page; wide tables scroll inside their own box), the main controls
on screen. A full-page screenshot of each is saved for a person to look at."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import demo_agent
from tests.factories import TicketFactory
from tickets.models import Agent, Tag
from tickets.services import transitions
from tickets.services.replies import add_note, reply

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desk-1280": (1280, 800), "tablet-820": (820, 1180)}


@pytest.fixture
def busy_desk(front_office, back_office, abc):
    """A supervisor's two teams with agents at work, queued tickets with long subjects and tags, and ABC's
    internet ticket with a call, WhatsApp and e-mail, replies and notes."""
    sue = demo_agent("sue", "Sue", Agent.Role.SUPERVISOR, [front_office, back_office])
    frank = demo_agent("frank", "Frank", Agent.Role.FRONT_OFFICE, [front_office])
    for name in ("olga", "omar", "priya"):
        demo_agent(name, name.capitalize(), Agent.Role.FRONT_OFFICE, [front_office])
    demo_agent("bob", "Bob", Agent.Role.BACK_OFFICE, [back_office])
    fibre = Tag.objects.create(name="fibre-outage-north")
    for i in range(12):
        t = TicketFactory(
            team=front_office if i % 2 else back_office,
            priority=1 + i % 4,
            subject=f"Router keeps restarting every few minutes and the customer works from home ({i})",
        )
        t.tags.add(fibre)
    abc.whatsapp("No internet since this morning, order ORD-1")
    abc.email("ORD-1 internet down", "Writing again about ORD-1: the router still blinks red. " * 6)
    ticket = abc.customer.tickets.get()
    ticket = transitions.assign(ticket=ticket, actor=None, agent=frank)
    ticket = transitions.open_ticket(ticket=ticket, actor=frank.user)
    reply(ticket=ticket, actor=frank.user, body="Hello Ana, please restart the router.")
    add_note(
        ticket=ticket, actor=frank.user, body="Line test booked for https://example.com/a/very/long/" * 3
    )
    return {"sue": sue, "frank": frank, "ticket": ticket}


def no_sideways_scroll(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the window"


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_pages_fit_a_desk_and_a_tablet(
    page, live_server, log_in, busy_desk, console_errors, screenshot, viewport
):
    width, height = VIEWPORTS[viewport]
    page.set_viewport_size({"width": width, "height": height})
    ticket = busy_desk["ticket"]

    log_in("sue")
    expect(page.get_by_role("heading", name="Supervisor board")).to_be_visible()
    screenshot(f"board-{viewport}")
    no_sideways_scroll(page)

    page.goto(f"{live_server.url}/queue/")
    expect(page.locator("#queue-rows tr")).to_have_count(13)
    expect(page.get_by_role("button", name="Take next")).to_be_in_viewport()
    screenshot(f"queue-{viewport}")
    no_sideways_scroll(page)

    page.goto(f"{live_server.url}/tickets/{ticket.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(ticket.number)
    expect(page.get_by_role("heading", name="Actions", exact=True)).to_be_visible()
    screenshot(f"workspace-{viewport}")
    no_sideways_scroll(page)

    page.goto(f"{live_server.url}/my/")
    expect(page.get_by_role("heading", name="My work")).to_be_visible()
    screenshot(f"my-work-{viewport}")
    no_sideways_scroll(page)

    page.goto(f"{live_server.url}/customers/ABC/")
    screenshot(f"customer-{viewport}")
    no_sideways_scroll(page)
    assert console_errors == []
