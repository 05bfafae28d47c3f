"""The customer view (``desk:customer``) and its per-unique-ID interaction table (DOMAIN.md, worked example)."""

import pytest
from django.urls import reverse

from tests.factories import AgentFactory, CustomerFactory, IdentityFactory, ReferenceFactory, TicketFactory
from tickets.intake import InboundMessage, receive
from tickets.lifecycle import Status
from tickets.models import Agent, Customer, Ticket
from tickets.selectors.customers import interaction_table, issue_label
from tickets.services import transitions
from tickets.views.my_work import ticket_url

pytestmark = pytest.mark.django_db

PHONE = "+441632960001"


def url(customer):
    return reverse("desk:customer", args=[customer.unique_id])


def worked_example(agent):
    """DOMAIN.md's seed 000, through the real pipeline: A voice, B WhatsApp, C e-mail about ORD-1; D billing
    on ORD-2; then T1 is closed."""
    a = receive(
        InboundMessage(
            channel="voice",
            sender=PHONE,
            text="Internet not working",
            customer_unique_id="ABC",
            reference="ORD-1",
            provider_message_id="CA1",
        )
    )
    b = receive(
        InboundMessage(
            channel="whatsapp",
            sender=PHONE.lstrip("+"),
            text="Still no internet, order ORD-1",
            provider_message_id="wamid.B",
        )
    )
    c = receive(
        InboundMessage(
            channel="email",
            sender="ABC Customer <abc@example.com>",
            subject="Order ORD-1",
            text="My internet is still down",
            customer_unique_id="ABC",
            provider_message_id="<c@example.com>",
        )
    )
    d = receive(
        InboundMessage(
            channel="email",
            sender="abc@example.com",
            subject="Billing problem ORD-2",
            text="I was billed twice",
            provider_message_id="<d@example.com>",
        )
    )
    t1 = Ticket.objects.get(pk=int(a.ticket[2:]))
    transitions.assign(ticket=t1, actor=None, agent=agent)
    transitions.open_ticket(ticket=t1, actor=agent.user)
    transitions.close(ticket=t1, actor=agent.user, resolution_type="fixed", notes="Router replaced")
    return a, b, c, d


def as_domain_table(rows):
    return [
        (r.kind, f"case {r.case_id}", r.ticket_number, r.interactions_in_ticket, r.contacts, r.issues)
        for r in rows
    ]


def test_the_selector_reads_the_worked_example_exactly_as_domain_md(agent):
    a, b, c, d = worked_example(agent)
    rows = interaction_table(Customer.objects.get(unique_id="ABC"))
    assert as_domain_table(rows) == [
        ("first interaction (issue A)", f"case {a.case}", a.ticket, 1, 1, 1),
        ("follow-up (issue A)", f"case {b.case}", a.ticket, 2, 2, 1),
        ("follow-up (issue A)", f"case {c.case}", a.ticket, 3, 3, 1),
        ("first interaction (issue B)", f"case {d.case}", d.ticket, 1, 4, 2),
    ]
    assert [r.channel for r in rows] == ["voice", "whatsapp", "email", "email"]
    assert [r.interaction_id for r in rows] == [a.interaction, b.interaction, c.interaction, d.interaction]


def test_issue_letters_go_on_past_z():
    assert [issue_label(n) for n in (1, 2, 26, 27, 28, 52, 53)] == ["A", "B", "Z", "AA", "AB", "AZ", "BA"]


def test_the_page_shows_the_worked_example_table(client, agent, supervisor):
    a, b, c, d = worked_example(agent)
    client.force_login(supervisor.user)
    response = client.get(reverse("desk:customer", args=["ABC"]))
    assert response.status_code == 200
    page = response.context["page"]
    assert as_domain_table(page.table) == as_domain_table(interaction_table(page.customer))
    assert page.table_total == 4
    html = response.content.decode()
    for text in ("first interaction (issue A)", "follow-up (issue A)", "first interaction (issue B)"):
        assert text in html
    assert f"case {d.case}" in html and a.ticket in html and d.ticket in html
    # Identities (phone, WhatsApp, e-mail) and references (ORD-1, ORD-2) of the one customer.
    assert {i.address for i in page.identities} == {PHONE, "abc@example.com"}
    assert len(page.identities) == 3
    assert {r.value for r in page.references} == {"ORD-1", "ORD-2"}
    assert "ORD-1" in html and "abc@example.com" in html
    assert [t.number for t in page.tickets] == [d.ticket, a.ticket]


def test_an_agent_sees_a_customer_through_a_ticket_they_may_see(client, agent, back_agent, back_office):
    customer = CustomerFactory(unique_id="XYZ", name="Xavier")
    TicketFactory(customer=customer)  # front office
    client.force_login(agent.user)
    assert client.get(url(customer)).status_code == 200
    client.force_login(back_agent.user)
    assert client.get(url(customer)).status_code == 404
    # Owning a ticket of the customer is enough, whatever its team.
    TicketFactory(customer=customer, team=back_office, status=Status.ASSIGNED, assignee=back_agent)
    assert client.get(url(customer)).status_code == 200


def test_unknown_and_ticketless_customers(client, agent, supervisor):
    lonely = CustomerFactory(unique_id="CRM-ONLY")
    client.force_login(agent.user)
    assert client.get(url(lonely)).status_code == 404
    assert client.get(reverse("desk:customer", args=["NOPE"])).status_code == 404
    client.force_login(supervisor.user)
    response = client.get(url(lonely))
    assert response.status_code == 200 and "No interactions yet." in response.content.decode()
    assert client.get(reverse("desk:customer", args=["NOPE"])).status_code == 404


def test_an_admin_sees_every_customer(client, back_office):
    admin = AgentFactory(role=Agent.Role.ADMIN, user__is_staff=True, user__is_superuser=True)
    customer = CustomerFactory()
    TicketFactory(customer=customer, team=back_office)
    client.force_login(admin.user)
    assert client.get(url(customer)).status_code == 200


def test_only_visible_tickets_are_listed_and_linked(client, agent, back_office):
    customer = CustomerFactory()
    mine = TicketFactory(customer=customer, subject="Front office issue")
    theirs = TicketFactory(customer=customer, team=back_office, subject="Back office secret")
    client.force_login(agent.user)
    response = client.get(url(customer))
    page = response.context["page"]
    assert [t.pk for t in page.tickets] == [mine.pk]
    assert page.tickets_total == 1
    html = response.content.decode()
    assert "Back office secret" not in html
    # The interaction table still counts the other team's issue, without a link to it.
    assert page.table_total == 2 and page.table[-1].issues == 2
    assert f'{theirs.number} <small class="muted">(not yours to open)' in html
    if ticket_url(theirs.pk):
        assert ticket_url(theirs.pk) not in html
        assert ticket_url(mine.pk) in html


def test_customer_strings_are_escaped(client, supervisor):
    customer = CustomerFactory(unique_id="ESC", name='<img src=x onerror="alert(1)">')
    IdentityFactory(customer=customer, address="<b>bold</b>@example.com")
    ReferenceFactory(customer=customer, value="<i>REF</i>")
    client.force_login(supervisor.user)
    html = client.get(url(customer)).content.decode()
    assert "<img src=x" not in html and "<b>bold" not in html and "<i>REF" not in html
    assert "&lt;img src=x" in html


def test_the_page_costs_a_fixed_number_of_queries(client, agent, django_assert_max_num_queries):
    customer = CustomerFactory()
    for _ in range(30):
        TicketFactory(customer=customer)  # each with an interaction, a case and a message
    for _ in range(5):
        IdentityFactory(customer=customer)
        ReferenceFactory(customer=customer)
    client.force_login(agent.user)
    with django_assert_max_num_queries(12):
        response = client.get(url(customer))
    assert response.context["page"].table_total == 30
    assert len(response.context["page"].tickets) == 30


def test_a_long_history_shows_the_newest_rows_with_counts_over_all(client, supervisor, monkeypatch):
    from tickets.selectors import customers as selector

    monkeypatch.setattr(selector, "TABLE_ROWS_SHOWN", 2)
    customer = CustomerFactory()
    tickets = [TicketFactory(customer=customer) for _ in range(4)]
    client.force_login(supervisor.user)
    response = client.get(url(customer))
    page = response.context["page"]
    assert (page.table_total, page.table_hidden) == (4, 2)
    assert [(r.ticket_id, r.contacts, r.issues) for r in page.table] == [
        (tickets[2].pk, 3, 3),
        (tickets[3].pk, 4, 4),
    ]
    assert "The 2 earliest are not shown; the counts include them." in response.content.decode()
