"""A new web-form ticket is acknowledged by e-mail, to the address typed in the form (the web channel's own
template, editable in the admin), within the per-address hourly limit; the thank-you page keeps its link."""

import pytest
from django.core import mail
from django.core.cache import cache

from channels_intake.tasks import deliver_message
from tests.factories import IdentityFactory
from tickets.intake import InboundMessage, receive
from tickets.models import Acknowledgement, Message, Ticket
from tickets.services.acknowledgements import ACK

pytestmark = pytest.mark.django_db

URL = "/support/contact/"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def submit(
    client, *, reference="", message="My internet has been down since this morning.", email="Ada@Example.com"
):
    token = client.get(URL).context["form"]["token"].value()
    data = {
        "token": token,
        "name": "Ada Lovelace",
        "email": email,
        "reference": reference,
        "message": message,
    }
    response = client.post(URL, data)
    assert response.status_code == 302
    return response


def acks():
    return Message.objects.filter(direction="out", meta__kind=ACK).order_by("id")


def test_a_new_web_form_ticket_is_acknowledged_by_e_mail_with_its_number_and_status_link(client):
    response = submit(client, reference="ORD-4711")
    ticket = Ticket.objects.get()
    ack = acks().get()
    assert ack.channel == "web" and ack.sender == "ada@example.com"
    assert ack.interaction.case.ticket == ticket
    assert ticket.number in ack.body and "/support/status/" in ack.body
    assert ack.body.startswith("Hello Ada Lovelace,")

    deliver_message(ack.pk)
    sent = mail.outbox[-1]
    assert sent.to == ["ada@example.com"] and ticket.number in sent.subject
    assert ticket.number in sent.body
    assert Message.objects.get(pk=ack.pk).delivery_status == "sent"

    # The thank-you page still links to the ticket's status page at once.
    thanks = client.get(response.url).content.decode()
    assert ticket.number in thanks and "/support/status/" in thanks


def test_a_follow_up_on_the_same_ticket_is_not_acknowledged_again(client):
    submit(client, reference="ORD-4711")
    submit(client, reference="ORD-4711", message="And the phone line too.")
    assert Ticket.objects.count() == 1 and acks().count() == 1


def test_the_web_template_is_the_one_edited_in_the_admin(client, admin_client):
    template = Acknowledgement.objects.get(channel="web")
    page = admin_client.get(f"/admin/tickets/acknowledgement/{template.pk}/change/")
    assert page.status_code == 200
    body = "We got it: {ticket_number}."
    admin_client.post(
        f"/admin/tickets/acknowledgement/{template.pk}/change/",
        {"channel": "web", "body": body, "active": "on"},
    )
    assert Acknowledgement.objects.get(channel="web").body == body
    submit(client)
    ticket = Ticket.objects.get()
    assert acks().get().body.startswith(f"We got it: {ticket.number}.")


def test_an_inactive_web_template_sends_nothing(client):
    Acknowledgement.objects.filter(channel="web").update(active=False)
    submit(client)
    assert Ticket.objects.count() == 1 and not acks().exists()


def test_the_hourly_limit_per_address_counts_e_mail_and_web_form_together(client, settings):
    settings.HELPDESK = {**settings.HELPDESK, "ACK_LIMIT_PER_HOUR": 2}
    IdentityFactory(address="ada@example.com")
    receive(InboundMessage(channel="email", sender="ada@example.com", subject="Bill", text="ORD-1 is wrong"))
    submit(client, reference="ORD-2")
    submit(client, reference="ORD-3", message="Another order, another problem.")
    assert Ticket.objects.count() == 3
    assert list(acks().values_list("channel", flat=True)) == ["email", "web"]
