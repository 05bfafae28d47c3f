"""The intake pipeline under concurrent deliveries (PostgreSQL): what bench/load.py found.

A customer writing about a new order on two channels at once (an e-mail and an SMS a second apart, handled by
two web workers) must get one ticket for it, not one per channel: a customer's messages are taken in one at a
time (the customer's row is locked), so the second finds the ticket the first created.
"""

import pytest

from tests.concurrency import race
from tests.factories import CustomerFactory, IdentityFactory, ReferenceFactory
from tickets.channels import AddressKind
from tickets.intake import InboundMessage, receive
from tickets.models import Ticket

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_one_customer_naming_a_new_order_on_two_channels_at_once_gets_one_ticket():
    customer = CustomerFactory(unique_id="RACE-1")
    IdentityFactory(customer=customer, channel=AddressKind.EMAIL, address="race@example.com")
    IdentityFactory(customer=customer, channel=AddressKind.PHONE, address="+447700900321")
    orders = [ReferenceFactory(customer=customer, value=f"ORD-{8100 + n}").value for n in range(5)]

    for n, order in enumerate(orders):
        results = race(
            lambda order=order, n=n: receive(
                InboundMessage(
                    channel="email",
                    sender="race@example.com",
                    text=f"About {order}",
                    provider_message_id=f"<race-{n}@example.com>",
                )
            ),
            lambda order=order, n=n: receive(
                InboundMessage(
                    channel="sms",
                    sender="+447700900321",
                    text=f"About {order}",
                    provider_message_id=f"SMrace{n}",
                )
            ),
            lambda order=order, n=n: receive(
                InboundMessage(
                    channel="whatsapp",
                    sender="+447700900321",
                    text=f"About {order}",
                    provider_message_id=f"wamid.race{n}",
                )
            ),
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        assert len({r.ticket for r in results}) == 1, (order, [(r.ticket, r.link_rule) for r in results])

    assert Ticket.objects.filter(customer=customer).count() == len(orders)
