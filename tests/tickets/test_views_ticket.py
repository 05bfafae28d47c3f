"""The ticket workspace through the test client: what an agent sees, and every action, allowed and refused."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tickets.intake import InboundAttachment, InboundMessage, receive
from tickets.lifecycle import Status
from tickets.models import (
    CannedResponse,
    Case,
    Category,
    Message,
    Note,
    Tag,
    Ticket,
    TicketEvent,
)
from tickets.models.tickets import parse_number
from tickets.selectors.workspace import duration_text, sla_clock
from tickets.services import transitions
from tickets.services.replies import add_note, reply

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _ticket(result) -> Ticket:
    return Ticket.objects.get(pk=parse_number(result.ticket))


def _receive(**kw) -> Ticket:
    return _ticket(receive(InboundMessage(**kw)))


@pytest.fixture
def story(agent) -> Ticket:
    """DOMAIN.md's worked example: customer ABC calls, then writes on WhatsApp and by e-mail about ORD-1001."""
    call = {"direction": "inbound", "status": "completed", "duration_seconds": 390}
    t = _receive(
        channel="voice",
        sender="+447700900111",
        text="Inbound call from +447700900111, 6 min 30 s. Notes: router lights red",
        customer_unique_id="ABC",
        sender_name="Alice Brown",
        reference="ORD-1001",
        provider_message_id="CA1",
        meta={"call": {**call, "recording_url": "https://calls.example/rec/1"}},
    )
    _receive(
        channel="whatsapp",
        sender="447700900111",
        text="Still no internet ORD-1001",
        customer_unique_id="ABC",
        provider_message_id="wamid.1",
    )
    _receive(
        channel="email",
        sender="abc@example.com",
        subject="Internet down, ORD-1001",
        text="Third day <b>without</b> internet",
        customer_unique_id="ABC",
        provider_message_id="<m1@example.com>",
        attachments=[InboundAttachment("router.jpg", b"\xff\xd8jpeg", "image/jpeg")],
    )
    return transitions.assign(
        ticket=Ticket.objects.get(pk=t.pk), actor=None, agent=agent, reason="least loaded"
    )


def page(client, ticket, **extra):
    return client.get(reverse("desk:ticket", args=[ticket.pk]), **extra)


def text_of(response) -> str:
    return response.content.decode()


# Reading ---------------------------------------------------------------------------------------------------


def test_the_owner_opening_an_assigned_ticket_opens_it(client, story, agent):
    client.force_login(agent.user)
    response = page(client, story)
    assert response.status_code == 200
    story.refresh_from_db()
    assert story.status == Status.OPEN
    assert TicketEvent.objects.filter(ticket=story, kind="open", actor=agent.user).count() == 1
    assert 'class="badge status-open"' in text_of(response)
    # Looking again changes nothing.
    page(client, story)
    assert TicketEvent.objects.filter(ticket=story, kind="open").count() == 1


def test_a_supervisor_looking_at_someone_elses_assigned_ticket_leaves_it_assigned(client, story, supervisor):
    client.force_login(supervisor.user)
    assert page(client, story).status_code == 200
    story.refresh_from_db()
    assert story.status == Status.ASSIGNED


def test_header_customer_panel_and_timeline(client, story, agent):
    other = _receive(
        channel="email",
        sender="abc@example.com",
        subject="Bill too high",
        text="ACC-77 billed twice",
        customer_unique_id="ABC",
        reference="ORD-2002",
    )
    add_note(ticket=story, actor=agent.user, body="Line test booked")
    reply(ticket=story, actor=agent.user, body="An engineer is on the way")
    client.force_login(agent.user)
    html = text_of(page(client, story))

    assert story.number in html and re.search(r"T-\d{6}", story.number)
    assert "Front office" in html and str(agent) in html
    assert "First response" in html and "Resolution" in html and " left" in html
    # The customer panel.
    assert "ABC" in html and "Alice Brown" in html
    assert "+447700900111" in html and "abc@example.com" in html
    assert "ORD-1001" in html and "ORD-2002" in html
    assert other.number in html and "Bill too high" in html
    # One timeline across channels, in time order.
    order = [
        html.index("Inbound call, completed, 6 min 30 s"),
        html.index("Still no internet ORD-1001"),
        html.index("Third day"),
        html.index("Line test booked"),
        html.index("An engineer is on the way"),
    ]
    assert order == sorted(order)
    assert 'href="https://calls.example/rec/1"' in html
    assert f"<strong>{agent}</strong> to abc@example.com" in html  # outbound, with its delivery status
    assert 'class="badge delivery delivery-queued"' in html
    assert "Internal note" in html and 'class="tl-item tl-note"' in html
    assert "assigned it to" in html and "least loaded" in html  # the assignment and its why
    assert "linked a WhatsApp interaction to it" in html
    assert "router.jpg" in html


def test_customer_text_is_escaped_everywhere(client, agent):
    evil = "<script>alert('x')</script>"
    t = _receive(
        channel="email", sender="evil@example.com", subject=evil, text=f"Hi {evil}", sender_name=evil
    )
    transitions.assign(ticket=t, actor=None, agent=agent)
    client.force_login(agent.user)
    html = text_of(page(client, t))
    assert evil not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "Automatic acknowledgement" in html  # the acknowledgement intake sent


def test_a_ticket_the_user_may_not_see_is_not_found(client, story, back_agent):
    client.force_login(back_agent.user)
    assert page(client, story).status_code == 404
    assert client.get(reverse("desk:ticket_header", args=[story.pk])).status_code == 404


def test_anonymous_visitors_log_in_first(client, story):
    response = page(client, story)
    assert response.status_code == 302 and response["Location"].startswith(reverse("desk:login"))


def test_the_header_partial_refreshes_the_clocks_and_says_when_the_ticket_changed(client, story, agent):
    client.force_login(agent.user)
    url = reverse("desk:ticket_header", args=[story.pk])
    fresh = client.get(url, {"seen": story.version})
    assert fresh.status_code == 200
    html = text_of(fresh)
    assert html.lstrip().startswith('<header id="ticket-header"') and "<html" not in html
    assert 'hx-trigger="every 30s"' in html and " left" in html
    assert "changed" not in html.split('class="sla-clocks"')[1]
    transitions.escalate(ticket=story.pk, actor=agent.user, reason="Needs the engineer")
    story.refresh_from_db()
    stale = text_of(client.get(url, {"seen": story.version - 1}))
    assert f"{agent.user.username} changed {story.number} at " in stale
    assert "escalated it to the supervisors" in stale and "Needs the engineer" in stale


def test_sla_clock_texts():
    now = timezone.now()
    start = now - timedelta(hours=1)
    running = sla_clock(
        "Resolution", due=now + timedelta(hours=2, minutes=10), start=start, done_at=None, now=now
    )
    assert (running.text, running.state) == ("2 h 10 min left", "ok")
    breached = sla_clock("Resolution", due=now - timedelta(minutes=35), start=start, done_at=None, now=now)
    assert (breached.text, breached.state, breached.css) == (
        "breached 35 min ago",
        "breached",
        "sla-breached",
    )
    risky = sla_clock("First response", due=now + timedelta(minutes=5), start=start, done_at=None, now=now)
    assert risky.state == "at-risk" and risky.css == "sla-at-risk"
    met = sla_clock("First response", due=now, start=start, done_at=now - timedelta(minutes=20), now=now)
    assert (met.state, met.text) == ("met", "met, 20 min early")
    missed = sla_clock(
        "First response", due=now, start=start, done_at=now + timedelta(days=1, hours=3), now=now
    )
    assert (missed.state, missed.text) == ("missed", "missed by 1 d 3 h")
    assert duration_text(timedelta(seconds=20)) == "< 1 min"


def test_other_teams_notes_stay_hidden_unless_the_ticket_was_escalated_to_them(
    client, agent, back_agent, back_office
):
    def ticket_moved_to_back_office(how: str) -> Ticket:
        t = _receive(channel="email", sender=f"{how}@example.com", text=f"Please help ({how})")
        t = transitions.assign(ticket=t, actor=None, agent=agent)
        add_note(ticket=t, actor=agent.user, body=f"Front-office secret {how}")
        if how == "escalated":
            return transitions.escalate(
                ticket=t.pk, actor=agent.user, reason="Needs tech", to_team=back_office
            )
        return transitions.transfer(ticket=t.pk, actor=agent.user, team=back_office)

    escalated, transferred = (
        ticket_moved_to_back_office("escalated"),
        ticket_moved_to_back_office("transferred"),
    )
    client.force_login(back_agent.user)
    assert "Front-office secret escalated" in text_of(page(client, escalated))
    html = text_of(page(client, transferred))
    assert "Front-office secret transferred" not in html
    assert "1 internal note of another team not shown" in html


def test_buttons_show_only_what_the_user_may_do(client, story, agent, other_agent, supervisor):
    def buttons(user) -> set[str]:
        client.force_login(user)
        return set(re.findall(r'/act/([a-z_]+)/"', text_of(page(client, story))))

    owner = buttons(agent.user)  # opening it made it open
    assert {"pend", "resolve", "close", "escalate", "transfer", "merge", "mark_spam"} <= owner
    assert not owner & {"reassign", "reopen", "open", "assign"}
    teammate = buttons(other_agent.user)
    assert {"transfer", "merge", "mark_spam"} <= teammate
    assert not teammate & {"pend", "resolve", "close", "reassign", "escalate"}
    assert "reassign" in buttons(supervisor.user)
    client.force_login(other_agent.user)
    html = text_of(page(client, story))
    assert 'id="reply-form"' not in html and 'id="note-form"' in html  # teammates note, owners reply


def test_a_queued_ticket_can_be_taken_by_an_agent_of_its_team(client, other_agent):
    t = _receive(channel="email", sender="q@example.com", text="Queued")
    client.force_login(other_agent.user)
    html = text_of(page(client, t))
    assert "/act/assign/" in html and "Take it" in html


def test_the_reply_box_defaults_to_the_latest_interactions_channel(client, story, agent):
    client.force_login(agent.user)
    html = text_of(page(client, story))
    select = html.split('id="id_reply_channel"')[1].split("</select>")[0]
    assert '<option value="email" selected>' in select
    assert 'value="whatsapp"' in select and 'value="sms"' in select and 'value="voice"' not in select
    receive(
        InboundMessage(channel="whatsapp", sender="447700900111", text="Any news?", provider_message_id="w2")
    )
    html = text_of(page(client, story))
    assert (
        '<option value="whatsapp" selected>' in html.split('id="id_reply_channel"')[1].split("</select>")[0]
    )


def test_canned_responses_fill_their_placeholders_into_the_reply_box(client, story, agent, back_office):
    mine = CannedResponse.objects.create(
        title="Engineer",
        body="Dear {customer_name}, about {ticket_number}: an engineer comes. {agent_name} {x}",
    )
    theirs = CannedResponse.objects.create(title="Tech only", body="Back office text", team=back_office)
    client.force_login(agent.user)
    html = text_of(page(client, story))
    assert "Engineer" in html and "Tech only" not in html
    url = reverse("desk:ticket_canned", args=[story.pk])
    response = client.get(url, {"canned": mine.pk, "body": "Hello <b>"}, **HTMX)
    body = text_of(response)
    assert body.lstrip().startswith('<textarea id="id_reply_body"')
    assert (
        f"Hello &lt;b&gt;\n\nDear Alice Brown, about {story.number}: an engineer comes. {agent} {{x}}" in body
    )
    assert "Back office text" not in text_of(client.get(url, {"canned": theirs.pk}, **HTMX))


def test_attachments_download_only_through_their_ticket(client, story, agent):
    attachment = Message.objects.get(provider_message_id="<m1@example.com>").attachments.get()
    other = _receive(channel="email", sender="x@example.com", text="x")
    transitions.assign(ticket=other, actor=None, agent=agent)
    client.force_login(agent.user)
    response = client.get(reverse("desk:ticket_attachment", args=[story.pk, attachment.pk]))
    assert response.status_code == 200
    assert (
        response["Content-Disposition"].startswith("attachment;")
        and "router.jpg" in response["Content-Disposition"]
    )
    # The stored type, never sniffed into something else (tests/security has every role's refusals).
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == b"\xff\xd8jpeg"
    assert client.get(reverse("desk:ticket_attachment", args=[other.pk, attachment.pk])).status_code == 404


def _busy_ticket(agent, n: int) -> Ticket:
    """A ticket with ``n`` messages each way, ``n`` notes and ``n`` history events, on several channels."""
    t = _receive(channel="email", sender=f"busy{n}@example.com", text="Start", customer_unique_id=f"BUSY{n}")
    t = transitions.assign(ticket=t, actor=None, agent=agent)
    t = transitions.open_ticket(ticket=t, actor=agent.user)
    for i in range(n):
        channel, sender = (
            ("whatsapp", f"4477009{n:02d}{i:03d}") if i % 2 else ("email", f"busy{n}@example.com")
        )
        receive(
            InboundMessage(
                channel=channel,
                sender=sender,
                text=f"Message {i}",
                customer_unique_id=f"BUSY{n}",
                ticket_hints=[t.number],
            )
        )
        message = reply(ticket=t, actor=agent.user, body=f"Answer {i}")
        add_note(ticket=t, actor=agent.user, body=f"Note {i}")
        message.attachments.create(filename=f"a{i}.txt", sha256="0" * 64, size=1)
    Tag.objects.get_or_create(name=f"tag{n}")
    return t


def test_the_workspace_reads_a_busy_ticket_in_a_fixed_number_of_queries(
    client, agent, django_assert_max_num_queries
):
    small, big = _busy_ticket(agent, 3), _busy_ticket(agent, 50)
    assert Message.objects.filter(interaction__case__ticket=big).count() >= 100
    assert Note.objects.filter(ticket=big).count() == 50 and big.events.count() >= 100
    client.force_login(agent.user)
    page(client, small)  # warm the session and the content types
    with CaptureQueriesContext(connection) as few:
        assert page(client, small).status_code == 200
    with django_assert_max_num_queries(30):
        response = page(client, big)
    assert response.status_code == 200 and "Message 49" in text_of(response)
    with CaptureQueriesContext(connection) as many:
        page(client, big)
    assert len(many) == len(few)


def test_the_header_poll_is_a_handful_of_queries(client, story, agent, django_assert_max_num_queries):
    client.force_login(agent.user)
    with django_assert_max_num_queries(8):
        client.get(reverse("desk:ticket_header", args=[story.pk]))


# Acting ----------------------------------------------------------------------------------------------------


def act(client, ticket, action, data=None, *, version=None, htmx=False):
    current = Ticket.objects.get(pk=ticket.pk)
    payload = {"version": current.version if version is None else version, **(data or {})}
    return client.post(
        reverse("desk:ticket_act", args=[ticket.pk, action]), payload, **(HTMX if htmx else {})
    )


def fresh(ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


@pytest.fixture
def opened(story, agent) -> Ticket:
    return transitions.open_ticket(ticket=story, actor=agent.user)


def test_open_take_pend_resolve_reopen_close_from_the_buttons(client, story, agent, other_agent):
    client.force_login(agent.user)
    response = act(client, story, "open")
    assert response.status_code == 302 and response["Location"] == reverse("desk:ticket", args=[story.pk])
    assert fresh(story).status == Status.OPEN
    act(client, story, "pend", {"reason": "Waiting for the customer"})
    assert fresh(story).status == Status.PENDING
    assert story.events.get(kind="pend").reason == "Waiting for the customer"
    act(client, story, "resolve", {"resolution_type": "fixed", "notes": "Line reset"})
    t = fresh(story)
    assert (t.status, t.resolution_type, t.resolution_notes) == (Status.RESOLVED, "fixed", "Line reset")
    act(client, story, "reopen", {"reason": "Still down"})
    assert fresh(story).status == Status.ASSIGNED
    act(client, story, "open")
    response = act(client, story, "close", {"resolution_type": "", "notes": ""})  # the resolution it has
    assert response.status_code == 302 and fresh(story).status == Status.CLOSED
    follow = client.get(response["Location"])
    assert f"{story.number} is closed." in text_of(follow)

    queued = _receive(channel="email", sender="new@example.com", text="Queued one")
    client.force_login(other_agent.user)
    act(client, queued, "assign")
    assert (fresh(queued).status, fresh(queued).assignee_id) == (Status.ASSIGNED, other_agent.pk)


def test_escalate_transfer_reassign_merge_and_spam_from_the_buttons(
    client, opened, agent, other_agent, supervisor, back_office
):
    client.force_login(agent.user)
    act(client, opened, "escalate", {"reason": "Customer threatens to leave", "to_team": ""})
    t = fresh(opened)
    assert t.escalated and t.status == Status.OPEN and t.team.slug == "front-office"

    client.force_login(supervisor.user)
    act(client, opened, "reassign", {"agent": other_agent.pk, "reason": "Frank is off sick"})
    t = fresh(opened)
    assert (t.assignee_id, t.status) == (other_agent.pk, Status.ASSIGNED)
    assert t.events.get(kind="reassign").reason == "Frank is off sick"

    dupe = _receive(channel="sms", sender="+447700900111", text="Same again ORD-7007", reference="ORD-7007")
    assert dupe.pk != opened.pk and dupe.customer_id == opened.customer_id
    client.force_login(other_agent.user)
    act(client, dupe, "merge", {"into": opened.number, "reason": ""})
    assert (fresh(dupe).status, fresh(dupe).merged_into_id) == (Status.CLOSED, opened.pk)

    spam = _receive(channel="email", sender="spam@example.com", text="Buy now")
    act(client, spam, "mark_spam", {"reason": ""})
    assert (fresh(spam).status, fresh(spam).resolution_type) == (Status.CLOSED, "spam")

    # Transferring out of the agent's teams: the ticket leaves their sight, so they go back to their start page.
    response = act(client, opened, "transfer", {"team": back_office.pk, "reason": "Technical"})
    assert response.status_code == 302 and response["Location"] == reverse("desk:home")
    assert (fresh(opened).team_id, fresh(opened).status) == (back_office.pk, Status.NEW)


@pytest.mark.parametrize(
    ("who", "action", "data"),
    [
        ("agent", "reassign", {"reason": "mine"}),
        ("other_agent", "resolve", {"resolution_type": "fixed", "notes": "Not mine"}),
        ("other_agent", "pend", {"reason": "Not mine"}),
        ("other_agent", "escalate", {"reason": "Not mine"}),
        ("other_agent", "close", {"resolution_type": "fixed", "notes": "Not mine"}),
        ("supervisor", "open", {}),
        ("other_agent", "reopen", {"reason": "Not mine"}),
    ],
)
def test_actions_the_user_may_not_take_are_refused_with_403(client, opened, request, who, action, data):
    user = request.getfixturevalue(who).user
    if action == "reassign":
        data = {**data, "agent": request.getfixturevalue("other_agent").pk}
    before = (fresh(opened).version, fresh(opened).status, fresh(opened).assignee_id)
    client.force_login(user)
    response = act(client, opened, action, data)
    assert response.status_code == 403
    assert "You may not" in text_of(response)
    assert (fresh(opened).version, fresh(opened).status, fresh(opened).assignee_id) == before


def test_a_ticket_of_another_team_cannot_be_acted_on_at_all(client, opened, back_agent):
    client.force_login(back_agent.user)
    assert act(client, opened, "mark_spam").status_code == 404
    assert fresh(opened).status == Status.OPEN


def test_what_is_missing_is_asked_for_with_400(client, opened, agent):
    client.force_login(agent.user)
    response = act(client, opened, "resolve", {"resolution_type": "fixed", "notes": ""})
    assert response.status_code == 400
    html = text_of(response)
    assert "This field is required." in html and '<details class="action action-resolve" open>' in html
    assert act(client, opened, "pend", {"reason": "  "}).status_code == 400
    response = client.post(reverse("desk:ticket_act", args=[opened.pk, "pend"]), {"reason": "No version"})
    assert response.status_code == 400 and "which version of the ticket you saw" in text_of(response)
    assert fresh(opened).status == Status.OPEN


def test_a_change_from_a_stale_screen_is_refused_with_who_changed_what_when(
    client, opened, agent, supervisor
):
    seen = fresh(opened).version
    transitions.pend(ticket=opened.pk, actor=supervisor.user, reason="Waiting for the engineer")
    client.force_login(agent.user)
    response = act(client, opened, "resolve", {"resolution_type": "fixed", "notes": "Fixed it"}, version=seen)
    assert response.status_code == 409
    html = text_of(response)
    assert re.search(rf"sue changed {opened.number} at \d\d:\d\d: set it pending \(open → pending\)", html)
    assert "Waiting for the engineer" in html and "Your change was not saved" in html
    t = fresh(opened)
    assert t.status == Status.PENDING and t.resolution_notes == ""
    # The fresh page carries the new version and keeps what the agent typed, ready to send again.
    assert f'name="version" value="{t.version}"' in html and "Fixed it" in html


def test_an_action_the_state_no_longer_allows_is_a_conflict(client, opened, agent):
    client.force_login(agent.user)
    response = act(client, opened, "reopen", {"reason": "again"})
    assert response.status_code == 409 and "reopen is allowed only from" in text_of(response)


def test_htmx_actions_swap_the_workspace_and_say_what_happened(client, opened, agent, supervisor):
    client.force_login(agent.user)
    response = act(client, opened, "pend", {"reason": "Parts ordered"}, htmx=True)
    assert response.status_code == 200
    html = text_of(response)
    assert html.lstrip().startswith('<div id="workspace"') and "<html" not in html
    assert f"{opened.number} is pending." in html and "Parts ordered" in html
    stale = fresh(opened).version
    transitions.resolve(ticket=opened.pk, actor=supervisor.user, resolution_type="fixed", notes="Done by sue")
    conflict = act(
        client, opened, "close", {"resolution_type": "fixed", "notes": "x"}, version=stale, htmx=True
    )
    assert conflict.status_code == 200 and "sue changed" in text_of(conflict)
    assert fresh(opened).status == Status.RESOLVED


def test_reply_with_an_attachment_and_a_note(client, opened, agent):
    client.force_login(agent.user)
    url = reverse("desk:ticket_reply", args=[opened.pk])
    upload = SimpleUploadedFile("steps.pdf", b"%PDF steps", content_type="application/pdf")
    response = client.post(
        url,
        {
            "version": fresh(opened).version,
            "channel": "email",
            "body": "See the steps",
            "attachments": upload,
        },
    )
    assert response.status_code == 302
    message = Message.objects.get(direction="out", author=agent)
    assert (message.channel, message.body, message.delivery_status) == ("email", "See the steps", "queued")
    assert message.attachments.get().filename == "steps.pdf"
    assert "Reply queued for sending by E-mail." in text_of(client.get(response["Location"]))

    response = client.post(reverse("desk:ticket_note", args=[opened.pk]), {"body": "Called the depot"})
    assert response.status_code == 302 and Note.objects.get().body == "Called the depot"
    assert client.post(reverse("desk:ticket_note", args=[opened.pk]), {"body": ""}).status_code == 400


def test_a_refused_reply_keeps_the_draft(client, opened, agent, supervisor):
    client.force_login(agent.user)
    seen = fresh(opened).version
    add_note(ticket=opened, actor=supervisor.user, body="FYI")  # a note does not change the ticket
    transitions.pend(ticket=opened.pk, actor=supervisor.user, reason="Waiting")
    url = reverse("desk:ticket_reply", args=[opened.pk])
    response = client.post(url, {"version": seen, "channel": "email", "body": "My long careful answer"})
    assert response.status_code == 409
    assert "My long careful answer" in text_of(response)
    response = client.post(url, {"version": fresh(opened).version, "channel": "social", "body": "Hi"})
    assert response.status_code == 400 and "has no Social address" in text_of(response)
    assert not Message.objects.filter(author=agent).exists()


def test_priority_category_and_tags_edit_in_place(client, opened, agent):
    billing = Category.objects.create(name="Billing", slug="billing")
    outage = Tag.objects.create(name="outage")
    client.force_login(agent.user)

    def edit(field, data, **kw):
        payload = {"version": fresh(opened).version, **data}
        return client.post(reverse("desk:ticket_edit", args=[opened.pk, field]), payload, **kw)

    response = edit("priority", {"priority": 1}, **HTMX)
    assert response.status_code == 200 and "Priority saved." in text_of(response)
    assert fresh(opened).priority == 1 and "changed the priority from P3 to P1" in text_of(response)
    assert edit("category", {"category": billing.pk}).status_code == 302
    assert edit("tags", {"tags": [outage.pk]}).status_code == 302
    t = fresh(opened)
    assert t.category == billing and list(t.tags.all()) == [outage]
    assert list(
        t.events.filter(kind__in=["priority", "category", "tags"]).values_list("kind", flat=True)
    ) == [
        "priority",
        "category",
        "tags",
    ]
    stale = client.post(
        reverse("desk:ticket_edit", args=[opened.pk, "priority"]), {"version": t.version - 1, "priority": 4}
    )
    assert stale.status_code == 409 and fresh(opened).priority == 1
    assert edit("priority", {"priority": 9}).status_code == 400
    assert client.post(reverse("desk:ticket_edit", args=[opened.pk, "status"]), {}).status_code == 404


def test_a_closed_ticket_is_not_edited(client, opened, agent):
    transitions.close(ticket=opened.pk, actor=agent.user, resolution_type="fixed", notes="Done")
    client.force_login(agent.user)
    response = client.post(
        reverse("desk:ticket_edit", args=[opened.pk, "priority"]),
        {"version": fresh(opened).version, "priority": 1},
    )
    assert response.status_code == 409 and "reopen it before" in text_of(response)
    assert 'id="reply-form"' not in text_of(page(client, opened))


def test_relink_and_split_from_the_interactions_panel(client, opened, agent):
    other = _receive(channel="sms", sender="+447700900111", text="ORD-3003 bill", reference="ORD-3003")
    whatsapp = Case.objects.get(ticket=opened, interaction__channel="whatsapp")
    email = Case.objects.get(ticket=opened, interaction__channel="email")
    client.force_login(agent.user)
    html = text_of(page(client, opened))
    assert f"/interactions/{whatsapp.pk}/relink/" in html and f"/interactions/{email.pk}/split/" in html

    url = reverse("desk:ticket_relink", args=[opened.pk, whatsapp.pk])
    response = client.post(
        url, {"version": fresh(opened).version, "to_ticket": other.number, "reason": "bill"}
    )
    assert response.status_code == 302
    assert Case.objects.get(pk=whatsapp.pk).ticket_id == other.pk
    assert f"The interaction now belongs to {other.number}." in text_of(client.get(response["Location"]))

    url = reverse("desk:ticket_split", args=[opened.pk, email.pk])
    response = client.post(url, {"version": fresh(opened).version, "subject": "Invoice", "reason": ""})
    assert response.status_code == 302
    new = Ticket.objects.get(subject="Invoice")
    assert Case.objects.get(pk=email.pk).ticket_id == new.pk and new.status == Status.NEW
    # The case has moved: relinking it again from here is a conflict, not a silent success.
    again = client.post(url, {"version": fresh(opened).version})
    assert again.status_code == 409 and "no longer on" in text_of(again)


def test_merge_and_relink_only_into_tickets_the_user_can_see(client, opened, agent, back_office):
    hidden = _receive(channel="email", sender="abc@example.com", text="ORD-4004", reference="ORD-4004")
    transitions.transfer(ticket=hidden.pk, actor=None, team=back_office)
    client.force_login(agent.user)
    response = act(client, opened, "merge", {"into": hidden.number})
    assert response.status_code == 400 and f"There is no ticket {hidden.number} that you can see." in text_of(
        response
    )
    case = Case.objects.filter(ticket=opened).last()
    response = client.post(
        reverse("desk:ticket_relink", args=[opened.pk, case.pk]),
        {"version": fresh(opened).version, "to_ticket": hidden.number},
    )
    assert response.status_code == 400 and Case.objects.get(pk=case.pk).ticket_id == opened.pk


def test_unknown_actions_and_gets_on_actions(client, opened, agent):
    client.force_login(agent.user)
    assert act(client, opened, "delete").status_code == 404
    assert act(client, opened, "customer_reply").status_code == 404
    assert client.get(reverse("desk:ticket_act", args=[opened.pk, "pend"])).status_code == 405


def test_drafts_survive_an_htmx_swap_except_the_one_just_sent(client, opened, agent):
    client.force_login(agent.user)

    def kept(response) -> set[str]:
        html = text_of(response)
        return {
            box for box in ("reply", "note") if re.search(rf'id="id_{box}_body"[^>]*hx-preserve="true"', html)
        }

    edited = client.post(
        reverse("desk:ticket_edit", args=[opened.pk, "priority"]),
        {"version": fresh(opened).version, "priority": 2},
        **HTMX,
    )
    assert kept(edited) == {"reply", "note"}
    sent = client.post(
        reverse("desk:ticket_reply", args=[opened.pk]),
        {"version": fresh(opened).version, "channel": "email", "body": "Sent"},
        **HTMX,
    )
    assert "Reply queued" in text_of(sent) and kept(sent) == {"note"}
    noted = client.post(reverse("desk:ticket_note", args=[opened.pk]), {"body": "Noted"}, **HTMX)
    assert kept(noted) == {"reply"}
    refused = client.post(
        reverse("desk:ticket_reply", args=[opened.pk]),
        {"version": 1, "channel": "email", "body": "Stale draft"},
        **HTMX,
    )
    assert "Stale draft" in text_of(refused) and kept(refused) == {"note"}


def test_an_htmx_action_that_takes_the_ticket_out_of_sight_redirects_home(client, opened, agent, back_office):
    client.force_login(agent.user)
    response = act(client, opened, "transfer", {"team": back_office.pk, "reason": ""}, htmx=True)
    assert response.status_code == 204 and response["HX-Redirect"] == reverse("desk:home")
    assert f"{opened.number} is transferred." in text_of(client.get(reverse("desk:home"), follow=True))
