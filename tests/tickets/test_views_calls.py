"""Log a call (``desk:log_call``) and its caller look-up (``desk:call_lookup``), through the test client."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import AgentFactory, CustomerFactory, IdentityFactory, ReferenceFactory, TicketFactory
from tickets.channels import AddressKind
from tickets.models import Agent, Case, Customer, CustomerConflict, Interaction, Message, Ticket
from tickets.views.my_work import ticket_url

pytestmark = pytest.mark.django_db

NUMBER = "+447700900555"


def call_id_of(response) -> str:
    return re.search(r'name="call_id" value="([0-9a-f]{32})"', response.content.decode()).group(1)


def form(client, **data):
    page = client.get(reverse("desk:log_call"))
    started = timezone.localtime() - timedelta(minutes=10)
    return {
        "call_id": call_id_of(page),
        "direction": "inbound",
        "started_at": started.strftime("%Y-%m-%dT%H:%M"),
        "duration_minutes": "4",
        "notes": "Customer says the router lights are red.",
        "phone": "",
        "customer_id": "",
        "reference": "",
        "caller_name": "",
        "summary": "",
        **data,
    }


def landing(ticket: Ticket) -> str:
    return ticket_url(ticket.pk) or reverse("desk:customer", args=[ticket.customer.unique_id])


def the_call() -> Message:
    return Message.objects.get(channel="voice", provider_message_id__startswith="desk-call-")


@pytest.fixture
def known(db):
    customer = CustomerFactory(unique_id="ABC", name="Alice Brown")
    IdentityFactory(customer=customer, channel=AddressKind.PHONE, address=NUMBER)
    return customer


def test_the_form_gets_a_fresh_call_id_each_time(client, agent):
    client.force_login(agent.user)
    first, second = client.get(reverse("desk:log_call")), client.get(reverse("desk:log_call"))
    assert first.status_code == 200
    assert call_id_of(first) != call_id_of(second)
    html = first.content.decode()
    assert f'hx-get="{reverse("desk:call_lookup")}"' in html and 'id="caller-match"' in html


def test_back_office_agents_may_not_log_calls(client, back_agent):
    client.force_login(back_agent.user)
    assert client.get(reverse("desk:log_call")).status_code == 403
    assert client.post(reverse("desk:log_call"), {"phone": NUMBER}).status_code == 403
    assert client.get(reverse("desk:call_lookup"), {"phone": NUMBER}).status_code == 403
    assert not Message.objects.exists()


def test_anonymous_visitors_are_sent_to_log_in(client):
    assert client.get(reverse("desk:log_call"))["Location"].startswith(reverse("desk:login"))


def test_a_call_from_a_known_number_joins_the_customers_recent_ticket(client, agent, known):
    ticket = TicketFactory(customer=known, subject="Router broken")
    client.force_login(agent.user)
    data = form(client, phone="07700 900555")
    response = client.post(reverse("desk:log_call"), data)
    assert response.status_code == 302 and response["Location"] == landing(ticket)

    message = the_call()
    assert message.provider_message_id == f"desk-call-{data['call_id']}"
    assert message.interaction.customer == known and message.interaction.channel == "voice"
    case = message.interaction.case
    assert case.ticket == ticket and case.link_rule == Case.LinkRule.RECENT_TICKET
    assert "Inbound call from +447700900555, 4 min 00 s, logged by" in message.body
    assert "router lights are red" in message.body
    assert message.meta["call"]["duration_seconds"] == 240
    assert message.meta["call"]["logged_by"] == agent.user.username
    assert Customer.objects.count() == 1


def test_the_same_form_sent_twice_is_one_call(client, agent, known):
    client.force_login(agent.user)
    data = form(client, phone=NUMBER)
    first = client.post(reverse("desk:log_call"), data)
    second = client.post(reverse("desk:log_call"), data, follow=True)
    assert Message.objects.filter(channel="voice").count() == 1
    assert Interaction.objects.filter(channel="voice").count() == 1 and Ticket.objects.count() == 1
    assert "This call was already logged" in second.content.decode()
    assert first["Location"] == landing(Ticket.objects.get())


def test_an_unknown_caller_becomes_a_new_customer_with_a_new_ticket(client, agent):
    client.force_login(agent.user)
    client.post(
        reverse("desk:log_call"),
        form(client, phone="+44 7700 900999", caller_name="Carl Caller", summary="No dial tone"),
    )
    message = the_call()
    customer = message.interaction.customer
    assert customer.name == "Carl Caller" and customer.unique_id.startswith("C-")
    assert customer.identities.get().address == "+447700900999"
    ticket = message.interaction.case.ticket
    assert ticket.subject == "No dial tone" and ticket.channel == "voice" and ticket.status == "new"


def test_an_order_reference_finds_the_customer_and_the_ticket_it_is_about(client, agent, known):
    ref = ReferenceFactory(customer=known, value="ORD-77")
    about = TicketFactory(customer=known, reference=ref, subject="Order 77 late")
    TicketFactory(customer=known, subject="Another issue")
    client.force_login(agent.user)
    response = client.post(reverse("desk:log_call"), form(client, reference="ord-77"))
    case = the_call().interaction.case
    assert case.ticket == about and case.link_rule == Case.LinkRule.REFERENCE
    assert response["Location"] == landing(about)
    # No number typed: the call is recorded from the customer's number on record.
    assert the_call().sender == NUMBER


def test_a_unique_id_without_a_number_on_record_is_refused_with_the_reason(client, agent):
    CustomerFactory(unique_id="NOPHONE")
    client.force_login(agent.user)
    response = client.post(reverse("desk:log_call"), form(client, customer_id="NOPHONE"))
    assert response.status_code == 400
    assert "NOPHONE has no phone number on record" in response.content.decode()
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"notes": "  "}, "This field is required."),
        ({"phone": "not a number"}, "is not a phone number"),
        ({"duration_minutes": "-1"}, "greater than or equal to 0"),
        ({"customer_id": "", "phone": ""}, "Say who called"),
        ({"call_id": "x"}, "reload the page"),
    ],
)
def test_a_call_that_cannot_be_logged_says_why(client, agent, change, reason):
    client.force_login(agent.user)
    data = form(client, phone=NUMBER)
    data.update(change)
    response = client.post(reverse("desk:log_call"), data)
    assert response.status_code == 400 and reason in response.content.decode()
    assert not Message.objects.exists()


def test_a_call_in_the_future_is_refused(client, agent):
    client.force_login(agent.user)
    future = (timezone.localtime() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(reverse("desk:log_call"), form(client, phone=NUMBER, started_at=future))
    assert "cannot start in the future" in response.content.decode()
    assert not Message.objects.exists()


def test_an_outbound_call_is_recorded_as_such(client, supervisor, known):
    client.force_login(supervisor.user)
    client.post(reverse("desk:log_call"), form(client, phone=NUMBER, direction="outbound"))
    message = the_call()
    assert message.body.startswith("Outbound call to +447700900555")
    assert message.meta["call"]["direction"] == "outbound" and message.meta["call"]["to"] == NUMBER


def test_a_number_that_belongs_to_someone_else_than_the_unique_id_is_flagged(client, agent, known):
    CustomerFactory(unique_id="OTHER")
    client.force_login(agent.user)
    client.post(reverse("desk:log_call"), form(client, phone=NUMBER, customer_id="OTHER"))
    assert the_call().interaction.customer == known
    assert CustomerConflict.objects.filter(claimed_customer__unique_id="OTHER").exists()


def test_a_ticket_number_in_the_notes_links_the_call_to_it(client, agent, known):
    older = TicketFactory(customer=known, subject="Old issue")
    TicketFactory(customer=known, subject="Newer issue")
    client.force_login(agent.user)
    client.post(reverse("desk:log_call"), form(client, phone=NUMBER, notes=f"Calling about {older.number}"))
    case = the_call().interaction.case
    assert case.ticket == older and case.link_rule == Case.LinkRule.TICKET_NUMBER


def test_when_the_ticket_is_out_of_sight_the_agent_is_told_where_it_went(client, back_office, known):
    front_agent = AgentFactory(
        user__username="fiona", teams=[back_office]
    )  # a front-office role in another team
    Agent.objects.filter(pk=front_agent.pk).update(role=Agent.Role.FRONT_OFFICE)
    client.force_login(front_agent.user)
    response = client.post(reverse("desk:log_call"), form(client, phone=NUMBER), follow=True)
    ticket = the_call().interaction.case.ticket
    assert response.redirect_chain[-1][0] == reverse("desk:log_call")
    assert (
        f"{ticket.number} is in {ticket.team.name}, whose tickets you do not see."
        in response.content.decode()
    )


# The look-up -----------------------------------------------------------------------------------------------


def lookup(client, **params):
    return client.get(reverse("desk:call_lookup"), params, headers={"HX-Request": "true"})


def test_the_lookup_finds_the_caller_by_phone_unique_id_or_reference(client, agent, known):
    ReferenceFactory(customer=known, value="ORD-55")
    ticket = TicketFactory(customer=known, subject="Slow line")
    client.force_login(agent.user)
    for params in ({"phone": "07700900555"}, {"customer_id": "ABC"}, {"reference": "ord-55"}):
        response = lookup(client, **params)
        html = response.content.decode()
        assert response.status_code == 200 and "<html" not in html
        assert html.lstrip().startswith('<section id="caller-match"')
        assert "<strong>ABC</strong> · Alice Brown" in html, params
        assert ticket.number in html
    assert f"joins {ticket.number}" in lookup(client, phone=NUMBER).content.decode()


def test_the_lookup_says_a_new_number_makes_a_new_customer(client, agent):
    client.force_login(agent.user)
    html = lookup(client, phone="+447700900111").content.decode()
    assert "New caller" in html and "a new ticket for a new customer" in html


def test_the_lookup_explains_what_is_wrong(client, agent, known):
    CustomerFactory(unique_id="OTHER")
    client.force_login(agent.user)
    assert "is not a phone number" in lookup(client, phone="12ab").content.decode()
    assert "No customer has the unique ID NOPE" in lookup(client, customer_id="NOPE").content.decode()
    html = lookup(client, phone=NUMBER, customer_id="OTHER").content.decode()
    assert "belongs to ABC, not OTHER" in html


def test_the_lookup_escapes_customer_names(client, agent):
    customer = CustomerFactory(unique_id="XSS", name="<script>alert(1)</script>")
    IdentityFactory(customer=customer, channel=AddressKind.PHONE, address=NUMBER)
    client.force_login(agent.user)
    html = lookup(client, phone=NUMBER).content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)" in html


def test_the_customer_page_link_prefills_the_unique_id(client, agent, known):
    client.force_login(agent.user)
    response = client.get(reverse("desk:log_call"), {"customer_id": "ABC"})
    html = response.content.decode()
    assert 'value="ABC"' in html and "<strong>ABC</strong>" in html


def test_the_lookup_lists_only_tickets_the_agent_may_see(client, agent, back_office, known):
    mine = TicketFactory(customer=known, subject="Front office matter")
    theirs = TicketFactory(customer=known, team=back_office, subject="Back office matter")
    client.force_login(agent.user)
    html = lookup(client, phone=NUMBER).content.decode()
    assert mine.number in html and theirs.number not in html and "Back office matter" not in html
