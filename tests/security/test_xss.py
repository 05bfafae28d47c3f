"""Stored XSS: markup a customer typed into every field they control (``tests/security/hostile.py``), rendered
on every page that shows it — escaped, never markup. ``tests/browser/test_xss.py`` runs the same pages in
chromium with a dialog handler."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import AgentFactory, UserFactory
from tests.security.hostile import ESCAPED, PAYLOAD, build, unescaped
from tickets.models import Agent, Attachment, CustomerIdentity, Message, Reference


@pytest.fixture
def hostile(db, settings, tmp_path, front_office):
    settings.MEDIA_ROOT = tmp_path / "media"
    sup = AgentFactory(user__username="sue", role=Agent.Role.SUPERVISOR, teams=[front_office])
    data = build(settings, assign_to=sup)
    data.supervisor = sup
    return data


def desk_pages(h) -> list[str]:
    urls = [reverse("desk:my_work"), reverse("desk:queue"), reverse("desk:queue_rows"), reverse("desk:board")]
    for t in h.tickets:
        urls += [reverse("desk:ticket", args=[t.pk]), reverse("desk:ticket_header", args=[t.pk])]
    urls += [reverse("desk:customer", args=[c.unique_id]) for c in h.customers]
    urls += [f"{reverse('desk:search')}?q=example.com", f"{reverse('desk:search')}?q=Social"]
    urls += [f"{reverse('desk:call_lookup')}?customer_id={h.customers[-1].unique_id}"]
    urls += [f"{reverse('desk:log_call')}?customer_id={h.customers[-1].unique_id}"]
    return urls


ADMIN_MODELS = (
    "tickets/customer",
    "tickets/customeridentity",
    "tickets/reference",
    "tickets/ticket",
    "tickets/interaction",
    "tickets/case",
    "tickets/message",
    "channels_intake/inboundevent",
)


def admin_pages(h) -> list[str]:
    urls = [f"/admin/{m}/" for m in ADMIN_MODELS]
    urls += [f"/admin/tickets/customer/{c.pk}/change/" for c in h.customers]
    urls += [f"/admin/tickets/ticket/{t.pk}/change/" for t in h.tickets]
    urls += [f"/admin/tickets/message/{m.pk}/change/" for m in Message.objects.all()]
    return urls


def test_every_customer_supplied_field_is_stored_as_typed(hostile):
    """The test below means something only if the markup reached the database unchanged."""
    names = {c.name for c in hostile.customers}
    assert any(PAYLOAD in n for n in names), names
    assert any(PAYLOAD in t.subject for t in hostile.tickets)
    assert Message.objects.filter(body__contains=PAYLOAD).count() >= 4
    assert CustomerIdentity.objects.filter(address__contains="<img src=x").exists()  # the social sender
    assert (
        Reference.objects.filter(value__contains="<IMG").exists()
        or Reference.objects.filter(value__contains="<img").exists()
    )
    # File names keep no markup characters at all (tickets.services.attachments.safe_filename).
    (attachment,) = Attachment.objects.all()
    assert "img src" in attachment.filename and not set("<>\"'") & set(attachment.filename)


@pytest.mark.parametrize("who", ["supervisor", "admin"])
def test_customer_markup_is_escaped_on_every_page(hostile, who):
    client = Client()
    if who == "admin":
        client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
        # My work is an agent's own page: an admin without an agent profile has none.
        urls = desk_pages(hostile)[1:] + admin_pages(hostile)
    else:
        client.force_login(hostile.supervisor.user)
        urls = desk_pages(hostile)
    problems, escaped_seen = [], set()
    for url in urls:
        response = client.get(url)
        if response.status_code != 200:
            problems.append(f"{url}: {response.status_code}")
            continue
        html = response.content.decode()
        if bad := unescaped(html):
            problems.append(f"{url}: unescaped {bad}")
        escaped_seen |= {e for e in ESCAPED if e in html}
    assert not problems, "\n".join(problems)
    assert escaped_seen == set(ESCAPED)  # the payloads were on the pages, as text


def test_the_customer_chat_page_escapes_both_sides(hostile):
    from tickets.services.replies import reply

    chat_ticket = next(t for t in hostile.tickets if t.channel == "chat")
    reply(ticket=chat_ticket, actor=hostile.supervisor.user, body=f"Agent {PAYLOAD}")
    for url in ("/support/chat/", "/support/chat/messages/"):
        html = hostile.chat_client.get(url).content.decode()
        assert not unescaped(html), url
        assert "&lt;script&gt;alert(" in html, url


def test_the_email_html_part_is_sanitised_before_it_is_stored(hostile):
    message = Message.objects.get(provider_message_id="<hostile-1@example.com>")
    stored = str(message.meta) + str(getattr(message, "html", ""))
    assert "<script" not in stored and "onerror" not in stored and "javascript:" not in stored


def test_attachment_names_are_escaped_and_downloaded_never_rendered(hostile, client):
    attachment = Attachment.objects.get()
    client.force_login(hostile.supervisor.user)
    ticket = attachment.message.interaction.case.ticket
    response = client.get(reverse("desk:ticket_attachment", args=[ticket.pk, attachment.pk]))
    assert response["Content-Disposition"].startswith("attachment;")
    assert "<" not in response["Content-Disposition"] and ">" not in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_pages_carry_a_csp_without_inline_scripts(hostile, client):
    client.force_login(hostile.supervisor.user)
    csp = client.get(reverse("desk:ticket", args=[hostile.tickets[0].pk]))["Content-Security-Policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'nonce-" in script_src
