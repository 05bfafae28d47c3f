"""Reads for the ticket workspace: the header with its SLA clocks, the customer panel, and one timeline of
everything on the ticket (messages in and out on every channel, call records, internal notes, history).

A fixed number of queries whatever the ticket's size: every list is one query (plus one per prefetch), and
nothing below touches the database per row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Max, Prefetch
from django.utils import timezone

from tickets import lifecycle
from tickets.channels import AddressKind, Channel
from tickets.models import Case, CustomerIdentity, Message, Note, Reference, Tag, Ticket, TicketEvent
from tickets.models.tickets import ResolutionType
from tickets.permissions import can_see_note, relations, visible_tickets
from tickets.services.canned import canned_responses_for
from tickets.services.editing import may_edit

# An SLA clock is "at risk" once less than this share of its target time is left (the same 80 % mark the
# SLA issue's escalation scan is being built on; when it lands this header should read its clock states).
AT_RISK_SHARE = 0.2
# The customer panel lists this many of the customer's other tickets, newest first.
OTHER_TICKETS = 8
# The timeline shows its latest entries (the recent story is what an agent works from); the earlier ones are
# one click away (``full_timeline``). Rendering the entries is most of a big ticket's page: 200 messages,
# notes and events cost 15-20 times the floor page (bench/workspace.py), of which the database 3 ms.
TIMELINE_LATEST = 50
# History entries that the timeline already shows as what they are about (the message, the note).
SHOWN_ELSEWHERE = frozenset({"note", "reply"})
# What a reply can go out on, for each kind of address a customer has (voice has no written reply).
REPLY_CHANNEL_FOR_ADDRESS = {
    AddressKind.EMAIL: Channel.EMAIL,
    AddressKind.PHONE: Channel.SMS,
    AddressKind.WHATSAPP: Channel.WHATSAPP,
    AddressKind.SOCIAL: Channel.SOCIAL,
    AddressKind.CHAT: Channel.CHAT,
}

# SLA clocks ------------------------------------------------------------------------------------------------


def duration_text(delta: timedelta) -> str:
    """``2 h 10 min``, ``3 d 4 h``, ``35 min``, ``< 1 min``."""
    minutes = int(abs(delta).total_seconds() // 60)
    if minutes < 1:
        return "< 1 min"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


@dataclass(frozen=True)
class SlaClock:
    label: str
    due: datetime | None
    # none (no target), ok, at-risk, breached (running); met, missed (stopped)
    state: str
    text: str

    @property
    def css(self) -> str:
        return {"breached": "sla-breached", "missed": "sla-breached", "at-risk": "sla-at-risk"}.get(
            self.state, "sla-ok"
        )


def sla_clock(
    label: str, *, due: datetime | None, start: datetime, done_at: datetime | None, now: datetime
) -> SlaClock:
    if due is None:
        return SlaClock(label, None, "none", "no target")
    if done_at is not None:
        if done_at <= due:
            return SlaClock(label, due, "met", f"met, {duration_text(due - done_at)} early")
        return SlaClock(label, due, "missed", f"missed by {duration_text(done_at - due)}")
    left = due - now
    if left <= timedelta(0):
        return SlaClock(label, due, "breached", f"breached {duration_text(left)} ago")
    window = due - start
    state = "at-risk" if window.total_seconds() > 0 and left / window < AT_RISK_SHARE else "ok"
    return SlaClock(label, due, state, f"{duration_text(left)} left")


def sla_clocks(ticket: Ticket, now: datetime | None = None) -> list[SlaClock]:
    now = now or timezone.now()
    resolved = ticket.resolved_at or ticket.closed_at
    return [
        sla_clock(
            "First response",
            due=ticket.first_response_due,
            start=ticket.created_at,
            done_at=ticket.first_responded_at,
            now=now,
        ),
        sla_clock(
            "Resolution", due=ticket.resolution_due, start=ticket.created_at, done_at=resolved, now=now
        ),
        *next_response_clock(ticket, now=now),
    ]


def next_response_clock(ticket: Ticket, *, now: datetime) -> list[SlaClock]:
    """After the first response: the answer owed to the customer's latest message, or that none is owed."""
    if ticket.next_response_due is not None:
        start = ticket.next_response_started_at or ticket.created_at
        return [sla_clock("Next response", due=ticket.next_response_due, start=start, done_at=None, now=now)]
    if ticket.first_responded_at is None or ticket.status in (
        lifecycle.Status.RESOLVED,
        lifecycle.Status.CLOSED,
    ):
        return []
    return [SlaClock("Next response", None, "none", "no answer owed")]


# History ---------------------------------------------------------------------------------------------------


def _status(value: str) -> str:
    try:
        return lifecycle.Status(value).label.lower()
    except ValueError:
        return value


# Lifecycle events as the history reads them.
PAST = {
    "open": "opened it",
    "pend": "set it pending",
    "customer_reply": "noted the customer's reply",
    "resolve": "resolved it",
    "close": "closed it",
    "reopen": "reopened it",
    "mark_spam": "closed it as spam",
    "unassign": "returned it to the queue",
}


def _resolution(value: str) -> str:
    try:
        return ResolutionType(value).label.lower()
    except ValueError:
        return value.replace("_", " ")


# Closure and feedback (tickets.services.csat): what the survey and its follow-up did.
CSAT_EVENTS = {
    "csat_sent": "sent the satisfaction survey on {channel}",
    "csat_not_sent": "could not send the satisfaction survey",
    "csat_answered": "got the customer's rating: {to}",
    "csat_follow_up": "opened a follow-up of the rating for {to}",
    "csat_follow_up_done": "finished the follow-up of the customer's rating",
}


def _channel(value) -> str:
    return Channel(value).label if value in Channel.values else "their channel"


def _told(d: dict) -> str:
    """What resolving or closing told the customer (tickets.services.verification / closure)."""
    if d.get("asked_on"):
        return f"; asked the customer to confirm on {_channel(d['asked_on'])}"
    if d.get("notified_on"):
        return f"; told the customer on {_channel(d['notified_on'])}"
    return ""


def describe_event(e: TicketEvent) -> str:
    """One history entry as a sentence without its actor: "resolved it (open → resolved)"."""
    d = e.data or {}
    moved = f" ({_status(e.from_value)} → {_status(e.to_value)})" if e.from_value and e.to_value else ""
    kind = e.kind
    if kind == "created":
        if d.get("split_from"):
            return f"created it, split from {d['split_from']}, in {d.get('team', 'its team')}"
        parts = [
            f"created it from {Channel(d['channel']).label}"
            if d.get("channel") in Channel.values
            else "created it"
        ]
        if d.get("team"):
            parts.append(f"in {d['team']}" + (f" ({d['team_rule']})" if d.get("team_rule") else ""))
        if d.get("priority"):
            parts.append(
                f"at {d['priority']}" + (f" ({d['priority_rule']})" if d.get("priority_rule") else "")
            )
        if d.get("follows"):
            parts.append(f"following {d['follows']}")
        return ", ".join(parts)
    if kind == "assign":
        return f"assigned it to {d.get('agent_name') or 'an agent'}{moved}"
    if kind == "reassign":
        return f"reassigned it from {d.get('from_agent') or 'nobody'} to {d.get('to_agent') or 'an agent'}{moved}"
    if kind == "transfer":
        who = f", away from {d['from_agent']}" if d.get("from_agent") else ""
        return f"transferred it from {d.get('from_team', '?')} to {d.get('to_team', '?')}{who}{moved}"
    if kind == "escalate":
        to = f"to {d['to_team']}" if d.get("to_team") else "to the supervisors"
        return f"escalated it {to} (level {d.get('level', 1)}){moved if e.from_value != e.to_value else ''}"
    if kind == "merge":
        return f"merged it into {d.get('into', 'another ticket')}{moved}"
    if kind == "merged_in":
        return f"merged {d.get('from', 'a duplicate')} into it ({len(d.get('cases', []))} interaction(s) moved here)"
    if kind == "linked":
        channel = Channel(d["channel"]).label if d.get("channel") in Channel.values else "an"
        return f"linked a {channel} interaction to it" + (f": {d['detail']}" if d.get("detail") else "")
    if kind == "relinked":
        return f"relinked the {d.get('what', 'interaction')} to {e.to_value}"
    if kind == "relinked_in":
        return f"relinked the {d.get('what', 'interaction')} here from {e.from_value}"
    if kind == "split":
        return f"split the {d.get('what', 'interaction')} off into {e.to_value}"
    if kind == "priority":
        return f"changed the priority from {e.from_value} to {e.to_value}"
    if kind == "category":
        return f"changed the category from {e.from_value or 'none'} to {e.to_value or 'none'}"
    if kind == "tags":
        changes = [f"+{n}" for n in d.get("added", [])] + [f"−{n}" for n in d.get("removed", [])]
        return "changed the tags: " + (" ".join(changes) or e.to_value or "none")
    if kind == "tagged":
        return f"set the tags to {e.to_value or 'none'}"
    if kind == "rule":
        return f"applied the rule “{d.get('rule_name', '?')}”: {d.get('did', e.to_value)}"
    if kind == "edited":
        return "edited " + ", ".join(d.get("fields", [])) if d.get("fields") else "edited it"
    if kind in PAST:
        extra = f" as {_resolution(d['resolution_type'])}" if d.get("resolution_type") else ""
        return f"{PAST[kind]}{extra}{moved}{_told(d)}"
    if kind in CSAT_EVENTS:
        return CSAT_EVENTS[kind].format(
            channel=_channel(d.get("channel")), to=e.to_value or "the supervisors"
        )
    if kind in lifecycle.TRANSITIONS:
        return f"{lifecycle.TRANSITIONS[kind].label.lower()}{moved}"
    return f"{kind.replace('_', ' ')}{moved}"


def _latest_change(events: list[TicketEvent]) -> TicketEvent | None:
    # Links by intake and notes do not change the ticket's version; everything else does.
    for e in reversed(events):
        if e.kind not in ("note", "linked"):
            return e
    return None


def last_change(ticket: Ticket) -> str:
    """The latest change as a sentence: "sue changed T-000123 at 14:02: resolve as fixed (open → resolved)"."""
    recent = TicketEvent.objects.filter(ticket=ticket).select_related("actor").order_by("-created_at", "-id")
    latest = _latest_change(list(reversed(recent[:10])))
    if latest is None:
        return f"Someone else changed {ticket.number}"
    at = timezone.localtime(latest.created_at)
    text = f"{latest.actor_label} changed {ticket.number} at {at:%H:%M}: {describe_event(latest)}"
    if latest.reason:
        text += f" — “{latest.reason[:140]}”"
    return text


def conflict_message(ticket: Ticket) -> str:
    """Why an agent's change from a stale screen was refused: who changed the ticket, when, and what."""
    return f"{last_change(ticket)}. Your change was not saved; this is the ticket as it is now."


# The timeline ----------------------------------------------------------------------------------------------


def _seconds_text(seconds) -> str:
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        return ""
    minutes, secs = divmod(max(seconds, 0), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def call_summary(meta: dict) -> tuple[str, str]:
    """("Inbound call, completed, 6 min 30 s", recording URL or "") from a call record's ``meta["call"]``."""
    call = (meta or {}).get("call") or {}
    if not isinstance(call, dict) or not call:
        return "", ""  # a call logged without provider facts: its text says it all
    parts = [f"{str(call['direction']).capitalize()} call" if call.get("direction") else "Call"]
    if call.get("status"):
        parts.append(str(call["status"]).replace("-", " "))
    if call.get("duration_seconds"):
        parts.append(_seconds_text(call["duration_seconds"]))
    url = str(call.get("recording_url") or "")
    # Only web links are ever made clickable (never javascript: or data:).
    if not url.startswith(("https://", "http://")):
        url = ""
    return ", ".join(parts), url


@dataclass
class TimelineItem:
    kind: str  # message, call, note, event
    at: datetime
    obj: object
    case: Case | None = None
    text: str = ""
    link: str = ""

    @property
    def sort_key(self):
        return (self.at, {"message": 0, "call": 0, "event": 1, "note": 2}[self.kind], self.obj.pk)


@dataclass
class InteractionRow:
    case: Case
    messages: int
    last_at: datetime


@dataclass
class Workspace:
    ticket: Ticket
    clocks: list[SlaClock]
    relations: frozenset[str]
    actions: list[str]
    can_reply: bool
    can_note: bool
    can_edit: bool
    identities: list[CustomerIdentity]
    references: list[Reference]
    other_tickets: list[Ticket]
    customer_ticket_count: int
    timeline: list[TimelineItem]
    interactions: list[InteractionRow]
    hidden_notes: int
    reply_channels: list[tuple[str, str]]
    default_channel: str
    canned: list
    tags: list[Tag] = field(default_factory=list)
    # Entries in all, and how many earlier ones ``timeline`` leaves out (see TIMELINE_LATEST).
    timeline_total: int = 0
    timeline_earlier: int = 0

    @property
    def number(self) -> str:
        return self.ticket.number


def ticket_for_workspace(*, user, pk: int) -> Ticket:
    """The ticket with what its header shows, if ``user`` may see it (``Ticket.DoesNotExist`` otherwise)."""
    return (
        visible_tickets(user)
        .select_related(
            "customer", "team", "assignee__user", "category", "reference", "merged_into", "follows"
        )
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
        .get(pk=pk)
    )


def reply_channels(ticket: Ticket, cases: list[Case], identities: list[CustomerIdentity]) -> tuple[list, str]:
    """The written channels a reply can go out on, and the default: the latest interaction's channel
    (the same choice ``replies.reply`` makes when it is given none), else the latest written one."""
    by_recent = sorted(cases, key=lambda c: (c.interaction.last_message_at, c.interaction.pk), reverse=True)
    values: list[str] = []
    for c in by_recent:
        if c.interaction.channel != Channel.VOICE and c.interaction.channel not in values:
            values.append(c.interaction.channel)
    for identity in identities:
        channel = REPLY_CHANNEL_FOR_ADDRESS.get(identity.channel)
        if channel and channel not in values:
            values.append(channel)
    latest = by_recent[0].interaction.channel if by_recent else ticket.channel
    default = latest if latest in values else (values[0] if values else "")
    choices = [(v, Channel(v).label) for v in values]
    return choices, default


def workspace(*, ticket: Ticket, user, now: datetime | None = None, full_timeline: bool = False) -> Workspace:
    """Everything the workspace shows of ``ticket`` (fetched by ``ticket_for_workspace``) to ``user``: the
    timeline's latest ``TIMELINE_LATEST`` entries, or all of them with ``full_timeline``."""
    now = now or timezone.now()
    rel = relations(user, ticket)

    cases = list(
        Case.objects.filter(ticket=ticket)
        .select_related("interaction__identity")
        .order_by("created_at", "id")
    )
    case_of = {c.interaction_id: c for c in cases}
    on_ticket = Message.objects.filter(interaction__case__ticket=ticket)
    # Each interaction's message count and latest message, from the database: the timeline may not hold all.
    per_interaction = {
        row["interaction_id"]: row
        for row in on_ticket.order_by().values("interaction_id").annotate(n=Count("id"), last=Max("sent_at"))
    }
    shown = on_ticket.select_related("author__user").prefetch_related("attachments")
    if full_timeline:
        messages = list(shown.order_by("sent_at", "id"))
    else:
        # The latest of each kind (messages, events) hold the latest entries of all.
        messages = list(shown.order_by("-sent_at", "-id")[:TIMELINE_LATEST])[::-1]
    notes = list(
        Note.objects.filter(ticket=ticket)
        .select_related("author__user")
        .prefetch_related("author__teams")
        .order_by("created_at", "id")
    )
    history = TicketEvent.objects.filter(ticket=ticket).exclude(kind__in=SHOWN_ELSEWHERE)
    if full_timeline:
        events = list(history.select_related("actor").order_by("created_at", "id"))
        events_total = len(events)
    else:
        events = list(history.select_related("actor").order_by("-created_at", "-id")[:TIMELINE_LATEST])[::-1]
        events_total = history.count()

    items: list[TimelineItem] = []
    for m in messages:
        if m.channel == Channel.VOICE:
            summary, recording = call_summary(m.meta)
            items.append(
                TimelineItem(
                    "call", m.sent_at, m, case=case_of.get(m.interaction_id), text=summary, link=recording
                )
            )
        else:
            items.append(TimelineItem("message", m.sent_at, m, case=case_of.get(m.interaction_id)))
    hidden = 0
    for n in notes:
        if can_see_note(user, n, ticket):
            items.append(TimelineItem("note", n.created_at, n))
        else:
            hidden += 1
    for e in events:
        if e.kind not in SHOWN_ELSEWHERE:
            items.append(TimelineItem("event", e.created_at, e, text=describe_event(e)))
    items.sort(key=lambda i: i.sort_key)
    notes_shown = len(items) - len(messages) - len(events)
    entries = sum(row["n"] for row in per_interaction.values()) + notes_shown + events_total
    if not full_timeline:
        items = items[-TIMELINE_LATEST:]

    customer = ticket.customer
    identities = list(CustomerIdentity.objects.filter(customer=customer).order_by("channel", "address"))
    references = list(Reference.objects.filter(customer=customer).select_related("kind").order_by("value"))
    others = list(
        visible_tickets(user)
        .filter(customer=customer)
        .exclude(pk=ticket.pk)
        .only("pk", "subject", "status", "priority", "created_at")
        .order_by("-created_at", "-id")[:OTHER_TICKETS]
    )
    total = Ticket.objects.filter(customer=customer).count()
    channels, default = reply_channels(ticket, cases, identities)

    return Workspace(
        ticket=ticket,
        clocks=sla_clocks(ticket, now),
        relations=rel,
        actions=lifecycle.available_actions(ticket.status, rel),
        can_reply=lifecycle.allowed_from("reply", ticket.status) and lifecycle.allowed_for("reply", rel),
        can_note=lifecycle.allowed_from("note", ticket.status) and lifecycle.allowed_for("note", rel),
        can_edit=may_edit(user, ticket),
        identities=identities,
        references=references,
        other_tickets=others,
        customer_ticket_count=total,
        timeline=items,
        interactions=[
            InteractionRow(
                c,
                per_interaction.get(c.interaction_id, {}).get("n", 0),
                per_interaction.get(c.interaction_id, {}).get("last") or c.created_at,
            )
            for c in cases
        ],
        hidden_notes=hidden,
        reply_channels=channels,
        default_channel=default,
        canned=list(canned_responses_for(ticket)),
        tags=list(ticket.tags.all()),
        timeline_total=entries,
        timeline_earlier=entries - len(items),
    )


def header(*, ticket: Ticket, now: datetime | None = None) -> dict:
    """What the header poll refreshes: the ticket and its clocks."""
    return {"ticket": ticket, "clocks": sla_clocks(ticket, now)}
