"""The customer-facing contact form (/support/contact/), through the Django test client."""

import re
import uuid

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from channels_intake.models import InboundEvent
from channels_intake.services import process_event
from tests.factories import IdentityFactory
from tickets.models import Attachment, Customer, CustomerIdentity, Message, Ticket

pytestmark = pytest.mark.django_db

URL = "/support/contact/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def limits(settings, **values):
    settings.HELPDESK = {**settings.HELPDESK, **values}


def form_token(client) -> str:
    return client.get(URL).context["form"]["token"].value()


def fields(client, **overrides) -> dict:
    data = {
        "token": form_token(client),
        "name": "Ada Lovelace",
        "email": "Ada@Example.com",
        "reference": "ORD-4711",
        "message": "My internet has been down since this morning.",
    }
    data.update(overrides)
    return data


def test_the_form_is_accessible_and_fits_the_csp(client):
    response = client.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    for name in ("name", "email", "reference", "message", "attachments"):
        assert f'<label for="id_{name}">' in html
    assert 'enctype="multipart/form-data"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    # No inline script or style: every script is a file, htmx's is tagged with the nonce.
    assert " style=" not in html and "<style" not in html
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    assert f'nonce="{nonce}"' in html
    assert '"includeIndicatorStyles": false' in html


def test_a_submission_is_stored_first_then_becomes_a_ticket(client):
    data = fields(client, attachments=SimpleUploadedFile("../../screen shot.png", PNG, "application/x-evil"))
    response = client.post(URL, data)
    assert response.status_code == 302 and response.url == reverse("support:contact_thanks")

    ticket = Ticket.objects.get()
    assert ticket.channel == "web" and ticket.reference.value == "ORD-4711"
    assert ticket.customer.name == "Ada Lovelace"
    assert CustomerIdentity.objects.get(customer=ticket.customer).address == "ada@example.com"
    message = Message.objects.get(direction="in")  # (the other is the e-mailed acknowledgement)
    assert message.body == "My internet has been down since this morning."
    assert message.provider_message_id == f"web-form:{uuid.UUID(data['token'].split(':')[0])}"
    attachment = Attachment.objects.get()
    # The name loses its path; the type is what the bytes are, not what the browser claimed.
    assert attachment.filename == "screen shot.png" and attachment.content_type == "image/png"
    assert attachment.file.read() == PNG

    event = InboundEvent.objects.get()
    assert event.source == "web_form" and event.channel == "web" and event.status == "processed"
    assert b"My internet has been down" in event.payload_bytes
    assert event.headers["remote_addr"] == "127.0.0.1"

    thanks = client.get(response.url).content.decode()
    assert ticket.number in thanks
    assert "by e-mail" in thanks and "Ada@Example.com" in thanks


def test_the_thanks_page_without_a_submission_goes_back_to_the_form(client):
    response = client.get(reverse("support:contact_thanks"))
    assert response.status_code == 302 and response.url == URL


def test_a_double_submit_is_a_no_op(client):
    data = fields(client)
    first = client.post(URL, data, follow=True)
    second = client.post(URL, data, follow=True)
    assert Ticket.objects.count() == 1 and Message.objects.filter(direction="in").count() == 1
    number = Ticket.objects.get().number
    assert number in first.content.decode() and number in second.content.decode()
    assert list(InboundEvent.objects.order_by("id").values_list("status", flat=True)) == [
        "processed",
        "duplicate",
    ]


def test_two_forms_are_two_messages(client):
    client.post(URL, fields(client))
    client.post(URL, fields(client, message="And the phone line too."))
    assert Message.objects.filter(direction="in").count() == 2
    # Same customer, same order: the second message joins the first one's ticket.
    assert Ticket.objects.count() == 1


def test_a_known_address_is_the_known_customer(client):
    known = IdentityFactory(address="ada@example.com").customer
    client.post(URL, fields(client, reference=""))
    assert Ticket.objects.get().customer == known
    assert Customer.objects.count() == 1


def test_validation_errors_keep_what_was_typed_and_store_nothing(client):
    response = client.post(URL, fields(client, email="not-an-address", message=""))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="Ada Lovelace"' in html and 'value="not-an-address"' in html and 'value="ORD-4711"' in html
    assert "Enter a valid email address." in html and "This field is required." in html
    assert 'aria-invalid="true"' in html and 'role="alert"' in html
    assert not InboundEvent.objects.exists() and not Ticket.objects.exists()


def test_a_forged_form_id_is_refused_and_a_fresh_one_issued(client):
    response = client.post(URL, fields(client, token="0b6c1a0e-0000-4000-8000-000000000000"))
    html = response.content.decode()
    assert response.status_code == 200 and "could not be read" in html
    assert "My internet has been down" in html
    assert response.context["form"]["token"].value() != "0b6c1a0e-0000-4000-8000-000000000000"
    assert not InboundEvent.objects.exists()


def test_an_attachment_over_the_size_limit_is_refused_with_the_reason(client, settings):
    limits(settings, SUPPORT_MAX_ATTACHMENT_BYTES=1024)
    big = SimpleUploadedFile("scan.png", PNG + b"\x00" * 2000, "image/png")
    response = client.post(URL, fields(client, attachments=big))
    html = response.content.decode()
    assert response.status_code == 200
    assert "“scan.png” is 2.0\xa0KB; each file may be at most 1.0\xa0KB." in html
    assert "My internet has been down since this morning." in html
    assert not InboundEvent.objects.exists()


def test_files_of_other_kinds_and_too_many_files_are_refused(client, settings):
    program = SimpleUploadedFile("invoice.pdf", b"MZ\x90\x00\x03" + b"\x00" * 200, "application/pdf")
    response = client.post(URL, fields(client, attachments=program))
    assert "“invoice.pdf” is not a kind of file we accept" in response.content.decode()

    limits(settings, SUPPORT_MAX_ATTACHMENTS=2)
    files = [SimpleUploadedFile(f"p{i}.png", PNG, "image/png") for i in range(3)]
    response = client.post(URL, fields(client, attachments=files))
    assert "You attached 3 files; at most 2 can be sent." in response.content.decode()
    assert not InboundEvent.objects.exists()


def test_plain_text_and_pdf_are_accepted(client):
    files = [
        SimpleUploadedFile("notes.txt", "Router lights: red, blinking. Ünïcode.".encode(), "text/plain"),
        SimpleUploadedFile("bill.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "application/pdf"),
    ]
    client.post(URL, fields(client, attachments=files))
    assert sorted(Attachment.objects.values_list("content_type", flat=True)) == [
        "application/pdf",
        "text/plain",
    ]


def test_a_body_larger_than_all_attachments_could_be_is_refused_unread(client, settings):
    limits(settings, SUPPORT_MAX_ATTACHMENTS=1, SUPPORT_MAX_ATTACHMENT_BYTES=1024)
    huge = SimpleUploadedFile("movie.png", PNG + b"\x00" * (2 * 1024 * 1024), "image/png")
    response = client.post(URL, fields(client, attachments=huge))
    assert response.status_code == 413
    assert "too large" in response.content.decode()
    assert not InboundEvent.objects.exists()


def test_over_the_rate_limit_a_429_keeps_what_was_typed(client, settings):
    limits(settings, SUPPORT_CONTACT_RATE="2/10m")
    for i in range(2):
        assert client.post(URL, fields(client, message=f"Message {i}")).status_code == 302
    response = client.post(URL, fields(client, message="A third message, typed with care."))
    html = response.content.decode()
    assert response.status_code == 429
    assert "Please wait a moment" in html and "A third message, typed with care." in html
    assert Message.objects.filter(direction="in").count() == 2 and InboundEvent.objects.count() == 2

    # The same address from another network is limited too; another address from this one as well.
    elsewhere = Client(REMOTE_ADDR="203.0.113.9")
    assert elsewhere.post(URL, fields(elsewhere)).status_code == 429
    assert client.post(URL, fields(client, email="grace@example.com")).status_code == 429
    # Somebody else somewhere else is not.
    other = Client(REMOTE_ADDR="198.51.100.7")
    assert other.post(URL, fields(other, email="grace@example.com")).status_code == 302


def test_behind_a_trusted_proxy_the_forwarded_address_counts(client, settings):
    limits(settings, SUPPORT_CONTACT_RATE="1/10m", TRUSTED_PROXY_HOPS=1)
    first = client.post(URL, fields(client), HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.1")
    second = client.post(URL, fields(client, email="grace@example.com"), HTTP_X_FORWARDED_FOR="203.0.113.2")
    assert first.status_code == 302 and second.status_code == 302
    assert InboundEvent.objects.order_by("id").first().headers["remote_addr"] == "203.0.113.1"


def test_csrf_is_enforced():
    browser = Client(enforce_csrf_checks=True)
    data = fields(browser)
    assert browser.post(URL, data).status_code == 403
    assert not InboundEvent.objects.exists()
    csrf = browser.cookies["csrftoken"].value
    response = browser.post(URL, {**data, "csrfmiddlewaretoken": csrf})
    assert response.status_code == 302 and Ticket.objects.count() == 1


def test_customer_supplied_markup_is_escaped(client):
    response = client.post(URL, fields(client, name="<script>alert(1)</script>", email="x"))
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_submission_the_pipeline_refuses_is_kept_and_replayed(client, settings):
    limits(settings, MAX_MESSAGE_CHARS=10)
    response = client.post(URL, fields(client), follow=True)
    html = response.content.decode()
    assert "It is saved" in html and "T-" not in html
    event = InboundEvent.objects.get()
    assert event.status == "failed" and "the limit is 10" in event.error
    assert not Ticket.objects.exists()

    limits(settings, MAX_MESSAGE_CHARS=200_000)
    assert process_event(event).status == "processed"
    assert Ticket.objects.get().channel == "web"
