"""Browser tests: Debian's chromium driven by Playwright against Django's live server.

Playwright's own browser download does not work on these machines; the system browser does
(TOOLING.md). Locally a missing chromium skips these tests with the reason; in CI (``CI=1``) it fails.
"""

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Screenshots of each browser test's steps, kept as CI artifacts (README, "Browser tests").
ARTIFACTS = Path(
    os.environ.get("BROWSER_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts" / "browser")
)

# Playwright's sync API runs an event loop in this thread; the ORM calls in test bodies are still sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM) or shutil.which("chromium"):
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(
            f"CI needs chromium at {CHROMIUM} for the browser tests (apt-get install chromium)"
        )
    skip = pytest.mark.skip(reason=f"no chromium at {CHROMIUM}: apt-get install chromium")
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


def watch(page: Page, errors: list[str]) -> Page:
    """Collect every console error, uncaught exception, CSP violation and 4xx/5xx answer of ``page``."""
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return page


@pytest.fixture
def console_errors(page):
    """Every console error and CSP violation the pages report (``page`` and those of ``sign_in``); a test
    asserts it stays empty."""
    errors: list[str] = []
    watch(page, errors)
    return errors


def _log_in_on(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    # The form's POST always navigates (to the start page, or the form again with the reason): wait for it.
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()


@pytest.fixture
def log_in(page, live_server):
    """Log in through the real form, as a person would."""

    def _log_in(username: str, password: str = "demo"):
        _log_in_on(page, live_server.url, username, password)

    return _log_in


@pytest.fixture
def sign_in(new_context, live_server, console_errors):
    """``sign_in("olga")``: another person at their own browser (a fresh context, so their own session),
    logged in through the form; their page's errors count in ``console_errors`` too."""

    def _sign_in(username: str, password: str = "demo") -> Page:
        other = watch(new_context().new_page(), console_errors)
        _log_in_on(other, live_server.url, username, password)
        return other

    return _sign_in


@pytest.fixture
def screenshot(page, request):
    """``screenshot("replied")`` saves the whole page as artifacts/browser/<test>/<nn>-replied.png;
    ``screenshot("resolved", olga_page)`` saves another person's page."""
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    count = 0

    def _shot(step: str, of: Page | None = None) -> Path:
        nonlocal count
        count += 1
        path = folder / f"{count:02d}-{step}.png"
        # caret="initial": hiding the caret injects a style element, which our CSP (rightly) blocks.
        (of or page).screenshot(path=str(path), full_page=True, caret="initial")
        return path

    return _shot


@pytest.fixture
def abc(settings, playwright, live_server):
    """Customer ABC of DOMAIN.md's worked example, writing in over the signed webhooks (``customer.py``)."""
    from tests.browser.customer import INTAKE_TOKEN, WHATSAPP_SECRET, CustomerABC

    settings.INTAKE_TOKEN = INTAKE_TOKEN
    settings.WHATSAPP_APP_SECRET = WHATSAPP_SECRET
    http = playwright.request.new_context(base_url=live_server.url)
    yield CustomerABC(http)
    http.dispose()


def demo_agent(username: str, first_name: str, role: str, teams, **kwargs):
    """An agent who logs in with the password ``demo``, online unless told otherwise."""
    from tests.factories import AgentFactory
    from tickets.models import Agent

    kwargs.setdefault("presence", Agent.Presence.ONLINE)
    agent = AgentFactory(
        user__username=username, user__first_name=first_name, role=role, teams=teams, **kwargs
    )
    agent.user.set_password("demo")
    agent.user.save()
    return agent
