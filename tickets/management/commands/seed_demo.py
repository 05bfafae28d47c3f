"""A believable help desk to look at: teams, agents of every role, customers and tickets on every channel.

Customers come in through the CRM import (``tickets.services.imports``); every customer message goes through
the real edge and pipeline (``channels_intake.services.accept`` with the ``cli`` source, so inbound events
exist too, then ``tickets.intake.receive``); tickets move only through the lifecycle services (assign,
open, pend, resolve, close, escalate, transfer, reassign, merge, mark as spam, reopen by a customer's
follow-up), and agents are picked by the routing decision (``tickets.routing.choose_agent``), so no one is
ever pushed past their maximum. Nothing sets a status.

The one liberty taken is time: the pipeline stamps everything "now", so once a ticket's story is played out
its whole history (events, cases, interactions, messages, inbound events) is moved back in time with
queryset ``update()``s, spread over the last 30 days (see ``Command.backdate``), and the demo's outbound
messages are marked as sent then, so the outbox does not try to write to fictional customers.

Idempotent: everything runs in one transaction and is skipped when customer ``ABC`` (the worked example of
DOMAIN.md) exists. ``--reset`` first removes every ticket, customer and inbound event.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import random
import time
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from channels_intake.adapters import cli
from channels_intake.models import InboundEvent
from channels_intake.services import accept
from tickets.channels import Channel
from tickets.lifecycle import ACTIVE_STATUSES, Status
from tickets.models import (
    Agent,
    Article,
    BusinessCalendar,
    CannedResponse,
    Case,
    Category,
    Customer,
    Interaction,
    Message,
    Note,
    Reference,
    RoutingRule,
    Tag,
    Team,
    Ticket,
    TicketEvent,
)
from tickets.models.csat import CsatFollowUp, CsatSurvey
from tickets.routing import choose_agent
from tickets.selectors.agents import active_assignment_count
from tickets.selectors.queues import routing_candidates
from tickets.services import escalation, kb, transitions
from tickets.services import sla as sla_clocks
from tickets.services.csat import answer_survey, close_follow_up, send_survey
from tickets.services.imports import COLUMNS, import_customers
from tickets.services.links import SURVEY, make_token
from tickets.services.replies import add_note, reply
from tickets.services.routing import set_presence
from tickets.services.sla import apply_targets

PASSWORD = "demo"
STORY_CUSTOMER = "ABC"
DEMO_DAYS = 30
# Fictional numbers only: Ofcom's drama range 07700 900000-900999 (ABC has 900100; customers start at 900200).
PHONE_BASE = 900200
MAX_CUSTOMERS = 999 - 200

FIRST_NAMES = [
    "Amara", "Ben", "Chloe", "Dmitri", "Elif", "Farid", "Grace", "Hana", "Ivan", "Jonas", "Keiko", "Lena",
    "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Victor", "Wen", "Yusuf",
    "Zoe", "Aoife", "Bilal", "Carmen", "Declan", "Esther", "Femi", "Gita", "Hamish", "Ines", "Joao", "Kasia",
    "Liam", "Maya", "Niamh", "Oskar", "Paula", "Rhys", "Sana", "Tom", "Ursula", "Vikram", "Willa", "Yara",
]  # fmt: skip
LAST_NAMES = [
    "Adeyemi", "Baker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
    "Kowalski", "Lopez", "Murphy", "Nguyen", "Okafor", "Petrov", "Rossi", "Schmidt", "Tanaka", "Ueda",
    "Varga", "Walsh", "Xu", "Yilmaz", "Zhang", "Ahmed", "Brennan", "Campbell", "Da Silva", "Evans", "Flynn",
    "Gallagher", "Hughes", "Iqbal", "Jones", "Khan", "Lewis", "Mensah", "Novak", "O'Brien", "Patel", "Reid",
]  # fmt: skip
COMPANY_NAMES = [
    "Brightwater", "Northgate", "Kestrel", "Millbrook", "Harbour", "Oakleaf", "Redkite", "Silverline",
    "Bluebell", "Granite", "Juniper", "Lantern", "Meadow", "Pennine", "Riverside", "Thistle",
]  # fmt: skip
TRADES = ["Bakery", "Dental", "Logistics", "Florists", "Physio", "Architects", "Studios", "Taxis", "Builders"]
EMAIL_DOMAINS = ["example.com", "example.net", "example.org"]

# The knowledge base's published articles: (title, text, category slug, tags).
KB_ARTICLES = [
    ("Router light red or router restarting", "Hello {customer_name},\n\nPlease unplug the router for 30 "
     "seconds and plug it back in. If the light is still red after five minutes, we run a line test from "
     "here and book an engineer when the line is at fault.", "technical", ["router", "outage"]),
    ("Wi-Fi drops in the evening", "Evening drops are most often interference from neighbouring networks. "
     "Move the router off the floor and away from the microwave, and switch it to the 5 GHz band in its "
     "settings page.", "technical", ["router"]),
    ("No mobile data abroad", "Switch data roaming on in the phone's settings, then restart the phone. If "
     "it still has no data, choose the network by hand: automatic selection sometimes picks a partner we "
     "have no agreement with.", "technical", ["roaming"]),
    ("Refund timing", "A refund reaches the customer's account within 5 working days of being issued. Give "
     "them the date it was issued; if more than 5 days have passed, the billing team traces it.",
     "billing", ["refund"]),
    ("Charged twice in a month", "A double charge is refunded in full: check both payments on the account, "
     "issue the refund of the second and tell the customer the date ({ticket_number}).", "billing",
     ["refund", "complaint"]),
    ("Moving house", "We move the service with the customer: ask for the new address and the moving date; "
     "the line at the new address is ready on that day when we hear 10 working days before.", "general", []),
]  # fmt: skip
# (subject, what the customer says)
ISSUES = {
    "technical": [
        ("Internet not working", "My internet has been down since this morning and the router light is red."),
        ("Wi-Fi keeps dropping", "The Wi-Fi drops every few minutes, worst in the evening."),
        ("Very slow broadband", "Speed tests show 3 Mbps instead of the 200 Mbps I pay for."),
        ("Router keeps restarting", "The router restarts itself several times an hour."),
        ("No dial tone on my landline", "There has been no dial tone on my home phone since yesterday."),
        ("TV box shows error 502", "The TV box says error 502 and will not load any channels."),
        ("No mobile data abroad", "I am in Spain and my phone has no data although roaming is switched on."),
        ("Cannot log in to my e-mail", "My mailbox says the account is locked after a password change."),
    ],
    "billing": [
        ("Charged twice this month", "I was charged twice for my monthly plan this month."),
        ("Invoice amount is wrong", "My invoice says 89.00 but my plan is 45.00 a month."),
        ("Refund not received", "I was promised a refund three weeks ago and it has not arrived."),
        ("Direct debit failed", "My bank says the direct debit failed. How do I pay this month?"),
        ("Unknown fee on my bill", "There is a 25.00 service fee on my bill that I do not recognise."),
        (
            "Still billed after cancelling",
            "I cancelled the TV add-on last month but I am still charged for it.",
        ),
    ],
    "general": [
        ("How do I change my plan?", "I would like a faster plan. How do I change it?"),
        ("Moving house next month", "I am moving house on the 14th. Can the service move with me?"),
        ("When does my contract end?", "Could you tell me when my contract ends?"),
        ("Add a second line", "Can I add a second mobile line to my account?"),
        ("Change my billing address", "Please update my billing address, I have moved."),
    ],
}
REPLIES = [
    "Hello {first}, thank you for getting in touch. We are looking into this now.",
    "Hi {first}, sorry for the trouble. Could you restart the router and tell us which lights you see?",
    "Hello {first}, thanks for the details. We have checked your account and will come back to you today.",
    "Hi {first}, we have found the cause and are fixing it. We will update you shortly.",
]
HANDOVER = {
    "billing": "Hi {first}, I have passed this to our billing team, who will sort it out.",
    "technical": "Hi {first}, I have asked our technical team to check your line; they will be in touch.",
}
NOTES = {
    "technical": [
        "Line test: sync errors at the cabinet. Job raised with the network team.",
        "Router firmware was two versions behind; pushed the update remotely.",
        "Exchange port reset; line back in sync at full speed.",
    ],
    "billing": [
        "Duplicate payment confirmed on the bank file; refund approved.",
        "Fee was applied in error after the plan change; credit issued.",
        "Direct debit mandate re-created; next collection on the 1st.",
    ],
    "general": ["Checked the contract: 24 months, ends in March.", "Explained the options on the call."],
}
PENDING = {
    "technical": "Waiting for the customer to try the router reset",
    "billing": "Waiting for a copy of the bank statement",
    "general": "Waiting for the customer to choose a plan",
}
CUSTOMER_ANSWERS = [
    "I tried that and it is still the same.",
    "Done. The lights are green now but it is still slow.",
    "Here is the statement you asked for.",
]
# CSAT on the closed tickets: the share of surveys answered, the ratings' weights (5 down to 1) and what people say.
CSAT_ANSWERED = 0.7
CSAT_WEIGHTS = [44, 28, 10, 10, 8]
CSAT_COMMENTS = {
    5: ["Fixed on the first call, thank you!", "Very helpful and quick.", ""],
    4: ["Good, but it took a couple of days.", "Friendly and clear.", ""],
    3: ["It works now, but I had to explain it twice.", ""],
    2: ["Three contacts before anyone understood the problem.", "Slow, and nobody called me back."],
    1: ["Days without internet and no updates at all.", "I was charged twice and had to chase the refund."],
}
RESOLUTIONS = {
    "technical": [("fixed", "Line reset at the exchange; speed back to normal."),
                  ("workaround", "Fixed Wi-Fi channel set until the firmware update.")],
    "billing": [("fixed", "Duplicate charge refunded to the customer's card."),
                ("answered", "Explained the pro-rata charge after the plan change.")],
    "general": [("answered", "Explained how to change the plan online."),
                ("answered", "Confirmed the contract end date and the options.")],
}  # fmt: skip
CHANNEL_WEIGHTS = {
    Channel.EMAIL: 28, Channel.WHATSAPP: 20, Channel.VOICE: 20, Channel.SMS: 9, Channel.SOCIAL: 8,
    Channel.CHAT: 10, Channel.WEB: 5,
}  # fmt: skip
# How each demo ticket ends (weights), and how long ago its story starts (hours).
OUTCOMES = {
    "new": (3, (0.1, 3)),
    "assigned": (3, (0.2, 8)),
    "open": (4, (2, 72)),
    "pending": (4, (4, 144)),
    "resolved": (7, (6, 60)),
    "closed": (65, (24, DEMO_DAYS * 24)),
    "escalated": (2, (2, 48)),
    "reopened": (3, (30, 240)),
    "merged": (3, (24, DEMO_DAYS * 24)),
    "spam": (2, (1, DEMO_DAYS * 24)),
}
# Minutes between one step of a story and the one before it, by the kind of step.
GAPS = {
    "message": (5, 120),  # another message of the customer's, starting a second ticket
    "chase": (20, 1440),  # the customer chases on another channel
    "answer": (30, 1440),  # the customer answers a question
    "again": (60, 2880),  # "it is broken again", after closing
    "triage": (2, 60),
    "assign": (2, 90),
    "open": (1, 45),
    "reply": (2, 60),
    "note": (5, 90),
    "pend": (0.5, 5),
    "resolve": (30, 2880),
    "close": (120, 4320),
    "escalate": (10, 240),
    "transfer": (10, 240),
    "reassign": (30, 480),
    "merge": (10, 240),
    "mark_spam": (2, 60),
}
# username, first name, last name, role, teams, senior, maximum active assignments
AGENTS = [
    ("frontoffice", "Fiona", "Fraser", Agent.Role.FRONT_OFFICE, ["front-office"], False, 12),
    ("backoffice", "Bruno", "Becker", Agent.Role.BACK_OFFICE, ["technical"], False, 10),
    ("supervisor", "Sofia", "Santos", Agent.Role.SUPERVISOR, ["front-office", "billing", "technical"], True, 6),
    ("admin", "Adam", "Ansah", Agent.Role.ADMIN, ["front-office", "billing", "technical"], False, 5),
    ("amir", "Amir", "Haddad", Agent.Role.FRONT_OFFICE, ["front-office"], False, 12),
    ("beth", "Beth", "Murphy", Agent.Role.FRONT_OFFICE, ["front-office"], True, 12),
    ("carlos", "Carlos", "Lopez", Agent.Role.FRONT_OFFICE, ["front-office"], False, 12),
    ("dana", "Dana", "Walsh", Agent.Role.BACK_OFFICE, ["billing"], True, 10),
    ("emil", "Emil", "Jensen", Agent.Role.BACK_OFFICE, ["billing"], False, 10),
    ("farah", "Farah", "Okafor", Agent.Role.BACK_OFFICE, ["technical"], True, 10),
    ("goran", "Goran", "Petrov", Agent.Role.BACK_OFFICE, ["technical"], False, 10),
    ("hiro", "Hiro", "Tanaka", Agent.Role.SUPERVISOR, ["billing", "technical"], False, 6),
]  # fmt: skip
LOGINS = ("admin", "supervisor", "frontoffice", "backoffice")
# At the end of the demo day some agents have gone home.
END_PRESENCE = {"carlos": Agent.Presence.OFFLINE, "emil": Agent.Presence.AWAY}


class Command(BaseCommand):
    help = (
        "Load a demo help desk (idempotent; --reset wipes tickets and customers first). "
        f"Log-ins {', '.join(LOGINS)}, password '{PASSWORD}'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=300, help="customers to import (default 300)")
        parser.add_argument("--tickets", type=int, default=400, help="issues to play out (default 400)")
        parser.add_argument(
            "--reset", action="store_true", help="delete every ticket, customer and inbound event first"
        )

    def handle(self, *args, customers: int, tickets: int, reset: bool, **opts):
        if not 1 <= customers <= MAX_CUSTOMERS:
            raise CommandError(f"--customers must be between 1 and {MAX_CUSTOMERS}")
        started = time.monotonic()
        self.rng = random.Random(42)
        self.now = timezone.now()
        self.steps: list[tuple[datetime, datetime, str]] = []  # the story being played: (began, ended, kind)
        self.order = 20000
        with transaction.atomic():
            if reset:
                self.reset()
            self.teams = self.configure()
            self.categories = {c.slug: c for c in Category.objects.all()}
            self.tags = {t.name: t for t in Tag.objects.all()}
            self.agents = self.make_agents()
            if Customer.objects.filter(unique_id=STORY_CUSTOMER).exists():
                self.stdout.write("Demo data already loaded; nothing added (use --reset to load it afresh).")
            else:
                self.start_of_day()
                self.customers = self.load_customers(customers)
                self.story()
                self.work_for_every_login()
                for n in range(tickets):
                    self.play(n)
                self.quoting_someone_else()
                self.csat()
                escalation.scan()  # what the SLA schedule would have done: breaches, escalations
                self.knowledge_base()
                self.end_of_day()
        self.report(time.monotonic() - started)

    # --- configuration -------------------------------------------------------------------------------

    def reset(self) -> None:
        tickets, _ = Ticket.objects.all().delete()
        customers, _ = Customer.objects.all().delete()
        InboundEvent.objects.all().delete()
        Agent.objects.update(last_assigned_at=None)
        self.stdout.write(f"Reset: removed {tickets} ticket rows and {customers} customer rows.")

    def configure(self) -> dict[str, Team]:
        calendar, _ = BusinessCalendar.objects.get_or_create(
            name="UK support hours",
            defaults={
                "timezone": "Europe/London",
                "holiday_country": "GB",
                "weekly_hours": {d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
                | {"sat": [["09:00", "17:00"]]},
            },
        )
        front, _ = Team.objects.get_or_create(slug="front-office", defaults={"name": "Front office"})
        billing, _ = Team.objects.get_or_create(
            slug="billing", defaults={"name": "Billing", "kind": Team.Kind.BACK}
        )
        technical, _ = Team.objects.get_or_create(
            slug="technical", defaults={"name": "Technical back office", "kind": Team.Kind.BACK}
        )
        # Set once (the admin may change them later): back-office queues nobody can take overflow to the
        # front office, which has no fallback (it is the first line).
        for team, fallback in ((front, None), (billing, front), (technical, front)):
            Team.objects.filter(pk=team.pk, calendar__isnull=True).update(calendar=calendar)
            if fallback is not None:
                Team.objects.filter(pk=team.pk, fallback_team__isnull=True).update(fallback_team=fallback)
        for name in ("Technical", "Billing", "General"):
            Category.objects.get_or_create(slug=name.lower(), defaults={"name": name})
        for tag in ("outage", "router", "refund", "roaming", "callback", "recurring", "complaint"):
            Tag.objects.get_or_create(name=tag)
        for title, body, team in [
            ("Greeting", "Hello {customer_name}, thank you for contacting us about {ticket_number}.", None),
            ("Router restart", "Please unplug your router for 30 seconds, plug it back in and tell us "
             "which lights you see.", technical),
            ("Refund on its way", "Your refund has been issued and will reach your account within 5 "
             "working days.", billing),
            ("Moving house", "We can move your service with you: tell us the new address and the date.", front),
            ("Closing", "We believe this is solved. Reply to this message if anything is still wrong. "
             "{agent_name}", None),
        ]:  # fmt: skip
            CannedResponse.objects.get_or_create(title=title, defaults={"body": body, "team": team})
        RoutingRule.objects.get_or_create(
            name="Example: invoices straight to Billing",
            defaults={
                "position": 10,
                "active": False,
                "keywords": "invoice, refund, direct debit",
                "team": billing,
            },
        )
        return {t.slug: Team.objects.get(pk=t.pk) for t in (front, billing, technical)}

    def make_agents(self) -> dict[str, Agent]:
        User = get_user_model()
        password = make_password(PASSWORD)  # hashed once: the demo log-ins share a public password
        agents = {}
        for username, first, last, role, team_slugs, senior, maximum in AGENTS:
            user, _ = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@helpdesk.localhost",
                    "password": password,
                    "is_staff": True,  # they sign in on the admin's log-in page
                    "is_superuser": role == Agent.Role.ADMIN,
                },
            )
            agent, agent_created = Agent.objects.get_or_create(
                user=user,
                defaults={
                    "role": role,
                    "is_senior": senior,
                    "presence": Agent.Presence.ONLINE,
                    "max_active_assignments": maximum,
                },
            )
            if agent_created:
                agent.teams.set([self.teams[s] for s in team_slugs])
            agents[username] = agent
        return agents

    def start_of_day(self) -> None:
        """Every demo agent online, with the demo's maximum (a previous run's end of day is undone)."""
        # The first line hands back what an agent going home has not opened yet (README, "Routing").
        Team.objects.filter(pk=self.teams["front-office"].pk).update(
            offline_policy=Team.OfflinePolicy.RETURN_UNOPENED
        )
        for username, *_, maximum in AGENTS:
            Agent.objects.filter(pk=self.agents[username].pk).update(
                presence=Agent.Presence.ONLINE, max_active_assignments=maximum
            )
            self.agents[username].refresh_from_db()

    # --- customers -----------------------------------------------------------------------------------

    def load_customers(self, count: int) -> list[dict]:
        """The demo's CRM export, imported like a real one (``tickets.services.imports``)."""
        rng = self.rng
        people = []
        csv_file = io.StringIO()
        writer = csv.writer(csv_file, lineterminator="\n")
        writer.writerow(COLUMNS)
        for n in range(count):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            company = rng.random() < 0.12
            name = f"{rng.choice(COMPANY_NAMES)} {rng.choice(TRADES)} Ltd" if company else f"{first} {last}"
            handle = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
            email = f"{handle}{n}@{rng.choice(EMAIL_DOMAINS)}" if rng.random() < 0.92 else ""
            phone = f"07700 {PHONE_BASE + n}"  # as a CRM holds it; the import stores E.164
            whatsapp = f"447700{PHONE_BASE + n}" if rng.random() < 0.6 else ""
            account = f"ACC-{100000 + n}"
            orders = [f"ORD-{10000 + n * 3 + k}" for k in range(rng.randint(0, 2))]
            tier = rng.choices(["", "premium", "vip"], [85, 12, 3])[0]
            people.append(
                {
                    "unique_id": f"CUS{n + 1:05d}",
                    "first": first,
                    "name": name,
                    "email": email,
                    "phone": f"+447700{PHONE_BASE + n}",
                    "whatsapp": whatsapp,
                    "account": account,
                    "handle": f"@{handle}{n}",
                }
            )
            writer.writerow(
                [f"CUS{n + 1:05d}", name, tier, email, phone, whatsapp, ";".join([account, *orders])]
            )
        csv_file.seek(0)
        report = import_customers(file=csv_file)
        if not report.ok:
            raise CommandError(f"the demo CRM file did not import: {report.summary()}")
        return people

    # --- playing a story ------------------------------------------------------------------------------
    #
    # Every step of a story (a customer message, a lifecycle action, a reply, a note) is one call of the
    # real service, timed. Once the story is played, ``backdate`` gives each step a believable moment in
    # the past and moves every time written during the step (history, ticket, cases, interactions,
    # messages, notes, inbound events) to that moment, keeping the order of everything.

    def step(self, kind: str, service, /, **kwargs):
        began = timezone.now()
        result = service(**kwargs)
        self.steps.append((began, timezone.now(), kind))
        return result

    def intake(self, kind: str = "message", **fields) -> dict:
        """One customer message through the real edge: stored as an inbound event, then the pipeline."""
        payload = {k: v for k, v in fields.items() if v}
        event = self.step(
            kind, accept, source=cli.SOURCE, channel=payload["channel"], payload=json.dumps(payload)
        )
        if event.status != InboundEvent.Status.PROCESSED:
            raise CommandError(f"demo message refused ({event.status}): {event.error}")
        return event.result["messages"][0]

    def ticket(self, result: dict) -> Ticket:
        return Ticket.objects.select_related("assignee__user", "team").get(pk=int(result["ticket"][2:]))

    def new_order(self) -> str:
        self.order += 1
        return f"ORD-{self.order}"

    def message(self, person: dict, channel: str, subject: str, body: str, order: str, n: str) -> dict:
        """The fields a customer's message has on ``channel`` (sender, wording, what the provider adds)."""
        first = person["first"]
        fields = {"channel": channel, "provider_message_id": f"demo-{channel}-{n}", "reference": order}
        if channel in (Channel.EMAIL, Channel.WEB):
            fields |= {
                "sender": person["email"],
                "sender_name": person["name"],
                "subject": f"{subject} ({order})",
                "text": f"Hello,\n\n{body}\n\nOrder: {order}\n\nThanks,\n{first}",
            }
        elif channel == Channel.VOICE:
            # The phone system knows the caller's account once they key it in.
            fields |= {
                "sender": person["phone"],
                "customer_unique_id": person["unique_id"],
                "text": f"Inbound call, {self.rng.randint(2, 14)} min. {subject}: {body}",
            }
        elif channel in (Channel.SMS, Channel.WHATSAPP):
            sender = person["whatsapp"] if channel == Channel.WHATSAPP else person["phone"]
            fields |= {"sender": sender, "text": f"Hi, {body} Order {order}. {first}"}
        else:
            # Social and chat know nobody: the account number in the text finds the customer.
            sender = (
                person["handle"] if channel == Channel.SOCIAL else f"chat-{self.rng.getrandbits(48):012x}"
            )
            fields |= {
                "sender": sender,
                "sender_name": person["name"],
                "text": f"{body} My account is {person['account']}, order {order}.",
            }
        return fields

    def channels_of(self, person: dict) -> list[str]:
        have = [Channel.VOICE, Channel.SMS, Channel.SOCIAL, Channel.CHAT]
        if person["email"]:
            have += [Channel.EMAIL, Channel.WEB]
        if person["whatsapp"]:
            have.append(Channel.WHATSAPP)
        return have

    def route(self, ticket: Ticket) -> Agent | None:
        """What routing would do: the team's online agent with the most free capacity, never past the max."""
        pick = choose_agent(routing_candidates(ticket.team_id))
        if pick is None:
            return None  # everyone is full or away: it waits in the queue, as it would
        agent = Agent.objects.select_related("user").get(pk=pick.agent_id)
        self.step(
            "assign",
            transitions.assign,
            ticket=ticket,
            actor=None,
            agent=agent,
            reason=f"demo routing: {pick.name}",
        )
        return agent

    # --- the worked example --------------------------------------------------------------------------

    def story(self) -> None:
        """DOMAIN.md's worked example for ABC: A voice, B WhatsApp, C e-mail → T1; D billing → T2; T1 closed."""
        self.steps = []
        Customer.objects.create(
            unique_id=STORY_CUSTOMER, name="Alex Brown (ABC Ltd)", tier=Customer.Tier.PREMIUM
        )
        a = self.intake(
            channel=Channel.VOICE,
            sender="+447700900100",
            customer_unique_id=STORY_CUSTOMER,
            reference="ORD-1",
            text="Inbound call, 6 min: customer reports internet not working since this morning.",
            provider_message_id="CA-demo-A",
        )
        self.intake(
            "chase",
            channel=Channel.WHATSAPP,
            sender="447700900100",
            text="Hi, still no internet. Order ORD-1.",
            provider_message_id="wamid.demo-B",
        )
        self.intake(
            "chase",
            channel=Channel.EMAIL,
            sender="alex@abc.example",
            sender_name="Alex Brown",
            customer_unique_id=STORY_CUSTOMER,
            subject="Internet down - order ORD-1",
            text="The router lights are red. Please help.",
            provider_message_id="<demo-C@abc.example>",
        )
        d = self.intake(
            "chase",
            channel=Channel.EMAIL,
            sender="alex@abc.example",
            subject="Billing problem on ORD-2",
            text="I was charged twice for order ORD-2.",
            provider_message_id="<demo-D@abc.example>",
        )
        front, back = self.agents["frontoffice"], self.agents["backoffice"]
        t1 = self.ticket(a)
        self.step(
            "assign", transitions.assign, ticket=t1, actor=None, agent=front, reason="demo: the call taker"
        )
        self.step(
            "reply",
            reply,
            ticket=t1,
            actor=front.user,
            body="Hello Alex, we are checking the line for ORD-1.",
        )
        self.step(
            "escalate",
            transitions.escalate,
            ticket=t1,
            actor=front.user,
            reason="Line fault: needs an engineer",
            to_team=self.teams["technical"],
        )
        self.step(
            "assign",
            transitions.assign,
            ticket=t1,
            actor=None,
            agent=back,
            reason="demo: the engineer on duty",
        )
        self.step("open", transitions.open_ticket, ticket=t1, actor=back.user)
        self.step(
            "note", add_note, ticket=t1, actor=back.user, body="Exchange port reset; line back in sync."
        )
        self.step(
            "resolve",
            transitions.resolve,
            ticket=t1,
            actor=back.user,
            resolution_type="fixed",
            notes="Port reset at the exchange; the customer's line is back in sync.",
        )
        self.step("close", transitions.close, ticket=t1, actor=None, reason="The customer confirmed it works")
        self.backdate([t1.pk, self.ticket(d).pk], self.now - timedelta(days=6))

    # --- every log-in has work -----------------------------------------------------------------------

    def work_for_every_login(self) -> None:
        """Each demo log-in starts with tickets of their own in working states (played before the rest)."""
        plan = [("frontoffice", "front-office"), ("backoffice", "technical"), ("supervisor", "billing")]
        for k, (username, slug) in enumerate(plan):
            agent = self.agents[username]
            kind = "billing" if slug == "billing" else "technical"
            for i, goal in enumerate(("assigned", "open", "pending")):
                self.steps = []
                person = self.customers[(k * 3 + i) % len(self.customers)]
                subject, body = self.rng.choice(ISSUES[kind])
                channel = Channel.EMAIL if person["email"] else Channel.SMS
                # An order of its own makes it a new issue (linking rule 2), never a follow-up of another.
                fields = self.message(person, channel, subject, body, self.new_order(), f"{username}-{goal}")
                ticket = self.ticket(self.intake(**fields))
                if slug != "front-office":
                    ticket = self.step(
                        "triage",
                        transitions.transfer,
                        ticket=ticket,
                        actor=None,
                        team=self.teams[slug],
                        reason=f"Triage: for {self.teams[slug]}",
                    )
                self.step(
                    "assign",
                    transitions.assign,
                    ticket=ticket,
                    actor=None,
                    agent=agent,
                    reason="demo: your work",
                )
                if goal != "assigned":
                    self.step("open", transitions.open_ticket, ticket=ticket, actor=agent.user)
                    self.step(
                        "note", add_note, ticket=ticket, actor=agent.user, body=self.rng.choice(NOTES[kind])
                    )
                if goal == "pending":
                    self.step("pend", transitions.pend, ticket=ticket, actor=agent.user, reason=PENDING[kind])
                self.backdate([ticket.pk], self.now - timedelta(hours=self.rng.uniform(1, 30)))

    # --- the rest of the month -----------------------------------------------------------------------

    def play(self, n: int) -> None:
        """One issue, from the customer's first message to where its story ends."""
        rng = self.rng
        self.steps = []
        outcomes = list(OUTCOMES)
        goal = rng.choices(outcomes, [OUTCOMES[o][0] for o in outcomes])[0]
        person = rng.choice(self.customers)
        channel = rng.choices(list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values()))[0]
        if channel not in self.channels_of(person):
            channel = Channel.VOICE
        kind = rng.choices(["technical", "billing", "general"], [50, 32, 18])[0]
        subject, body = rng.choice(ISSUES[kind])
        order = self.new_order()
        ticket = self.ticket(self.intake(**self.message(person, channel, subject, body, order, str(n))))
        tickets = [ticket.pk]
        Ticket.objects.filter(pk=ticket.pk).update(category=self.categories[kind])
        if rng.random() < 0.15:
            ticket.tags.add(self.tags[rng.choice(["outage", "router", "refund", "callback", "recurring"])])

        if goal == "merged":
            # The customer writes again quoting a mistyped order number: a second ticket, which triage merges.
            typo = self.message(person, channel, subject, body, self.new_order(), f"{n}-dup")
            duplicate = self.ticket(self.intake(**typo))
            tickets.append(duplicate.pk)
            self.step(
                "merge",
                transitions.merge,
                ticket=duplicate,
                actor=self.agents["amir"].user,
                into=ticket,
                reason="Same issue; the customer mistyped the order number",
            )
        if rng.random() < 0.2 and goal not in ("spam", "new"):
            # The customer chases it on another channel, naming the same order: the same ticket.
            other = rng.choice([c for c in self.channels_of(person) if c != channel])
            chase = self.message(
                person, other, subject, "Any news on this? It is still not sorted.", order, f"{n}-chase"
            )
            self.intake("chase", **chase)

        self.work(ticket, person, kind, goal, order, n)
        low, high = OUTCOMES[goal][1]
        self.backdate(tickets, self.now - timedelta(hours=rng.uniform(low, high)))

    def quoting_someone_else(self) -> None:
        """A few customers quote another customer's order: flagged as conflicts for a person to decide."""
        orders = list(Reference.objects.filter(kind__code="order", customer__unique_id__startswith="CUS"))
        for k in range(3):
            self.steps = []
            person = self.customers[-1 - k]
            quoted = self.rng.choice([r for r in orders if r.customer.unique_id != person["unique_id"]])
            fields = {
                "channel": Channel.SMS,
                "sender": person["phone"],
                "provider_message_id": f"demo-sms-quote-{k}",
                "text": f"Hi, I am asking for my mother: her order {quoted.value} has not arrived.",
            }
            ticket = self.ticket(self.intake(**fields))
            self.backdate([ticket.pk], self.now - timedelta(hours=self.rng.uniform(1, 48)))

    def work(self, ticket, person, kind, goal, order, n) -> None:  # noqa: C901 - one story, step by step
        rng = self.rng
        triage = self.agents["amir"].user  # on the front-office queue today
        if goal == "spam":
            self.step(
                "mark_spam",
                transitions.mark_spam,
                ticket=ticket,
                actor=triage,
                reason="Advertising, not a request",
            )
            return
        if goal == "new":
            return
        to_back = kind == "billing" or (kind == "technical" and rng.random() < 0.45)
        if to_back and goal != "assigned" and rng.random() < 0.5:
            # Triage sends it straight to the back office's queue.
            ticket = self.step(
                "triage",
                transitions.transfer,
                ticket=ticket,
                actor=triage,
                team=self.teams[kind],
                reason=f"Triage: a {kind} question",
            )
            to_back = False
        owner = self.route(ticket)
        if owner is None or goal == "assigned":
            return
        first = person["first"]
        back_office = owner.role == Agent.Role.BACK_OFFICE
        if back_office or ticket.channel == Channel.VOICE:
            self.step("open", transitions.open_ticket, ticket=ticket, actor=owner.user)
            self.step("note", add_note, ticket=ticket, actor=owner.user, body=rng.choice(NOTES[kind]))
        else:
            # Answered where the customer first wrote (a phone follow-up cannot carry a written reply).
            body = rng.choice(REPLIES).format(first=first)
            self.step("reply", reply, ticket=ticket, actor=owner.user, body=body, channel=ticket.channel)
        if to_back:
            # The front office hands it on: as an escalation, or as a transfer to the skill group.
            if ticket.channel != Channel.VOICE:
                body = HANDOVER[kind].format(first=first)
                self.step("reply", reply, ticket=ticket, actor=owner.user, body=body, channel=ticket.channel)
            team = self.teams[kind]
            if rng.random() < 0.5:
                self.step(
                    "escalate",
                    transitions.escalate,
                    ticket=ticket,
                    actor=owner.user,
                    reason=f"Needs {team}",
                    to_team=team,
                )
            else:
                self.step(
                    "transfer",
                    transitions.transfer,
                    ticket=ticket,
                    actor=owner.user,
                    team=team,
                    reason=f"For {team}",
                )
            ticket = Ticket.objects.get(pk=ticket.pk)
            owner = self.route(ticket)
            if owner is None:
                return
            self.step("open", transitions.open_ticket, ticket=ticket, actor=owner.user)
            self.step("note", add_note, ticket=ticket, actor=owner.user, body=rng.choice(NOTES[kind]))
            back_office = True
        if goal == "open":
            return
        if goal == "escalated":
            self.step(
                "escalate",
                transitions.escalate,
                ticket=ticket,
                actor=owner.user,
                reason="The customer is unhappy and asked for a manager",
            )
            return
        if rng.random() < 0.06:
            # A supervisor rebalances the queue; the new owner picks it up.
            other = self.reassign(ticket, owner)
            if other is not None:
                owner = other
                self.step("open", transitions.open_ticket, ticket=ticket, actor=owner.user)
        self.step("pend", transitions.pend, ticket=ticket, actor=owner.user, reason=PENDING[kind])
        if goal == "pending":
            return
        if not back_office and rng.random() < 0.5:
            # The customer answers on the same channel: pending goes back to open by itself.
            answer = self.message(
                person, ticket.channel, "Re: update", rng.choice(CUSTOMER_ANSWERS), order, f"{n}-answer"
            )
            self.intake("answer", **answer)
        resolution_type, notes = rng.choice(RESOLUTIONS[kind])
        self.step(
            "resolve",
            transitions.resolve,
            ticket=ticket,
            actor=owner.user,
            resolution_type=resolution_type,
            notes=notes,
        )
        if goal == "resolved":
            return
        self.step(
            "close", transitions.close, ticket=ticket, actor=None, reason="The customer confirmed the fix"
        )
        if goal != "reopened":
            return
        if active_assignment_count(owner) >= owner.max_active_assignments:
            return  # a reopen goes back to the owner: the demo never pushes them past their maximum
        channel = ticket.channel if ticket.channel != Channel.WEB else Channel.EMAIL
        again = self.message(
            person, channel, "It is broken again", "It stopped working again last night.", order, f"{n}-again"
        )
        self.intake("again", **again)

    def reassign(self, ticket: Ticket, owner: Agent) -> Agent | None:
        """A supervisor moves the ticket to the team's agent with the most free capacity."""
        pick = choose_agent([c for c in routing_candidates(ticket.team_id) if c.agent_id != owner.pk])
        if pick is None:
            return None
        agent = Agent.objects.select_related("user").get(pk=pick.agent_id)
        self.step(
            "reassign",
            transitions.reassign,
            ticket=ticket,
            actor=self.agents["supervisor"].user,
            agent=agent,
            reason=f"Rebalancing: {owner} is off tomorrow",
        )
        return agent

    # --- time ----------------------------------------------------------------------------------------

    def backdate(self, ticket_pks: list[int], start: datetime) -> None:
        """Demo back-dating: the story just played (``self.steps``) happened from ``start`` on.

        Each step gets a believable gap after the one before (``GAPS``), squeezed if needed so the last is
        still in the past; every time written during a step moves to that step's moment (plus the
        milliseconds it took), so the history, the ticket's own times, its cases, interactions, messages,
        notes and inbound events all agree, in the order they happened.
        """
        began = [b for b, _, _ in self.steps]
        demo = [start]
        for _, _, kind in self.steps[1:]:
            low, high = GAPS[kind]
            demo.append(demo[-1] + timedelta(minutes=self.rng.uniform(low, high)))
        latest = self.now - timedelta(minutes=2)
        if demo[-1] > latest and demo[-1] > start:
            factor = max(latest - start, timedelta(0)) / (demo[-1] - start)
            demo = [start + (d - start) * factor for d in demo]

        def moved(t: datetime | None) -> datetime | None:
            if t is None:
                return None
            i = max(bisect.bisect_right(began, t) - 1, 0)
            return demo[i] + (t - began[i])

        window = (self.steps[0][0], self.steps[-1][1])
        self.move(TicketEvent.objects.filter(ticket_id__in=ticket_pks), ["created_at"], moved)
        times = [
            "created_at", "updated_at", "assigned_at", "queued_at", "resolved_at", "closed_at",
            "first_responded_at", "last_customer_message_at", "sla_paused_at",
        ]  # fmt: skip
        for ticket in Ticket.objects.filter(pk__in=ticket_pks).select_related("team__calendar"):
            for name in times:
                setattr(ticket, name, moved(getattr(ticket, name)))
            apply_targets(ticket)  # the SLA clock starts when the ticket did
            restated = sla_clocks.restate(ticket, now=self.now)  # breaches and compliance in demo time
            Ticket.objects.filter(pk=ticket.pk).update(
                **{
                    name: getattr(ticket, name)
                    for name in [*times, "first_response_due", "resolution_due", *restated]
                }
            )
        self.move(Case.objects.filter(ticket_id__in=ticket_pks), ["created_at", "closed_at"], moved)
        interactions = Interaction.objects.filter(case__ticket_id__in=ticket_pks)
        self.move(interactions, ["started_at", "last_message_at", "closed_at"], moved)
        messages = Message.objects.filter(interaction__in=interactions)
        self.move(messages, ["sent_at", "created_at"], moved)
        self.move(Note.objects.filter(ticket_id__in=ticket_pks), ["created_at"], moved)
        self.move(
            InboundEvent.objects.filter(received_at__range=window), ["received_at", "processed_at"], moved
        )
        # The demo's replies went out back then: nothing for the outbox to send to fictional customers.
        messages.filter(
            direction=Message.Direction.OUTBOUND, delivery_status=Message.DeliveryStatus.QUEUED
        ).update(delivery_status=Message.DeliveryStatus.SENT)

    @staticmethod
    def move(queryset, fields: list[str], moved) -> None:
        rows = list(queryset.only("pk", *fields))
        for row in rows:
            for name in fields:
                setattr(row, name, moved(getattr(row, name)))
        queryset.model.objects.bulk_update(rows, fields, batch_size=200)

    def knowledge_base(self) -> None:
        """A few published articles (suggested for the demo's router, Wi-Fi, refund and moving tickets), and
        one draft its agent wrote from a resolved ticket, waiting for a supervisor to publish it."""
        reviewer = self.agents["supervisor"].user
        for title, body, category, tags in KB_ARTICLES:
            if not Article.objects.filter(title=title).exists():
                kb.create_article(
                    actor=reviewer,
                    title=title,
                    body=body,
                    category=self.categories[category],
                    tags=[self.tags[t] for t in tags],
                    published=True,
                )
        source = (
            Ticket.objects.filter(
                status__in=[Status.RESOLVED, Status.CLOSED], resolution_type__in=["fixed", "workaround"]
            )
            .exclude(resolution_notes="")
            .filter(assignee__isnull=False)
            .select_related("assignee__user")
            .order_by("-id")
            .first()
        )
        if source is not None:  # written by the agent who resolved it
            kb.create_article_from_ticket(ticket=source, actor=source.assignee.user)

    def end_of_day(self) -> None:
        admin = self.agents["admin"].user
        for username, presence in END_PRESENCE.items():
            set_presence(agent=self.agents[username], presence=presence, actor=admin)
        # The day's agents were at work until now: the session timeout counts from here, not from never.
        Agent.objects.filter(pk__in=[a.pk for a in self.agents.values()]).update(last_seen_at=timezone.now())

    def csat(self) -> None:
        """The closed tickets' CSAT surveys, as the survey task and the customers would have done them: each
        sent on the customer's channel half an hour after closure (``send_survey``), most answered from the
        link (``answer_survey``), good and bad — a 1 or 2 is routed to a senior agent of the team, and the
        oldest such follow-up is done. Then moved to demo time like the stories, and the one-off schedules
        closing made are removed (these surveys are already out)."""
        rng, latest = self.rng, self.now - timedelta(minutes=1)
        surveys = list(
            CsatSurvey.objects.filter(state=CsatSurvey.State.SCHEDULED)
            .select_related("ticket")
            .order_by("id")
        )
        CsatSurvey.objects.filter(pk__in=[s.pk for s in surveys]).update(scheduled_for=self.now)
        answers = {}
        for survey in surveys:
            if send_survey(survey_id=survey.pk) != "sent" or rng.random() >= CSAT_ANSWERED:
                continue
            rating = rng.choices([5, 4, 3, 2, 1], CSAT_WEIGHTS)[0]
            comment = rng.choice(CSAT_COMMENTS[rating])
            answer_survey(token=make_token(SURVEY, survey.pk), rating=rating, comment=comment)
            answers[survey.pk] = rating

        # Demo time: sent CSAT_DELAY after the (back-dated) closure, answered minutes to a day later.
        delay = timedelta(minutes=settings.HELPDESK["CSAT_DELAY_MINUTES"])
        rows = list(CsatSurvey.objects.filter(pk__in=[s.pk for s in surveys]).select_related("ticket"))
        when = {}
        for survey in rows:
            sent = min(survey.ticket.closed_at + delay, latest)
            answered = min(sent + timedelta(minutes=rng.uniform(5, 24 * 60)), latest)
            when[survey.pk] = (sent, answered)
            survey.scheduled_for = survey.sent_at = sent
            survey.expires_at = sent + timedelta(days=settings.HELPDESK["CSAT_LINK_DAYS"])
            if survey.pk in answers:
                survey.answered_at = answered
        CsatSurvey.objects.bulk_update(rows, ["scheduled_for", "sent_at", "expires_at", "answered_at"], 200)
        messages = [s for s in rows if s.message_id]
        for survey in messages:
            Message.objects.filter(pk=survey.message_id).update(
                sent_at=when[survey.pk][0], delivery_status=Message.DeliveryStatus.SENT
            )
        events = TicketEvent.objects.filter(
            ticket_id__in=[s.ticket_id for s in rows], kind__startswith="csat_"
        )
        for event in events.exclude(kind="csat_follow_up_done"):
            sent, answered = when.get(event.data.get("survey"), (None, None))
            if sent is not None:
                event.created_at = sent if event.kind == "csat_sent" else answered
                event.save(update_fields=["created_at"])
        follow_ups = list(CsatFollowUp.objects.filter(survey_id__in=answers).order_by("survey_id"))
        for follow_up in follow_ups:
            follow_up.created_at = when[follow_up.survey_id][1]
        CsatFollowUp.objects.bulk_update(follow_ups, ["created_at"], 200)
        oldest = min(follow_ups, key=lambda f: f.created_at, default=None)
        if oldest is not None and oldest.assignee is not None:
            close_follow_up(
                follow_up=oldest,
                actor=oldest.assignee.user,
                outcome="Called the customer, apologised for the delay and credited one month.",
            )
            done = min(oldest.created_at + timedelta(hours=2), latest)
            CsatFollowUp.objects.filter(pk=oldest.pk).update(done_at=done)
            TicketEvent.objects.filter(ticket_id=oldest.ticket_id, kind="csat_follow_up_done").update(
                created_at=done
            )
        demo_surveys = [f"csat survey {pk}" for pk in CsatSurvey.objects.values_list("pk", flat=True)]
        transaction.on_commit(lambda: Schedule.objects.filter(name__in=demo_surveys).delete())

    # --- the summary ---------------------------------------------------------------------------------

    def report(self, seconds: float) -> None:
        statuses = Counter(Ticket.objects.values_list("status", flat=True))
        channels = Counter(Ticket.objects.values_list("channel", flat=True))
        working = Counter(
            Ticket.objects.filter(status__in=ACTIVE_STATUSES, assignee__isnull=False).values_list(
                "assignee__user__username", flat=True
            )
        )
        self.stdout.write(
            f"Demo help desk ready in {seconds:.1f} s: {Customer.objects.count()} customers, "
            f"{Ticket.objects.count()} tickets, {InboundEvent.objects.count()} inbound events, "
            f"{Agent.objects.count()} agents in {Team.objects.count()} teams.\n"
            f"  by status:  {', '.join(f'{s} {statuses[s]}' for s in Status.values)}\n"
            f"  by channel: {', '.join(f'{c} {channels[c]}' for c in Channel.values)}\n"
            f"  working on: {', '.join(f'{u} {working[u]}' for u in ('frontoffice', 'backoffice', 'supervisor'))}\n"
            f"Log in at /admin/ as {', '.join(LOGINS)} with the password '{PASSWORD}'."
        )
