"""The workspace shell in a real browser: log-in, the strict CSP with htmx and our script, shortcuts."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import demo_agent
from tests.factories import AgentFactory
from tickets.models import Agent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def frank(front_office):
    agent = AgentFactory(user__username="frank", teams=[front_office], presence=Agent.Presence.OFFLINE)
    agent.user.set_password("demo")
    agent.user.save()
    return agent


def test_log_in_presence_and_shortcut_help_work_under_the_csp(
    page, live_server, log_in, frank, console_errors
):
    log_in("frank")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert page.evaluate("typeof window.htmx") == "object", "htmx must load under the CSP"

    # The presence select submits itself (static JS, no inline handler) and the service records it.
    page.get_by_label("My presence").select_option("online")
    expect(page.get_by_text("You are online.")).to_be_visible()
    frank.refresh_from_db()
    assert frank.presence == Agent.Presence.ONLINE

    # "?" lists the shortcuts declared in the page; Escape closes the overlay.
    page.keyboard.press("?")
    overlay = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(overlay).to_be_visible()
    expect(overlay).to_contain_text("Go to my start page")
    page.keyboard.press("Escape")
    expect(overlay).to_be_hidden()
    assert console_errors == []


def test_a_wrong_password_is_explained(page, live_server, log_in, frank):
    log_in("frank", "wrong")
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")


@pytest.mark.parametrize(
    ("role", "start", "heading"),
    [
        (Agent.Role.FRONT_OFFICE, "/my/", "My work"),
        (Agent.Role.BACK_OFFICE, "/queue/", "Queue"),
        (Agent.Role.SUPERVISOR, "/board/", "Supervisor board"),
        (Agent.Role.ADMIN, "/admin/", "Site administration"),
    ],
)
def test_each_role_logs_in_to_its_start_page(
    page, live_server, log_in, front_office, console_errors, screenshot, role, start, heading
):
    agent = demo_agent("someone", "Someone", role, [front_office])
    if role == Agent.Role.ADMIN:
        agent.user.is_staff = agent.user.is_superuser = True
        agent.user.save()
    log_in("someone")
    expect(page).to_have_url(f"{live_server.url}{start}")
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    screenshot("start-page")
    assert console_errors == []
