"""The one rule engine (issue 6): admin-edited ``Rule`` rows — *when* (a trigger), *if* (conditions), *then*
(one action) — applied to a ticket, each rule at most once per ticket.

Triggers, and where they are called from:

- ``created``: a new ticket from intake (``tickets.intake``), in the same transaction — a premium
  customer's ticket is high priority from the first moment, before routing hands it out;
- ``customer_message``: a customer message joined an existing ticket (``tickets.intake``), same transaction;
- ``changed``: a lifecycle move or an edit (``transitions._finish``, ``editing``), after its commit;
- ``sweep``: every few minutes over the unclosed tickets (``helpdesk/schedules.py``).

Conditions (each one filled in must hold): customer tier, channel, keywords in the subject or message
text, reference kind, team, priority, status, unchanged for N hours. Actions: set the priority, raise it
to at least, add a tag, set the category, transfer to a team, close as spam, offer a merge with a
duplicate, merge into the duplicate. An action that would change nothing does not fire (so it may fire on
a later trigger, when it would). Each firing writes a ``RuleFiring`` (unique per rule and ticket, under the
ticket's row lock) and one ``rule`` event on the ticket's history; lifecycle moves also write their own.
"""

from __future__ import annotations

import contextvars
import difflib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from tickets import lifecycle
from tickets.errors import HelpdeskError
from tickets.lifecycle import Status
from tickets.models import Message, Rule, RuleFiring, Ticket
from tickets.services import transitions
from tickets.services.events import record_event
from tickets.services.sla import apply_targets

log = logging.getLogger(__name__)

CREATED, CUSTOMER_MESSAGE, CHANGED, SWEEP = "created", "customer_message", "changed", "sweep"
TRIGGERS = (CREATED, CUSTOMER_MESSAGE, CHANGED, SWEEP)
TRIGGER_TEXT = {
    CREATED: "creation",
    CUSTOMER_MESSAGE: "a customer message",
    CHANGED: "a change",
    SWEEP: "the periodic sweep",
}
# Two texts at least this similar (difflib's ratio, 0–1) are "close text" for duplicate detection.
CLOSE_TEXT_RATIO = 0.8
# Only this much of each text is compared (the start says what it is about; long mails are quoted threads).
COMPARED_CHARS = 500

# Set while the engine acts: its own changes do not trigger "changed" rules again from inside it.
_acting = contextvars.ContextVar("rules_acting", default=False)


@dataclass
class Context:
    """What the trigger knows besides the ticket: the message's text and channel, the time."""

    trigger: str
    now: datetime
    text: str = ""
    channel: str = ""
    # Tickets this one is known not to duplicate (a ticket split off from another is a different issue).
    not_duplicate_of: tuple[int, ...] = ()


# Conditions ------------------------------------------------------------------------------------------------


def keywords_of(rule: Rule) -> list[str]:
    return [w.strip().lower() for w in rule.keywords.split(",") if w.strip()]


def _keyword_in(word: str, text: str) -> bool:
    # Whole words (a keyword "win" does not match "window"); a phrase matches as written.
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text) is not None


def why_matches(rule: Rule, ticket: Ticket, ctx: Context) -> str | None:
    """The conditions that hold, as a phrase ("VIP customer, keyword “outage”"); None when one fails."""
    why = []
    if rule.customer_tier:
        if ticket.customer.tier != rule.customer_tier:
            return None
        why.append(f"{ticket.customer.get_tier_display()} customer")
    if rule.channel:
        if (ctx.channel or ticket.channel) != rule.channel:
            return None
        why.append(f"channel {rule.get_channel_display()}")
    if words := keywords_of(rule):
        text = f"{ticket.subject}\n{ctx.text}".lower()
        found = next((w for w in words if _keyword_in(w, text)), None)
        if found is None:
            return None
        why.append(f"keyword “{found}”")
    if rule.reference_kind_id:
        if ticket.reference_id is None or ticket.reference.kind_id != rule.reference_kind_id:
            return None
        why.append(f"{rule.reference_kind.name} reference")
    if rule.team_id:
        if ticket.team_id != rule.team_id:
            return None
        why.append(f"team {rule.team.name}")
    if rule.priority:
        if ticket.priority != rule.priority:
            return None
        why.append(f"P{rule.priority}")
    if rule.status:
        if ticket.status != rule.status:
            return None
        why.append(ticket.get_status_display().lower())
    if rule.idle_hours is not None:
        if ctx.now - ticket.updated_at < timedelta(hours=rule.idle_hours):
            return None
        why.append(f"unchanged for {rule.idle_hours} h")
    return ", ".join(why) or "none (every ticket)"


# Duplicates ------------------------------------------------------------------------------------------------


def _normalised(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", (text or "").lower()).split())[:COMPARED_CHARS]


def first_text(ticket: Ticket) -> str:
    """The subject and the first customer message: what a ticket is about."""
    first = (
        Message.objects.filter(interaction__case__ticket=ticket, direction=Message.Direction.INBOUND)
        .order_by("sent_at", "id")
        .values_list("body", flat=True)
        .first()
    )
    return f"{ticket.subject}\n{first or ''}"


def close_text(a: str, b: str) -> bool:
    a, b = _normalised(a), _normalised(b)
    return bool(a and b) and difflib.SequenceMatcher(None, a, b).ratio() >= CLOSE_TEXT_RATIO


def find_duplicate(
    ticket: Ticket, *, window_hours: int, text: str = "", not_of: tuple[int, ...] = ()
) -> tuple[Ticket, str] | None:
    """(the original, why): an older unclosed ticket of the same customer with the same reference, or with
    close text created within ``window_hours`` before this one."""
    others = (
        Ticket.objects.filter(customer_id=ticket.customer_id, created_at__lte=ticket.created_at)
        .exclude(pk__in=[ticket.pk, *not_of])
        .exclude(status=Status.CLOSED)
        .order_by("-created_at", "-id")
    )
    if ticket.reference_id:
        same = others.filter(reference_id=ticket.reference_id).first()
        if same is not None:
            return same, f"the same reference {ticket.reference.value} as {same.number}"
    mine = text or first_text(ticket)
    since = ticket.created_at - timedelta(hours=window_hours)
    for other in others.filter(created_at__gte=since)[:20]:
        if close_text(mine, first_text(other)):
            return other, f"close text to {other.number} within {window_hours} h"
    return None


# Actions ---------------------------------------------------------------------------------------------------


@dataclass
class Done:
    """What an action did, for the history: from → to, and a sentence."""

    did: str
    from_value: str = ""
    to_value: str = ""
    duplicate_of: Ticket | None = None


def _save_priority(t: Ticket, priority: int, now: datetime) -> Done | None:
    if priority == t.priority:
        return None
    before = t.priority
    t.priority = priority
    apply_targets(t)
    t.version += 1
    t.updated_at = now
    t.save(update_fields=["priority", "first_response_due", "resolution_due", "version", "updated_at"])
    return Done(f"priority P{before} → P{priority}", f"P{before}", f"P{priority}")


def _touch(t: Ticket, now: datetime, **fields) -> None:
    """A change without a lifecycle move: like an agent's edit, it bumps the version (a screen showing the
    ticket before it is stale)."""
    Ticket.objects.filter(pk=t.pk).update(updated_at=now, version=F("version") + 1, **fields)


def _act(rule: Rule, t: Ticket, ctx: Context, reason: str) -> Done | None:
    """Carry out the rule's action on the locked ticket; None when it would change nothing."""
    A = Rule.Action
    match rule.action:
        case A.SET_PRIORITY:
            return _save_priority(t, rule.new_priority, ctx.now)
        case A.RAISE_PRIORITY:
            return _save_priority(t, min(t.priority, rule.new_priority), ctx.now)
        case A.ADD_TAG:
            if t.tags.filter(pk=rule.tag_id).exists():
                return None
            t.tags.add(rule.tag_id)
            _touch(t, ctx.now)
            return Done(f"tag {rule.tag.name} added", "", rule.tag.name)
        case A.SET_CATEGORY:
            if t.category_id == rule.category_id:
                return None
            before = t.category.name if t.category_id else ""
            _touch(t, ctx.now, category=rule.category_id)
            return Done(f"category {rule.category.name}", before, rule.category.name)
        case A.TRANSFER:
            if t.team_id == rule.to_team_id or not lifecycle.allowed_from("transfer", t.status):
                return None
            before = t.team.name
            transitions.transfer(ticket=t, actor=None, team=rule.to_team, reason=reason)
            return Done(f"transferred to {rule.to_team.name}", before, rule.to_team.name)
        case A.MARK_SPAM:
            if not lifecycle.allowed_from("mark_spam", t.status):
                return None
            transitions.mark_spam(ticket=t, actor=None, reason=reason)
            return Done("closed as spam", t.status, Status.CLOSED)
        case A.OFFER_MERGE | A.MERGE:
            if t.status == Status.CLOSED:
                return None
            found = find_duplicate(
                t, window_hours=rule.duplicate_window_hours, text=ctx.text, not_of=ctx.not_duplicate_of
            )
            if found is None:
                return None
            original, why = found
            if rule.action == A.OFFER_MERGE:
                return Done(f"likely duplicate: {why}; merge offered", "", original.number, original)
            transitions.merge(ticket=t, actor=None, into=original, reason=f"{reason}: {why}")
            return Done(f"merged into {original.number}: {why}", "", original.number, original)
    raise ValueError(f"unknown rule action {rule.action!r}")


# The engine ------------------------------------------------------------------------------------------------


def rules_for(trigger: str):
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}")
    return list(
        Rule.objects.filter(active=True, **{f"on_{trigger}": True}).select_related(
            "reference_kind", "team", "tag", "category", "to_team"
        )
    )


def _lock(pk: int) -> Ticket:
    return (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("team", "customer", "reference", "category")
        .get(pk=pk)
    )


@transaction.atomic
def fire(rule: Rule, ticket_id: int, ctx: Context) -> bool:
    """Apply one rule to one ticket, once: True when it acted (and was recorded)."""
    t = _lock(ticket_id)
    if t.status == Status.CLOSED or RuleFiring.objects.filter(rule=rule, ticket=t).exists():
        return False
    why = why_matches(rule, t, ctx)
    if why is None:
        return False
    reason = f"Rule “{rule.name}” ({why})"
    token = _acting.set(True)
    try:
        with transaction.atomic():  # an action refused half-way leaves nothing behind
            done = _act(rule, t, ctx, reason)
    finally:
        _acting.reset(token)
    if done is None:
        return False
    RuleFiring.objects.create(
        rule=rule, ticket_id=t.pk, trigger=ctx.trigger, fired_at=ctx.now, duplicate_of=done.duplicate_of
    )
    record_event(
        ticket=t,
        kind="rule",
        from_value=done.from_value,
        to_value=done.to_value,
        reason=f"On {TRIGGER_TEXT[ctx.trigger]}; conditions met: {why}.",  # what it did is the entry itself
        data={
            "rule": rule.pk,
            "rule_name": rule.name,
            "trigger": ctx.trigger,
            "action": rule.action,
            "did": done.did,
            **({"duplicate_of": done.duplicate_of.number} if done.duplicate_of else {}),
        },
        at=ctx.now,
    )
    return True


def apply(
    ticket: Ticket | int,
    trigger: str,
    *,
    text: str = "",
    channel: str = "",
    now=None,
    not_duplicate_of: tuple[int, ...] = (),
) -> int:
    """Apply every active rule of ``trigger`` to the ticket, in order; the number that fired. A rule whose
    action the ticket's state refuses is logged and skipped; the others still run."""
    pk = ticket.pk if isinstance(ticket, Ticket) else ticket
    ctx = Context(
        trigger, now or timezone.now(), text=text, channel=channel, not_duplicate_of=not_duplicate_of
    )
    candidates = rules_for(trigger)
    if not candidates:
        return 0

    def load() -> Ticket:
        return Ticket.objects.select_related("team", "customer", "reference", "category").get(pk=pk)

    # Each rule is checked first without the lock (one that does not match costs no query), then under it.
    current = load()
    done = set(RuleFiring.objects.filter(ticket_id=pk).values_list("rule_id", flat=True))
    fired = 0
    for rule in candidates:
        if rule.pk in done or why_matches(rule, current, ctx) is None:
            continue
        try:
            if fire(rule, pk, ctx):
                fired += 1
                current = load()  # later rules see what this one changed
        except HelpdeskError as exc:
            log.warning("rule %s on ticket %s: %s", rule.pk, pk, exc)
    return fired


def ticket_created(
    ticket: Ticket, *, text: str = "", channel: str = "", not_duplicate_of: tuple[int, ...] = ()
) -> int:
    return apply(
        ticket, CREATED, text=text, channel=channel or ticket.channel, not_duplicate_of=not_duplicate_of
    )


def customer_message(ticket: Ticket, *, text: str = "", channel: str = "") -> int:
    return apply(ticket, CUSTOMER_MESSAGE, text=text, channel=channel)


def ticket_changed(ticket_id: int) -> int:
    """The "changed" trigger, run after the change committed (text: the ticket's first message)."""
    if not Rule.objects.filter(active=True, on_changed=True).exists():
        return 0
    ticket = Ticket.objects.filter(pk=ticket_id).first()
    if ticket is None or ticket.status == Status.CLOSED:
        return 0
    return apply(ticket, CHANGED, text=first_text(ticket))


def after_change(ticket: Ticket) -> None:
    """Hook for the services that change a ticket: run the "changed" rules once the change is committed
    (not from inside the engine's own actions, which would only re-check what it just did)."""
    if _acting.get():
        return
    pk = ticket.pk
    # robust: a rule that fails is logged; the change it followed is committed and stands.
    transaction.on_commit(lambda: ticket_changed(pk), robust=True)


def sweep(now: datetime | None = None) -> int:
    """The periodic trigger: every active sweep rule against the unclosed tickets it has not acted on.
    Safe to run twice: each firing is unique per rule and ticket, taken under the ticket's row lock."""
    now = now or timezone.now()
    fired = 0
    for rule in rules_for(SWEEP):
        done = RuleFiring.objects.filter(rule=rule, ticket=OuterRef("pk"))
        qs = Ticket.objects.exclude(status=Status.CLOSED).exclude(Exists(done))
        # The conditions SQL can check before the exact check under the lock.
        for field, value in (
            ("customer__tier", rule.customer_tier),
            ("channel", rule.channel),
            ("reference__kind", rule.reference_kind_id),
            ("team", rule.team_id),
            ("priority", rule.priority),
            ("status", rule.status),
        ):
            if value:
                qs = qs.filter(**{field: value})
        if rule.idle_hours is not None:
            qs = qs.filter(updated_at__lte=now - timedelta(hours=rule.idle_hours))
        if words := keywords_of(rule):
            any_word = Q()
            for w in words:
                any_word |= Q(subject__icontains=w)
            qs = qs.filter(any_word)
        for pk in qs.values_list("pk", flat=True).iterator():
            try:
                fired += fire(rule, pk, Context(SWEEP, now))
            except HelpdeskError as exc:
                log.warning("sweep rule %s on ticket %s: %s", rule.pk, pk, exc)
    return fired
