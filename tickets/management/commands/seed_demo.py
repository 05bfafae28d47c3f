"""A believable help desk to look at: teams, agents of every role, customers and tickets on every channel.

Everything goes through the real pipeline (``channels_intake.services.accept`` → ``tickets.intake``) and
the real lifecycle services, never by setting a status. Idempotent: a second run adds nothing.
"""

from __future__ import annotations

import json
import random
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from channels_intake.adapters import cli
from channels_intake.services import accept
from tickets.errors import HelpdeskError
from tickets.lifecycle import Status
from tickets.models import (
    Agent,
    BusinessCalendar,
    CannedResponse,
    Category,
    Customer,
    CustomerIdentity,
    Tag,
    Team,
    Ticket,
)
from tickets.services import transitions
from tickets.services.customers import normalise_address
from tickets.services.replies import add_note, reply

PASSWORD = "demo"
FIRST = [
    "Amara",
    "Ben",
    "Chloe",
    "Dmitri",
    "Elif",
    "Farid",
    "Grace",
    "Hana",
    "Ivan",
    "Jonas",
    "Keiko",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Yusuf",
    "Zoe",
]
LAST = [
    "Adeyemi",
    "Baker",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Murphy",
    "Nguyen",
    "Okafor",
    "Petrov",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ueda",
    "Varga",
    "Walsh",
    "Xu",
    "Yilmaz",
    "Zhang",
]
SUBJECTS = {
    "technical": [
        "Internet not working since this morning",
        "Router keeps restarting",
        "Very slow connection in the evening",
        "Wi-Fi drops every few minutes",
        "No dial tone on my landline",
        "TV box shows error 502",
    ],
    "billing": [
        "I was charged twice this month",
        "Invoice amount is wrong",
        "Refund not received",
        "Direct debit failed, what now?",
        "Please explain the extra fee on my bill",
    ],
    "general": [
        "How do I change my plan?",
        "Moving house next month",
        "Question about the contract end date",
        "Can I add a second line?",
    ],
}
CHANNEL_WEIGHTS = {"email": 30, "whatsapp": 20, "voice": 20, "sms": 10, "social": 8, "chat": 8, "web": 4}
AGENTS = [
    # username, name, role, teams, senior
    ("frontoffice", "Fiona Front", Agent.Role.FRONT_OFFICE, ["front-office"], False),
    ("backoffice", "Bruno Back", Agent.Role.BACK_OFFICE, ["technical"], False),
    ("supervisor", "Sofia Super", Agent.Role.SUPERVISOR, ["front-office", "billing", "technical"], True),
    ("admin", "Ada Admin", Agent.Role.ADMIN, ["front-office", "billing", "technical"], False),
    ("amir", "Amir Haddad", Agent.Role.FRONT_OFFICE, ["front-office"], False),
    ("beth", "Beth Murphy", Agent.Role.FRONT_OFFICE, ["front-office"], True),
    ("carlos", "Carlos Lopez", Agent.Role.FRONT_OFFICE, ["front-office"], False),
    ("dana", "Dana Walsh", Agent.Role.BACK_OFFICE, ["billing"], True),
    ("emil", "Emil Jensen", Agent.Role.BACK_OFFICE, ["billing"], False),
    ("farah", "Farah Okafor", Agent.Role.BACK_OFFICE, ["technical"], True),
    ("goran", "Goran Petrov", Agent.Role.BACK_OFFICE, ["technical"], False),
    ("hiro", "Hiro Tanaka", Agent.Role.SUPERVISOR, ["billing", "technical"], False),
]


class Command(BaseCommand):
    help = "Load a demo help desk (idempotent). Log-ins: admin, supervisor, frontoffice, backoffice; password 'demo'."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=300)
        parser.add_argument("--tickets", type=int, default=320)

    def handle(self, *args, customers: int, tickets: int, **opts):
        started = time.monotonic()
        self.rng = random.Random(42)
        teams = self.teams()
        agents = self.agents(teams)
        if Customer.objects.filter(unique_id="ABC").exists():
            self.stdout.write("Demo data already loaded; nothing to add.")
        else:
            self.seed_story(agents)
            self.customers(customers)
            self.tickets(tickets, teams, agents)
            self.work_for_every_login(teams, agents)
        self.stdout.write(
            f"Demo help desk ready in {time.monotonic() - started:.0f} s: {Customer.objects.count()} customers, "
            f"{Ticket.objects.count()} tickets ({self.status_summary()}).\n"
            f"Log in at /admin/ as admin, supervisor, frontoffice or backoffice, password '{PASSWORD}'."
        )

    # --- configuration -------------------------------------------------------------------------------

    @transaction.atomic
    def teams(self) -> dict[str, Team]:
        calendar, _ = BusinessCalendar.objects.get_or_create(
            name="London office",
            defaults={
                "timezone": "Europe/London",
                "holiday_country": "GB",
                "weekly_hours": {d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
                | {"sat": [["09:00", "17:00"]]},
            },
        )
        front = Team.objects.get_or_create(slug="front-office", defaults={"name": "Front office"})[0]
        billing = Team.objects.get_or_create(
            slug="billing", defaults={"name": "Billing", "kind": Team.Kind.BACK}
        )[0]
        technical = Team.objects.get_or_create(
            slug="technical", defaults={"name": "Technical back office", "kind": Team.Kind.BACK}
        )[0]
        for team, fallback in ((front, None), (billing, front), (technical, front)):
            team.calendar, team.fallback_team = calendar, fallback
            team.save(update_fields=["calendar", "fallback_team"])
        for name in ("Technical", "Billing", "General"):
            Category.objects.get_or_create(slug=name.lower(), defaults={"name": name})
        for tag in ("outage", "router", "refund", "vip", "callback", "recurring"):
            Tag.objects.get_or_create(name=tag)
        for title, body, team in [
            ("Greeting", "Hello {customer_name}, thank you for contacting us about {ticket_number}.", None),
            (
                "Router restart",
                "Please unplug your router for 30 seconds, plug it back in and tell us the lights you see.",
                technical,
            ),
            (
                "Refund on its way",
                "Your refund has been issued and will reach your account within 5 working days.",
                billing,
            ),
            ("Closing", "We believe this is solved. Reply to this message if anything is still wrong.", None),
        ]:
            CannedResponse.objects.get_or_create(title=title, defaults={"body": body, "team": team})
        return {t.slug: t for t in (front, billing, technical)}

    @transaction.atomic
    def agents(self, teams) -> dict[str, Agent]:
        User = get_user_model()
        agents = {}
        for username, name, role, team_slugs, senior in AGENTS:
            first, last = name.split(" ", 1)
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": f"{username}@helpdesk.localhost"},
            )
            if created:
                user.set_password(PASSWORD)
            user.is_staff = True  # everyone signs in through the admin's log-in page
            user.is_superuser = role == Agent.Role.ADMIN
            user.save()
            agent, _ = Agent.objects.get_or_create(
                user=user,
                defaults={
                    "role": role,
                    "is_senior": senior,
                    "presence": Agent.Presence.ONLINE,
                    "max_active_assignments": 10,
                },
            )
            agent.teams.set([teams[s] for s in team_slugs])
            agents[username] = agent
        return agents

    # --- intake --------------------------------------------------------------------------------------

    def intake(self, **fields) -> dict:
        """One message through the real edge: stored as an inbound event, then the pipeline."""
        event = accept(source=cli.SOURCE, channel=fields["channel"], payload=json.dumps(fields))
        if event.status == event.Status.FAILED:
            raise HelpdeskError(f"demo message refused: {event.error}")
        return event.result["messages"][0]

    def ticket(self, result: dict) -> Ticket:
        return Ticket.objects.get(pk=int(result["ticket"][2:]))

    def seed_story(self, agents) -> None:
        """DOMAIN.md's worked example for customer ABC: A voice, B WhatsApp, C e-mail → T1; D → T2; T1 closed."""
        Customer.objects.create(unique_id="ABC", name="Alex Brown (ABC Ltd)", tier=Customer.Tier.PREMIUM)
        a = self.intake(
            channel="voice",
            sender="+447700900100",
            customer_unique_id="ABC",
            reference="ORD-1",
            text="Inbound call, 6 min: customer reports internet not working since this morning.",
            provider_message_id="CA-demo-A",
        )
        self.intake(
            channel="whatsapp",
            sender="447700900100",
            text="Hi, still no internet. Order ORD-1.",
            provider_message_id="wamid.demo-B",
        )
        self.intake(
            channel="email",
            sender="alex@abc.example",
            sender_name="Alex Brown",
            customer_unique_id="ABC",
            subject="Internet down - order ORD-1",
            text="The router lights are red. Please help.",
            provider_message_id="<demo-C@abc.example>",
        )
        self.intake(
            channel="email",
            sender="alex@abc.example",
            subject="Billing problem on ORD-2",
            text="I was charged twice for order ORD-2.",
            provider_message_id="<demo-D@abc.example>",
        )
        t1 = self.ticket(a)
        owner = agents["frontoffice"]
        t1 = transitions.assign(ticket=t1, actor=None, agent=owner, reason="demo")
        reply(ticket=t1, actor=owner.user, body="We are checking the line for order ORD-1.")
        transitions.escalate(
            ticket=t1,
            actor=owner.user,
            reason="Line fault: needs an engineer",
            to_team=Team.objects.get(slug="technical"),
        )
        t1 = transitions.assign(ticket=t1, actor=None, agent=agents["backoffice"], reason="demo")
        transitions.open_ticket(ticket=t1, actor=agents["backoffice"].user)
        add_note(ticket=t1, actor=agents["backoffice"].user, body="Exchange port reset; line back in sync.")
        transitions.resolve(
            ticket=t1,
            actor=agents["backoffice"].user,
            resolution_type="fixed",
            notes="Port reset at the exchange; customer's line back in sync.",
        )
        transitions.close(ticket=t1, actor=None, reason="Customer confirmed it works")

    def customers(self, count: int) -> None:
        rng = self.rng
        rows = []
        for n in range(count):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            rows.append(
                Customer(
                    unique_id=f"CUS{n + 1:05d}",
                    name=f"{first} {last}",
                    tier=rng.choices(["standard", "premium", "vip"], [85, 12, 3])[0],
                )
            )
        Customer.objects.bulk_create(rows, ignore_conflicts=True)
        identities = []
        for c in Customer.objects.filter(unique_id__startswith="CUS"):
            n = int(c.unique_id[3:])
            phone = f"+4477009{n:05d}"
            handle = c.name.lower().replace(" ", ".")
            identities += [
                CustomerIdentity(
                    customer=c, channel="email", address=f"{handle}.{n}@example.com", display_name=c.name
                ),
                CustomerIdentity(customer=c, channel="phone", address=normalise_address("voice", phone)[1]),
                CustomerIdentity(
                    customer=c, channel="whatsapp", address=normalise_address("whatsapp", phone)[1]
                ),
            ]
        CustomerIdentity.objects.bulk_create(identities, ignore_conflicts=True)

    def tickets(self, count: int, teams, agents) -> None:
        rng = self.rng
        customers = list(Customer.objects.filter(unique_id__startswith="CUS").prefetch_related("identities"))
        channels, weights = zip(*CHANNEL_WEIGHTS.items(), strict=True)
        now = timezone.now()
        for n in range(count):
            customer = rng.choice(customers)
            ids = {i.channel: i.address for i in customer.identities.all()}
            channel = rng.choices(channels, weights)[0]
            sender = {
                "email": ids["email"],
                "web": ids["email"],
                "voice": ids["phone"],
                "sms": ids["phone"],
                "whatsapp": ids["whatsapp"].lstrip("+"),
                "social": f"messenger:{customer.unique_id.lower()}",
                "chat": f"chat-session-{n}",
            }[channel]
            kind = rng.choices(["technical", "billing", "general"], [50, 35, 15])[0]
            subject = rng.choice(SUBJECTS[kind])
            order = f"ORD-{10000 + n}"
            result = self.intake(
                channel=channel,
                sender=sender,
                customer_unique_id=customer.unique_id,
                subject=subject,
                text=f"{subject}. My order is {order}.",
                provider_message_id=f"demo-{n}",
            )
            ticket = self.ticket(result)
            if not result["new_ticket"]:
                continue
            age = timedelta(minutes=rng.randint(5, 30 * 24 * 60))
            # Demo back-dating: spread the tickets over the last 30 days (intake stamps them "now").
            Ticket.objects.filter(pk=ticket.pk).update(
                created_at=now - age,
                updated_at=now - age,
                category=Category.objects.get(slug=kind),
                first_response_due=ticket.first_response_due - age if ticket.first_response_due else None,
                resolution_due=ticket.resolution_due - age if ticket.resolution_due else None,
            )
            ticket.refresh_from_db()
            if kind == "billing":
                self.move(ticket, teams["billing"])
            elif kind == "technical" and rng.random() < 0.4:
                self.move(ticket, teams["technical"])
            self.work(
                Ticket.objects.get(pk=ticket.pk),
                agents,
                rng.choices(
                    ["new", "assigned", "open", "pending", "resolved", "closed", "escalated", "spam"],
                    [6, 8, 10, 8, 12, 52, 3, 1],
                )[0],
            )

    def work_for_every_login(self, teams, agents) -> None:
        """Each demo log-in finds tickets to work: one just assigned, one open (their numbers are printed)."""
        plan = [("frontoffice", "front-office"), ("backoffice", "technical"), ("supervisor", "billing")]
        for n, (username, slug) in enumerate(plan):
            agent = agents[username]
            agent.max_active_assignments = max(
                agent.max_active_assignments,
                Ticket.objects.filter(assignee=agent, status__in=("assigned", "open", "pending")).count() + 2,
            )
            agent.save(update_fields=["max_active_assignments"])
            numbers = []
            for k, goal in enumerate(("assigned", "open")):
                result = self.intake(
                    channel="email",
                    sender=f"demo.{username}.{k}@example.com",
                    customer_unique_id=f"CUS{n * 2 + k + 1:05d}",
                    subject=f"Demo ticket for {username}: {self.rng.choice(SUBJECTS['technical'])}",
                    text="This ticket is waiting for you in the demo.",
                    # A reference of its own makes it a new issue (linking rule 2), not a follow-up.
                    reference=f"ORD-{90000 + n * 2 + k}",
                    provider_message_id=f"<demo-{username}-{k}@example.com>",
                )
                ticket = self.ticket(result)
                if slug != "front-office":
                    self.move(ticket, teams[slug])
                ticket = transitions.assign(
                    ticket=Ticket.objects.get(pk=ticket.pk), actor=None, agent=agent, reason="demo"
                )
                if goal == "open":
                    transitions.open_ticket(ticket=ticket, actor=agent.user)
                numbers.append(ticket.number)
            self.stdout.write(f"{username}: {', '.join(numbers)} waiting")

    def move(self, ticket: Ticket, team: Team) -> None:
        """Triage: a back-office question goes to its team (as an escalation from the front office)."""
        transitions.escalate(ticket=ticket, actor=None, reason=f"Needs {team.name}", to_team=team)

    def work(self, ticket: Ticket, agents, goal: str) -> None:
        if goal == "new":
            return
        if goal == "spam":
            transitions.mark_spam(ticket=ticket, actor=None, reason="Demo: advertising")
            return
        team_agents = [
            a for a in agents.values() if a.role != Agent.Role.ADMIN and ticket.team in a.teams.all()
        ]
        self.rng.shuffle(team_agents)
        for agent in team_agents:
            try:
                ticket = transitions.assign(ticket=ticket, actor=None, agent=agent, reason="demo routing")
                break
            except HelpdeskError:  # at the maximum: the next agent
                continue
        else:
            return  # everyone is full: it waits in the queue, as it would
        owner = ticket.assignee.user
        if goal == "assigned":
            return
        if goal == "escalated":
            transitions.escalate(ticket=ticket, actor=owner, reason="Customer is upset; needs a supervisor")
            return
        if ticket.channel == "voice":
            transitions.open_ticket(ticket=ticket, actor=owner)
        else:
            reply(ticket=ticket, actor=owner, body="Thank you, we are looking into it.")
        if goal == "open":
            return
        ticket = transitions.pend(
            ticket=Ticket.objects.get(pk=ticket.pk), actor=owner, reason="Waiting for the customer"
        )
        if goal == "pending":
            return
        ticket = transitions.resolve(
            ticket=ticket,
            actor=owner,
            resolution_type=self.rng.choice(["fixed", "workaround", "answered"]),
            notes="Explained the fix to the customer.",
        )
        if goal == "resolved":
            return
        transitions.close(ticket=ticket, actor=None, reason="Customer confirmed")

    def status_summary(self) -> str:
        return ", ".join(f"{s}: {Ticket.objects.filter(status=s).count()}" for s in Status)
