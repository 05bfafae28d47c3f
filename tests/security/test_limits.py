"""Size limits on what comes in: every webhook's body (``HELPDESK_MAX_WEBHOOK_BYTES``, 413 before anything is
stored or even verified) and an agent's reply attachments (count and size, 400, nothing sent).

Also tested elsewhere: the contact form's files (``tests/channels_intake/test_portal.py``:
``test_an_attachment_over_the_size_limit_is_refused_with_the_reason``,
``test_files_of_other_kinds_and_too_many_files_are_refused``,
``test_a_body_larger_than_all_attachments_could_be_is_refused_unread``), the rate limits of /support/ (the
same module, ``test_chat.py`` and ``test_feedback_pages.py``), IMAP mail over the limit (``test_imap.py``), and
log-in throttling (``test_login_throttle.py``).
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from channels_intake.models import InboundEvent
from tests.security.test_access import ROUTES
from tickets.models import Attachment, Message
from tickets.services import editing

INTAKE_WEBHOOKS = [r for r in ROUTES if r.route.startswith("intake/")]


@pytest.fixture
def all_secrets(settings):
    settings.INTAKE_TOKEN = "t"
    settings.WHATSAPP_APP_SECRET = settings.META_APP_SECRET = settings.TWILIO_AUTH_TOKEN = "s"
    settings.HELPDESK = {**settings.HELPDESK, "MAX_WEBHOOK_BYTES": 1000}


@pytest.mark.parametrize("route", INTAKE_WEBHOOKS, ids=str)
def test_every_webhook_refuses_a_body_over_the_limit_before_reading_it(client, db, all_secrets, route):
    url = "/" + route.route
    body = b'{"x": "' + b"a" * 2000 + b'"}'
    response = client.post(url, body, content_type="application/json", HTTP_AUTHORIZATION="Bearer t")
    assert response.status_code == 413, (url, response.status_code)
    assert not InboundEvent.objects.exists()
    # Just under the limit is not refused for its size (here: for its missing signature or its shape).
    small = client.post(url, b'{"x": 1}', content_type="application/json", HTTP_AUTHORIZATION="Bearer t")
    assert small.status_code != 413


@pytest.fixture
def owner_client(world, client):
    client.force_login(world.owner.user)
    return client


def reply(client, world, files):
    return client.post(
        reverse("desk:ticket_reply", args=[world.ticket.pk]),
        {"version": world.ticket.version, "channel": "email", "body": "See attached", "attachments": files},
    )


def test_a_reply_with_too_many_files_is_refused_and_nothing_is_sent(world, owner_client):
    files = [SimpleUploadedFile(f"f{i}.txt", b"x") for i in range(editing.MAX_ATTACHMENTS + 1)]
    response = reply(owner_client, world, files)
    assert response.status_code == 400
    assert f"At most {editing.MAX_ATTACHMENTS} attachments" in response.content.decode()
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_a_reply_with_a_file_over_the_size_limit_is_refused_and_nothing_is_sent(
    world, owner_client, monkeypatch
):
    monkeypatch.setattr(editing, "MAX_ATTACHMENT_BYTES", 1024 * 1024)
    big = SimpleUploadedFile("big.pdf", b"x" * (1024 * 1024 + 1), content_type="application/pdf")
    response = reply(owner_client, world, [big])
    assert response.status_code == 400 and "the limit is 1 MB per file" in response.content.decode()
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()
    assert Attachment.objects.count() == len(world.attachments)


def test_within_the_limits_the_reply_and_its_files_are_stored(world, owner_client):
    response = reply(owner_client, world, [SimpleUploadedFile("ok.txt", b"fine")])
    assert response.status_code == 302
    assert Message.objects.get(direction=Message.Direction.OUTBOUND).attachments.get().filename == "ok.txt"
