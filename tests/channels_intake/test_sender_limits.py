"""Per-sender limits on intake: a flooding sender's messages are stored and answered 200, but held (no ticket,
no acknowledgement) until its window has passed, then taken in in order; other senders are not affected."""

import logging
import time
from datetime import timedelta
from io import StringIO
from types import SimpleNamespace

import django_ratelimit.core
import pytest
from django.core.management import call_command
from django.utils import timezone

from channels_intake.models import InboundEvent
from channels_intake.tasks import process_backlog
from tests.factories import UserFactory
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db

URL = "/intake/email/raw/"
TOKEN = "s3cret-intake-token"
WINDOW = 600  # "2/10m"


@pytest.fixture(autouse=True)
def limited(settings):
    settings.INTAKE_TOKEN = TOKEN
    settings.HELPDESK_FROM_EMAIL = "Help desk <support@helpdesk.localhost>"
    settings.HELPDESK = {**settings.HELPDESK, "INTAKE_SENDER_LIMIT": "2/10m"}


@pytest.fixture
def clock(monkeypatch):
    """Moves the rate limiter's clock and Django's together: ``clock.advance(seconds)``."""
    real_time, real_now = time.time, timezone.now
    state = SimpleNamespace(offset=0.0)
    monkeypatch.setattr(
        django_ratelimit.core, "time", SimpleNamespace(time=lambda: real_time() + state.offset)
    )
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(seconds=state.offset))

    def advance(seconds):
        state.offset += seconds

    state.advance = advance
    return state


def mail(n: int, sender: str = "Zoe <zoe@example.com>", message_id: str = "") -> bytes:
    message_id = message_id or f"<{n}-{sender.split('<')[-1].strip('>')}>"
    return (
        f"From: {sender}\r\nTo: support@helpdesk.localhost\r\nSubject: Help {n}\r\n"
        f"Message-ID: {message_id}\r\nDate: Tue, 03 Mar 2026 09:00:00 +0000\r\n\r\nMessage number {n}\r\n"
    ).encode()


def send(client, raw: bytes) -> InboundEvent:
    response = client.post(
        URL, data=raw, content_type="message/rfc822", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200, response.content
    event = InboundEvent.objects.get(pk=response.json()["event"])
    assert response.json()["status"] == event.status
    return event


def inbound_texts(address: str = "zoe@example.com") -> list[str]:
    """The subjects of a sender's messages taken in, in the order they were taken in."""
    inbound = Message.objects.filter(direction=Message.Direction.INBOUND, sender__icontains=address)
    return list(inbound.order_by("pk").values_list("subject", flat=True))


def test_a_sender_under_the_limit_is_processed(client):
    events = [send(client, mail(n)) for n in (1, 2)]

    assert [e.status for e in events] == ["processed", "processed"]
    assert inbound_texts() == ["Help 1", "Help 2"]


def test_over_the_limit_messages_are_stored_and_held_with_200_creating_nothing(client, caplog):
    send(client, mail(1))
    send(client, mail(2))
    tickets, messages = Ticket.objects.count(), Message.objects.count()  # the first one's acknowledgement too

    with caplog.at_level(logging.INFO, logger="helpdesk.security"):
        held = [send(client, mail(n)) for n in (3, 4)]

    assert [e.status for e in held] == ["held", "held"]
    assert held[0].payload_bytes == mail(3)  # stored as received
    assert held[0].sender == held[1].sender == "email:zoe@example.com"
    assert "over the intake limit of 2/10m" in held[0].error
    assert f"event {held[0].pk} first" in held[1].error  # waits behind the sender's earlier held message
    assert held[0].held_until > timezone.now()
    assert (Ticket.objects.count(), Message.objects.count()) == (tickets, messages)  # no ticket, no ack
    logged = [r.getMessage() for r in caplog.records if r.name == "helpdesk.security"]
    assert any(
        f"intake held event={held[0].pk}" in line and "over the intake limit" in line for line in logged
    )


def test_the_limit_is_per_sender(client):
    for n in (1, 2, 3):
        send(client, mail(n))

    other = send(client, mail(1, sender="Bob <bob@example.com>"))
    # The same address written differently is the same sender.
    same = send(client, mail(9, sender="ZOE <Zoe@Example.com>"))

    assert other.status == "processed" and inbound_texts("bob@example.com") == ["Help 1"]
    assert same.status == "held"


def test_held_messages_are_released_in_order_once_the_window_has_passed(client, clock):
    for n in range(1, 6):  # 1, 2 processed; 3, 4, 5 held
        send(client, mail(n))

    assert process_backlog() == 0  # the window has not passed: nothing released
    assert inbound_texts() == ["Help 1", "Help 2"]

    clock.advance(WINDOW + 1)
    # A new message arriving before the sweep waits behind the held ones (order is kept).
    late = send(client, mail(6))
    assert late.status == "held"

    process_backlog()  # the new window takes two more, in arrival order; the rest is held again
    assert inbound_texts()[2:] == ["Help 3", "Help 4"]
    assert InboundEvent.objects.filter(status="held").count() == 2

    clock.advance(WINDOW + 1)
    process_backlog()
    assert inbound_texts() == [f"Help {n}" for n in range(1, 7)]
    assert not InboundEvent.objects.filter(status="held").exists()


def test_a_duplicate_of_a_held_message_stays_a_no_op(client, clock):
    send(client, mail(1))
    send(client, mail(2))
    held = send(client, mail(3))
    again = send(client, mail(3))  # the provider delivers it a second time

    assert (held.status, again.status) == ("held", "held")
    clock.advance(WINDOW + 1)
    process_backlog()

    held.refresh_from_db()
    again.refresh_from_db()
    assert (held.status, again.status) == ("processed", "duplicate")
    assert inbound_texts() == ["Help 1", "Help 2", "Help 3"]


def test_a_redelivery_of_a_message_already_taken_in_neither_counts_nor_waits(client):
    first = send(client, mail(1))
    send(client, mail(1))  # the provider retries it twice: duplicates, not counted
    send(client, mail(1))
    second = send(client, mail(2))
    held = send(client, mail(3))
    retry = send(client, mail(1))  # while the sender has a held message

    assert (first.status, second.status, held.status) == ("processed", "processed", "held")
    assert retry.status == "duplicate"


def test_an_operator_releases_held_events_at_once(client):
    for n in range(1, 6):
        send(client, mail(n))
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    first_held = InboundEvent.objects.filter(status="held").order_by("pk").first()

    response = client.post(
        "/admin/channels_intake/inboundevent/",
        {"action": "release_held", "_selected_action": [first_held.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Released 1 held event" in response.content.decode()
    assert inbound_texts()[-1] == "Help 3"

    out = StringIO()
    call_command("replay_inbound", "--held", stdout=out)
    assert inbound_texts() == [f"Help {n}" for n in range(1, 6)]
    assert not InboundEvent.objects.filter(status="held").exists()


def test_the_held_list_in_the_admin(client):
    for n in range(1, 4):
        send(client, mail(n))
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get("/admin/channels_intake/inboundevent/", {"status__exact": "held"}).content.decode()

    assert "over the intake limit" in page and "1 inbound event" in page


def test_the_limit_can_be_turned_off(client, settings):
    settings.HELPDESK = {**settings.HELPDESK, "INTAKE_SENDER_LIMIT": ""}
    assert {send(client, mail(n)).status for n in range(1, 5)} == {"processed"}


def test_whatsapp_senders_are_counted_by_their_wa_id(client, settings):
    import json

    from tests.channels_intake.meta_signing import post_signed
    from tests.channels_intake.test_whatsapp import SECRET, text_message

    settings.WHATSAPP_APP_SECRET = SECRET

    def whatsapp(n: int, wa_id: str) -> InboundEvent:
        body = json.dumps(text_message(f"wamid.{wa_id}.{n}", f"message {n}", 1_767_000_000 + n, sender=wa_id))
        response = post_signed(client, "/intake/whatsapp/", body.encode(), SECRET, None)
        assert response.status_code == 200, response.content
        return InboundEvent.objects.get(pk=response.json()["event"])

    flood = [whatsapp(n, "16505551234") for n in range(1, 5)]
    other = whatsapp(1, "447700900123")

    assert [e.status for e in flood] == ["processed", "processed", "held", "held"]
    assert flood[2].sender == "whatsapp:+16505551234"
    assert other.status == "processed"
    assert Message.objects.filter(direction=Message.Direction.INBOUND, channel="whatsapp").count() == 3
