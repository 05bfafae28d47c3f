"""Stored XSS in a real browser: a customer's markup in every field they control (``tests/security/hostile.py``)
on every page that shows it; any ``alert()`` that ran would open a dialog, which the handler records."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import demo_agent
from tests.factories import UserFactory
from tests.security.hostile import PAYLOAD, SCRIPT, build
from tickets.models import Agent, Customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_no_customer_markup_runs_on_any_page(page, live_server, log_in, settings, front_office, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    sue = demo_agent("sue", "Sue", Agent.Role.SUPERVISOR, [front_office])
    hostile = build(settings, assign_to=sue)
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    admin.set_password("demo")
    admin.save()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(f"{page.url}: {d.message}"), d.dismiss()))

    # The customer's side first: a chat started with markup in the name and the message, in this browser.
    page.goto(f"{live_server.url}/support/chat/")
    page.get_by_label("Your name").fill(f"Browser {PAYLOAD}")
    page.get_by_label("Your e-mail address").fill("browser@example.com")
    page.locator("textarea").first.fill(f"Browser chat {PAYLOAD}")
    with page.expect_navigation():
        page.get_by_role("button", name="Start the chat").click()
    expect(page.get_by_text(f"Browser chat {SCRIPT}", exact=False).first).to_be_visible()
    page.context.clear_cookies()

    log_in("sue")
    urls = ["/my/", "/queue/", "/board/", "/search/?q=example.com"]
    urls += [f"/tickets/{t.pk}/" for t in hostile.tickets]
    urls += [f"/customers/{c.unique_id}/" for c in Customer.objects.all()]
    for url in urls:
        page.goto(f"{live_server.url}{url}")
        page.wait_for_timeout(300)  # htmx partials load after the page (some pages poll: no "networkidle")
    # The payload is on the page as text (the ticket's subject), not as markup.
    page.goto(f"{live_server.url}/tickets/{hostile.tickets[0].pk}/")
    expect(page.get_by_text(SCRIPT, exact=False).first).to_be_visible()

    page.context.clear_cookies()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("demo")
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    for model in ("customer", "customeridentity", "reference", "ticket", "message"):
        page.goto(f"{live_server.url}/admin/tickets/{model}/")
        page.wait_for_timeout(300)  # htmx partials load after the page (some pages poll: no "networkidle")
    for customer in Customer.objects.all():
        page.goto(f"{live_server.url}/admin/tickets/customer/{customer.pk}/change/")

    assert dialogs == [], dialogs
