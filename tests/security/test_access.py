"""Every URL the site has, for every role that must not reach the victim team's ticket, GET and POST.

The URLs come from the resolver (``get_resolver()``), so a view added later is covered without touching this
file — unless it takes a URL argument nobody has given a value for here, which fails loudly below. Public
URLs (log-in, ``/support/``, webhooks, ``/healthz``) are listed explicitly in ``PUBLIC``; anything else needs a
signed-in user with the right to what it names.

What each role may *not* have: the victim ticket, its notes, attachments, messages and history, and (except
for admins and supervisors, who look up any customer: ``tickets.selectors.customers``) its customer. So for every
URL × role × method:

* a URL that names the victim's objects answers 302 to a log-in page, 403, 404 or 405 (method refused);
* no answer shows any of the victim's data (``SECRETS``), whatever its status;
* after a POST the victim ticket, its notes, messages, cases and its owner's presence and limit are as before.

Admins may do everything, so for them only the public URLs are tried (webhooks refuse an admin's browser
session like anybody's) and every other GET must answer without a server error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from reporting.exports import TABLES
from tests.security.conftest import SECRETS, World
from tickets.forms import ACTION_FORMS, EDIT_FORMS
from tickets.lifecycle import Status

NO_SUCH = 999_999

ROLES = ("anonymous", "front_office_other_team", "back_office_other_team", "supervisor_other_team", "admin")

# Meant to be open without a log-in (each checks its own secret, session or signature instead).
PUBLIC_PREFIXES = (
    "login/",
    "logout/",
    "support/",
    "intake/",
    "anymail/",
    "healthz",
    "admin/login/",
    "admin/logout/",
)
# Webhooks: whoever asks, a request without the provider's signature or token is refused and stores nothing.
WEBHOOK_PREFIXES = ("intake/", "anymail/")
# Patterns without a name cannot be reversed: a sample path for each (a new unnamed one fails below).
UNNAMED = {"admin/(?P<url>.*)$": "/admin/no-such-page/"}


@dataclass(frozen=True)
class Route:
    route: str  # the pattern as written, e.g. "tickets/<int:pk>/"
    name: str  # "desk:ticket", "" when unnamed
    kwargs: tuple[str, ...]

    def __str__(self):
        return self.route


def _walk(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = ":".join(x for x in (namespace, p.namespace) if x) if p.namespace else namespace
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            name = f"{namespace}:{p.name}" if namespace and p.name else (p.name or "")
            yield Route(prefix + str(p.pattern), name, tuple(p.pattern.regex.groupindex))


ROUTES = list(_walk(get_resolver().url_patterns))


def _plain(route: str) -> str:
    return route.lstrip("^")


def is_public(r: Route) -> bool:
    return _plain(r.route).startswith(PUBLIC_PREFIXES)


def is_webhook(r: Route) -> bool:
    return _plain(r.route).startswith(WEBHOOK_PREFIXES)


def kwarg_values(r: Route, w: World) -> list[dict]:
    """Every set of URL arguments to try: each names the victim's objects (or one of each choice)."""
    ticket, owner = w.ticket, w.owner
    pk = ticket.pk
    if r.name.startswith("desk:board"):
        pk = owner.pk  # the board's agent rows: the victim team's agent
    elif r.name in ("desk:kb_article", "desk:kb_edit"):
        pk = NO_SUCH  # articles are shared by every team: only a missing one to try
    single = {
        "pk": pk,
        "article_pk": NO_SUCH,
        "attachment_pk": w.attachments[0].pk,
        "case_pk": w.case_pk,
        "unique_id": ticket.customer.unique_id,
        "object_id": str(ticket.pk),
        "id": str(owner.user.pk),
        "content_type_id": "1",
        "app_label": "tickets",
        "token": "forged-token",  # the customer-facing pages' signed links: a made-up one
    }
    choices = {"action": sorted(ACTION_FORMS), "field": sorted(EDIT_FORMS), "table": sorted(TABLES)}
    missing = [k for k in r.kwargs if k not in single and k not in choices]
    if missing:
        pytest.fail(f"{r.route}: add a value for URL argument(s) {missing} to tests/security/test_access.py")
    combos = [{k: single[k] for k in r.kwargs if k in single}]
    for key, values in choices.items():
        if key in r.kwargs:
            combos = [{**c, key: v} for c in combos for v in values]
    return combos


def urls_for(r: Route, w: World) -> list[str]:
    if not r.name:
        if r.route in UNNAMED:
            return [UNNAMED[r.route]]
        if "(?P<" in r.route or r.route.startswith("^"):
            pytest.fail(f"unnamed URL pattern {r.route!r}: add a sample path to UNNAMED")
        return [
            "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m, kw=kwargs: str(kw[m.group(1)]), r.route)
            for kwargs in kwarg_values(r, w)
        ]
    urls = []
    for kwargs in kwarg_values(r, w):
        try:
            urls.append(reverse(r.name, kwargs=kwargs))
        except Exception:  # a pattern with an unnamed optional group (anymail's mailgun): no arguments
            urls.append(reverse(r.name))
    if r.name == "desk:ticket_attachment":
        urls += [
            reverse(r.name, kwargs={"pk": w.ticket.pk, "attachment_pk": a.pk}) for a in w.attachments[1:]
        ]
    return urls


def post_data(w: World) -> dict:
    """One body for every POST: whatever field a view reads, aimed at the victim's ticket and owner."""
    t = w.ticket
    return {
        "version": t.version,
        "body": "written by someone without access",
        "reason": "no access",
        "notes": "no access",
        "resolution_type": "fixed",
        "channel": "email",
        "priority": 1,
        "presence": "offline",
        "maximum": 0,
        "ticket": f"{t.pk}:{t.version}",
        "action": "spam",
        "into": t.number,
        "to_ticket": t.number,
        "subject": "split off",
        "next": "/",
        "_selected_action": t.pk,
        "post": "yes",
    }


def client_for(role: str, w: World) -> Client:
    client = Client()
    user = w.users[role]
    if user is not None:
        client.force_login(user)
    return client


def shows_secret(response, role: str) -> str | None:
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content).decode(errors="replace")
    else:
        body = response.content.decode(errors="replace")
    allowed = {"Zyxcustomer"} if role in SEES_ANY_CUSTOMER else set()
    return next((s for s in SECRETS if s in body and s not in allowed), None)


def refused(response, client=None, hops: int = 3) -> bool:
    if response.status_code in (403, 404, 405):
        return True
    if response.status_code == 302:
        location = response["Location"]
        # To a log-in page, or the admin's "no such object" bounce to its index.
        if re.search(r"^/(admin/)?login/|^/admin/$", location):
            return True
        # Another page of ours (the admin's old object URL → its change page): judged by where it leads.
        if client is not None and hops and location.startswith("/"):
            return refused(client.get(location), client, hops - 1)
    return False


NAMES_VICTIM = frozenset({"pk", "attachment_pk", "case_pk", "unique_id", "object_id", "id"})
# Supervisors look up any customer (tickets.selectors.customers, reporting's unique-ID report): for them a URL
# naming the victim's customer is allowed, and only that customer's tickets and messages must stay hidden.
SEES_ANY_CUSTOMER = frozenset({"supervisor_other_team"})


def names_victim(route: Route, role: str) -> bool:
    named = set(route.kwargs) & NAMES_VICTIM
    if role in SEES_ANY_CUSTOMER:
        named -= {"unique_id"}
    return bool(named)


def _try(route: Route, roles, world: World) -> list[str]:
    """GET and POST every URL of ``route`` as each of ``roles``; what went wrong, as readable lines."""
    problems = []
    for role in roles:
        client = client_for(role, world)
        before = world.state()
        for url in urls_for(route, world):
            for method in ("get", "post"):
                response = getattr(client, method)(url, post_data(world) if method == "post" else None)
                label = f"{method.upper()} {url} as {role} → {response.status_code}"
                if response.status_code >= 500 and not url.startswith("/healthz"):
                    problems.append(f"{label}: server error")
                if is_public(route):
                    if (
                        is_webhook(route)
                        and method == "post"
                        and response.status_code not in (400, 401, 403, 405)
                    ):
                        problems.append(f"{label}: an unsigned webhook request was not refused")
                elif (names_victim(route, role) or role == "anonymous") and not refused(response, client):
                    problems.append(f"{label}: not refused")
                if secret := shows_secret(response, role):
                    problems.append(f"{label}: shows {secret!r}")
                if world.state() != before:
                    problems.append(f"{label}: changed the victim's ticket or owner")
                    before = world.state()
    return problems


# One test per URL pattern, every role inside it: the world is built once per pattern, not once per role.
@pytest.mark.parametrize("route", [r for r in ROUTES if not is_public(r)], ids=str)
def test_no_role_without_access_reaches_the_victims_data(route, world):
    problems = _try(route, [r for r in ROLES if r != "admin"], world)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("route", [r for r in ROUTES if is_public(r)], ids=str)
def test_public_urls_show_nobodys_data_and_webhooks_refuse_unsigned_requests(route, world):
    # Admins too: a browser session never stands in for a provider's signature.
    problems = _try(route, ROLES, world)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("route", [r for r in ROUTES if not is_public(r)], ids=str)
def test_admins_reach_every_page_without_a_server_error(route, world):
    client = client_for("admin", world)
    for url in urls_for(route, world):
        response = client.get(url)
        assert response.status_code < 500, f"GET {url} as admin → {response.status_code}"


@pytest.mark.parametrize("role", ROLES)
def test_every_attachment_of_another_teams_ticket_is_refused_and_logged(role, world, caplog):
    client = client_for(role, world)
    for a in world.attachments:
        url = reverse("desk:ticket_attachment", kwargs={"pk": world.ticket.pk, "attachment_pk": a.pk})
        with caplog.at_level("WARNING", logger="helpdesk.security"):
            caplog.clear()
            response = client.get(url)
        if role == "admin":
            assert response.status_code == 200
            assert response["Content-Disposition"].startswith("attachment;")
            assert response["X-Content-Type-Options"] == "nosniff"
            assert response["Content-Type"] == a.content_type
            assert b"".join(response.streaming_content).endswith(b"secret")
            continue
        assert refused(response), (url, role, response.status_code)
        if role != "anonymous":
            assert response.status_code == 404
            (record,) = [r for r in caplog.records if r.name == "helpdesk.security"]
            assert f"path={url}" in record.getMessage() and w_user(world, role) in record.getMessage()


def w_user(world: World, role: str) -> str:
    return world.users[role].get_username()


def test_an_attachment_is_only_served_under_its_own_ticket(world, client):
    """A visible ticket's id with another ticket's attachment id (the classic IDOR) is a 404."""
    from tests.factories import TicketFactory

    mine = TicketFactory(team=world.team, assignee=world.owner, status=Status.OPEN)
    client.force_login(world.owner.user)
    url = reverse("desk:ticket_attachment", kwargs={"pk": mine.pk, "attachment_pk": world.attachments[0].pk})
    assert client.get(url).status_code == 404


def test_media_files_are_not_served_by_url(world, client, settings):
    client.force_login(world.users["admin"])
    path = world.attachments[0].file.name
    assert client.get(f"{settings.MEDIA_URL}{path}").status_code == 404
    assert client.get(f"/media/{path}").status_code == 404


def test_refusals_are_logged_with_user_path_and_reason(world, client, caplog):
    client.force_login(world.users["back_office_other_team"])
    with caplog.at_level("WARNING", logger="helpdesk.security"):
        response = client.get(reverse("desk:board"))
    assert response.status_code == 403
    (line,) = [r.getMessage() for r in caplog.records if r.name == "helpdesk.security"]
    assert "user=bo-other" in line and "path=/board/" in line and "The board is for supervisors" in line


def test_other_teams_notes_are_not_shown_to_a_team_that_may_see_the_ticket(world, client):
    """A ticket transferred to another team: that team sees it, but not the notes written before."""
    from tickets.models import Team, Ticket

    billing = Team.objects.get(slug="billing")
    billing_agent = world.users["front_office_other_team"].agent
    Ticket.objects.filter(pk=world.ticket.pk).update(team=billing, assignee=billing_agent)
    client.force_login(world.users["front_office_other_team"])
    response = client.get(reverse("desk:ticket", args=[world.ticket.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "zyx-subject-marker" in html and "zyx-note-marker" not in html


def test_looking_up_another_teams_customer_is_a_logged_404(world, client, caplog):
    client.force_login(world.users["front_office_other_team"])
    with caplog.at_level("WARNING", logger="helpdesk.security"):
        response = client.get(reverse("desk:customer", args=[world.ticket.customer.unique_id]))
        unknown = client.get(reverse("desk:customer", args=["NO-SUCH-CUSTOMER"]))
    assert response.status_code == unknown.status_code == 404
    (line,) = [r.getMessage() for r in caplog.records if r.name == "helpdesk.security"]
    assert "status=404 user=fo-other" in line and "VICTIM1" in line
