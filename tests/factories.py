"""factory-boy factories for the domain: every test builds its data here."""

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from tickets.channels import AddressKind, Channel
from tickets.models import (
    Agent,
    Case,
    Customer,
    CustomerIdentity,
    Interaction,
    Message,
    Reference,
    ReferenceKind,
    Team,
    Ticket,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@helpdesk.test")
    password = factory.django.Password("pw")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")
    kind = Team.Kind.FRONT


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    role = Agent.Role.FRONT_OFFICE
    presence = Agent.Presence.ONLINE
    max_active_assignments = 5

    @factory.post_generation
    def teams(self, create, extracted, **kwargs):
        if create and extracted:
            self.teams.set(extracted)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        django_get_or_create = ("unique_id",)

    unique_id = factory.Sequence(lambda n: f"CUST{n:04d}")
    name = factory.Faker("name")


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerIdentity

    customer = factory.SubFactory(CustomerFactory)
    channel = AddressKind.EMAIL
    address = factory.Sequence(lambda n: f"customer{n}@example.com")


class ReferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reference

    kind = factory.LazyFunction(lambda: ReferenceKind.objects.get(code="order"))
    value = factory.Sequence(lambda n: f"ORD-{9000 + n}")
    customer = factory.SubFactory(CustomerFactory)


class TicketFactory(factory.django.DjangoModelFactory):
    """A ticket with one e-mail interaction and its case, as intake would have made it."""

    class Meta:
        model = Ticket
        skip_postgeneration_save = True

    customer = factory.SubFactory(CustomerFactory)
    subject = factory.Faker("sentence", nb_words=5)
    channel = Channel.EMAIL
    team = factory.LazyFunction(lambda: Team.objects.get(slug="front-office"))
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)
    queued_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def with_case(self, create, extracted, **kwargs):
        if not create or extracted is False:
            return
        identity = IdentityFactory(customer=self.customer)
        now = timezone.now()
        interaction = Interaction.objects.create(
            customer=self.customer,
            identity=identity,
            channel=self.channel,
            started_at=now,
            last_message_at=now,
        )
        Case.objects.create(
            interaction=interaction, ticket=self, link_rule=Case.LinkRule.NEW_TICKET, created_at=now
        )
        Message.objects.create(
            interaction=interaction,
            channel=self.channel,
            direction=Message.Direction.INBOUND,
            sender=identity.address,
            body=self.subject,
            delivery_status=Message.DeliveryStatus.RECEIVED,
            sent_at=now,
        )
