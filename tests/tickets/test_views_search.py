"""Global search (``desk:search``): numbers, customers, identities, references and message text — visible only."""

import pytest
from django.urls import reverse

from tests.factories import CustomerFactory, IdentityFactory, ReferenceFactory, TicketFactory
from tickets.channels import AddressKind
from tickets.models import Interaction, Message
from tickets.selectors import search as search_selector
from tickets.views.my_work import ticket_url

pytestmark = pytest.mark.django_db


def find(client, q, **kw):
    return client.get(reverse("desk:search"), {"q": q}, **kw)


def found(response):
    r = response.context["results"]
    return [t.pk for t in r.tickets], [c.unique_id for c in r.customers]


def add_message(ticket, body, subject=""):
    interaction = Interaction.objects.filter(case__ticket=ticket).first()
    return Message.objects.create(
        interaction=interaction,
        channel=interaction.channel,
        direction=Message.Direction.INBOUND,
        body=body,
        subject=subject,
        delivery_status=Message.DeliveryStatus.RECEIVED,
        sent_at=ticket.created_at,
    )


def test_anonymous_visitors_are_sent_to_log_in(client):
    assert find(client, "x")["Location"].startswith(reverse("desk:login"))


def test_an_empty_search_shows_the_form(client, agent):
    client.force_login(agent.user)
    response = client.get(reverse("desk:search"))
    assert response.status_code == 200 and 'name="q"' in response.content.decode()
    assert response.context["results"].empty


@pytest.mark.parametrize("form", ["T-{pk:06d}", "t-{pk}", "{pk}", " T-{pk:06d} "])
def test_an_exact_ticket_number_jumps_straight_to_it(client, agent, form):
    ticket = TicketFactory()
    client.force_login(agent.user)
    response = find(client, form.format(pk=ticket.pk))
    if ticket_url(ticket.pk):
        assert response.status_code == 302 and response["Location"] == ticket_url(ticket.pk)
    else:  # the workspace is not installed: the result is listed instead
        assert found(response)[0] == [ticket.pk]


def test_a_ticket_number_out_of_sight_finds_nothing(client, agent, back_office):
    hidden = TicketFactory(team=back_office, subject="Hidden")
    client.force_login(agent.user)
    response = find(client, hidden.number)
    assert response.status_code == 200
    assert response.context["results"].jump_to is None and found(response) == ([], [])
    assert "Nothing you may see matches" in response.content.decode()


def test_a_phone_number_is_normalised_as_intake_does(client, agent):
    customer = CustomerFactory(unique_id="PHONE1")
    IdentityFactory(customer=customer, channel=AddressKind.PHONE, address="+447700900123")
    ticket = TicketFactory(customer=customer)
    client.force_login(agent.user)
    for q in ("07700 900123", "07700900123", "+44 7700 900123", "(07700) 900-123", "447700900123"):
        tickets, customers = found(find(client, q))
        assert customers == ["PHONE1"] and tickets == [ticket.pk], q


def test_e_mail_unique_id_name_and_reference(client, agent):
    customer = CustomerFactory(unique_id="ACME-7", name="Ada Lovelace")
    IdentityFactory(customer=customer, address="ada@example.com")
    ref = ReferenceFactory(customer=customer, value="ORD-4242")
    ticket = TicketFactory(customer=customer, reference=ref)
    other = TicketFactory(subject="Somebody else")
    client.force_login(agent.user)
    for q in ("ADA@example.com", "acme-7", "lovelace", "ord-4242"):
        tickets, customers = found(find(client, q))
        assert customers == ["ACME-7"] and tickets == [ticket.pk], q
    assert other.pk not in found(find(client, "ACME-7"))[0]


def test_message_text_finds_its_ticket_but_never_one_out_of_sight(client, agent, back_office):
    mine = TicketFactory(subject="Router")
    add_message(mine, "The fibre modem shows a red LOS light")
    theirs = TicketFactory(team=back_office, subject="Other")
    add_message(theirs, "Also a red LOS light here")
    by_subject = TicketFactory(subject="Invoice for March")
    client.force_login(agent.user)
    assert found(find(client, "red los light"))[0] == [mine.pk]
    assert found(find(client, "invoice for"))[0] == [by_subject.pk]


def test_a_short_query_matches_exactly_only(client, agent):
    ticket = TicketFactory(subject="ab ab ab")
    add_message(ticket, "ab")
    CustomerFactory(unique_id="AB")
    TicketFactory(customer=CustomerFactory(unique_id="ABX"))
    client.force_login(agent.user)
    response = find(client, "ab")
    assert found(response)[0] == []
    assert response.context["results"].text_searched is False


def test_results_are_bounded_and_say_so(client, agent, monkeypatch):
    monkeypatch.setattr(search_selector, "TICKET_LIMIT", 3)
    monkeypatch.setattr(search_selector, "CUSTOMER_LIMIT", 2)
    for i in range(5):
        TicketFactory(subject=f"Broadband outage {i}", customer=CustomerFactory(name=f"Broadband fan {i}"))
    client.force_login(agent.user)
    response = find(client, "broadband")
    results = response.context["results"]
    assert len(results.tickets) == 3 and results.more_tickets
    assert len(results.customers) == 2 and results.more_customers
    assert "narrow the search" in response.content.decode()


def test_customers_only_when_the_agent_may_see_them(client, agent, back_agent, back_office):
    customer = CustomerFactory(unique_id="SEEN-BY-FRONT")
    TicketFactory(customer=customer)
    client.force_login(back_agent.user)
    assert found(find(client, "SEEN-BY-FRONT")) == ([], [])
    client.force_login(agent.user)
    assert found(find(client, "SEEN-BY-FRONT"))[1] == ["SEEN-BY-FRONT"]


def test_the_query_is_escaped_and_kept_in_the_search_box(client, agent):
    client.force_login(agent.user)
    html = find(client, '<script>alert("x")</script>').content.decode()
    assert '<script>alert("x")' not in html and "&lt;script&gt;alert(&quot;x&quot;)" in html
    assert 'value="&lt;script&gt;' in html


def test_search_costs_a_fixed_number_of_queries(client, agent, django_assert_max_num_queries):
    for i in range(30):
        ticket = TicketFactory(subject=f"Outage number {i}")
        add_message(ticket, f"the outage again, day {i}")
    client.force_login(agent.user)
    with django_assert_max_num_queries(10):
        response = find(client, "outage")
    assert len(response.context["results"].tickets) == 30
