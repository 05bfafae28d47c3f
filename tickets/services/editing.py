"""Changing a ticket from the workspace without moving its status.

- inline edits: priority (which re-times the SLA clocks), category, tags;
- relinking an interaction (its case) to another ticket of the same customer, or splitting it off into a new
  ticket, when intake linked it to the wrong issue (DOMAIN.md, "How an interaction finds its ticket": the
  case records why it was linked so that an agent can relink it in one action);
- a reply with attachments.

Each one, like the lifecycle transitions: lock the ticket row, refuse a stale view (``expected_version``),
check who may act, change, bump ``version`` and write a ``TicketEvent`` — in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from tickets import lifecycle
from tickets.channels import Channel
from tickets.errors import ConflictError, InvalidTransition, PermissionDenied, ValidationFailed
from tickets.lifecycle import Status
from tickets.models import Case, Category, Message, Tag, Ticket
from tickets.models.tickets import Level, Priority
from tickets.permissions import relations
from tickets.services import replies
from tickets.services.attachments import store_attachment
from tickets.services.events import record_event
from tickets.services.routing import request_distribution
from tickets.services.sla import apply_targets

# Who may edit a ticket's fields and fix its links: the people working it — its owner, its team, a
# supervisor of the team (the same relations that may merge or mark spam). Never the system or a customer.
EDITORS = frozenset({lifecycle.OWNER, lifecycle.TEAM, lifecycle.SUPERVISOR})

# Outbound senders attach files on e-mail only (answers to web-form tickets go out by e-mail too).
ATTACHMENT_CHANNELS = frozenset({Channel.EMAIL, Channel.WEB})
MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


def may_edit(user, ticket: Ticket) -> bool:
    """May ``user`` change ``ticket``'s priority, category and tags, and relink or split its interactions?

    A closed ticket is history: reopen it first."""
    return ticket.status != Status.CLOSED and bool(EDITORS & relations(user, ticket))


def check_may_edit(user, ticket: Ticket, *, what: str = "change") -> None:
    """``may_edit``, saying why not (``PermissionDenied`` or ``InvalidTransition``)."""
    _check(ticket, actor=user, what=what, expected_version=None)


def _lock(pk: int) -> Ticket:
    return (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("team", "assignee", "customer", "category")
        .get(pk=pk)
    )


def _check(ticket: Ticket, *, actor, what: str, expected_version: int | None) -> None:
    if expected_version is not None and ticket.version != expected_version:
        raise ConflictError(
            f"{ticket.number} was changed by someone else since you opened it; reload and try again."
        )
    if not EDITORS & relations(actor, ticket):
        who = actor.get_username() if actor is not None else "the system"
        raise PermissionDenied(
            f"{who} may not {what} {ticket.number}: only its owner, its team and their supervisors may."
        )
    if ticket.status == Status.CLOSED:
        raise InvalidTransition(f"{ticket.number} is closed; reopen it before you {what} it.")


def _begin(ticket: Ticket | int, *, actor, what: str, expected_version: int | None) -> Ticket:
    """Lock and check; the fresh, locked ticket. Must run inside ``transaction.atomic``."""
    locked = _lock(ticket.pk if isinstance(ticket, Ticket) else ticket)
    _check(locked, actor=actor, what=what, expected_version=expected_version)
    return locked


def _touch(ticket: Ticket, *, fields: Iterable[str] = ()) -> None:
    from tickets.services import rules  # the rule engine builds on the lifecycle services

    ticket.version += 1
    ticket.updated_at = timezone.now()
    ticket.save(update_fields=["version", "updated_at", *fields])
    rules.after_change(ticket)  # the "changed" triage rules, once this commits


# Inline edits ----------------------------------------------------------------------------------------------


@transaction.atomic
def set_priority(
    *, ticket: Ticket, actor, priority: int, reason: str = "", expected_version: int | None = None
) -> Ticket:
    """A new priority, and the SLA due times of its policy (counted from the ticket's creation)."""
    try:
        priority = int(priority)
    except (TypeError, ValueError):
        raise ValidationFailed(f"{priority!r} is not a priority.") from None
    if priority not in Priority.values:
        raise ValidationFailed(f"P{priority} is not a priority; choose P1 to P4.")
    t = _begin(ticket, actor=actor, what="change the priority of", expected_version=expected_version)
    if t.priority == priority:
        return t
    before = t.priority
    t.priority = priority
    apply_targets(t)
    _touch(t, fields=["priority", "first_response_due", "resolution_due"])
    record_event(
        ticket=t,
        actor=actor,
        kind="priority",
        from_value=f"P{before}",
        to_value=f"P{priority}",
        reason=reason.strip(),
        data={
            "first_response_due": t.first_response_due.isoformat() if t.first_response_due else None,
            "resolution_due": t.resolution_due.isoformat() if t.resolution_due else None,
        },
        at=t.updated_at,
    )
    return t


@transaction.atomic
def set_category(
    *, ticket: Ticket, actor, category: Category | None, expected_version: int | None = None
) -> Ticket:
    t = _begin(ticket, actor=actor, what="change the category of", expected_version=expected_version)
    new_id = category.pk if category is not None else None
    if t.category_id == new_id:
        return t
    before = t.category.name if t.category else ""
    t.category = category
    _touch(t, fields=["category"])
    record_event(
        ticket=t,
        actor=actor,
        kind="category",
        from_value=before,
        to_value=category.name if category else "",
        at=t.updated_at,
    )
    return t


@transaction.atomic
def set_tags(*, ticket: Ticket, actor, tags: Iterable[Tag], expected_version: int | None = None) -> Ticket:
    """Replace the ticket's tags with ``tags`` (tags themselves are configured by admins)."""
    t = _begin(ticket, actor=actor, what="change the tags of", expected_version=expected_version)
    wanted = {tag.pk: tag for tag in tags}
    current = {tag.pk: tag for tag in t.tags.all()}
    added = sorted(wanted[pk].name for pk in wanted.keys() - current.keys())
    removed = sorted(current[pk].name for pk in current.keys() - wanted.keys())
    if not added and not removed:
        return t
    t.tags.set(wanted.values())
    _touch(t)
    record_event(
        ticket=t,
        actor=actor,
        kind="tags",
        from_value=", ".join(sorted(tag.name for tag in current.values())),
        to_value=", ".join(sorted(tag.name for tag in wanted.values())),
        data={"added": added, "removed": removed},
        at=t.updated_at,
    )
    return t


# Relink and split ------------------------------------------------------------------------------------------


def reparent(ticket: Ticket) -> None:
    """The ticket's first case (in order of creation) is the parent; every later one is its child.

    Called after cases move in or out, so "first interaction / follow-up" (and the per-unique-ID report's
    counts) stay true for both tickets."""
    cases = list(Case.objects.filter(ticket=ticket).order_by("created_at", "id").only("pk", "parent_id"))
    if not cases:
        return
    first, rest = cases[0], cases[1:]
    if first.parent_id is not None:
        Case.objects.filter(pk=first.pk).update(parent=None)
    stale = [c.pk for c in rest if c.parent_id != first.pk]
    if stale:
        Case.objects.filter(pk__in=stale).update(parent=first)


def _lock_case(case: Case | int) -> Case:
    pk = case.pk if isinstance(case, Case) else case
    return Case.objects.select_for_update(of=("self",)).select_related("interaction").get(pk=pk)


def _movable(case: Case, source: Ticket) -> None:
    if case.ticket_id != source.pk:
        raise ConflictError(f"That interaction is no longer on {source.number}; reload and try again.")
    if not Case.objects.filter(ticket=source).exclude(pk=case.pk).exists():
        raise ValidationFailed(
            f"This is the only interaction of {source.number}; merge {source.number} into the other "
            "ticket instead."
        )


def _describe_case(case: Case) -> str:
    return f"{case.interaction.get_channel_display()} interaction of {case.interaction.started_at:%Y-%m-%d %H:%M}"


@transaction.atomic
def relink(
    *, case: Case, actor, to_ticket: Ticket, reason: str = "", expected_version: int | None = None
) -> Case:
    """Move one interaction (its case and its messages) to another ticket of the same customer.

    ``expected_version`` is the version of the ticket the agent is looking at (the case's current one)."""
    source_id = case.ticket_id
    if to_ticket.pk == source_id:
        raise ValidationFailed("That interaction is already linked to this ticket.")
    # Both tickets locked in id order, so two agents relinking in opposite directions cannot deadlock.
    locked = {pk: _lock(pk) for pk in sorted((source_id, to_ticket.pk))}
    source, target = locked[source_id], locked[to_ticket.pk]
    _check(source, actor=actor, what="relink an interaction of", expected_version=expected_version)
    if not relations(actor, target):
        raise PermissionDenied(f"You may not change {target.number}.")
    if target.status == Status.CLOSED:
        raise InvalidTransition(f"{target.number} is closed; relink to an open ticket or reopen it first.")
    if target.customer_id != source.customer_id:
        raise ValidationFailed(
            f"{target.number} belongs to another customer ({target.customer.unique_id}); an interaction "
            "is only linked to its own customer's tickets."
        )
    case = _lock_case(case)
    _movable(case, source)
    reason = reason.strip()
    detail = f"relinked from {source.number}" + (f": {reason}" if reason else "")
    Case.objects.filter(pk=case.pk).update(
        ticket=target, link_rule=Case.LinkRule.MANUAL, link_detail=detail[:200]
    )
    reparent(source)
    reparent(target)
    _touch(source)
    _touch(target)
    what = _describe_case(case)
    data = {"case": case.pk, "interaction": case.interaction_id, "channel": case.interaction.channel}
    record_event(
        ticket=source,
        actor=actor,
        kind="relinked",
        from_value=f"case {case.pk}",
        to_value=target.number,
        reason=reason,
        data={**data, "to": target.number, "what": what},
        at=source.updated_at,
    )
    record_event(
        ticket=target,
        actor=actor,
        kind="relinked_in",
        from_value=source.number,
        to_value=f"case {case.pk}",
        reason=reason,
        data={**data, "from": source.number, "what": what},
        at=target.updated_at,
    )
    case.refresh_from_db()
    return case


@transaction.atomic
def split(
    *, case: Case, actor, subject: str = "", reason: str = "", expected_version: int | None = None
) -> Ticket:
    """Take one interaction off its ticket into a new ticket of its own: a different issue.

    The new ticket starts in the same team's queue, with the priority a new ticket of this customer gets,
    and is routed like any other."""
    source = _begin(
        case.ticket_id, actor=actor, what="split an interaction off", expected_version=expected_version
    )
    case = _lock_case(case)
    _movable(case, source)
    interaction = case.interaction
    first = Message.objects.filter(interaction=interaction).order_by("sent_at", "id").first()
    subject = " ".join((subject or "").split()) or (
        " ".join(((first.subject or first.body) if first else "").split())
    )
    now = timezone.now()
    from tickets.services import priority as priorities  # it builds on this module

    priority = priorities.from_matrix(Level.MEDIUM, Level.MEDIUM)  # raised below by the "created" rules
    reason = reason.strip()
    new = Ticket(
        customer=source.customer,
        subject=(subject or f"{interaction.get_channel_display()} split from {source.number}")[:300],
        channel=interaction.channel,
        priority=priority,
        team=source.team,
        team_rule=f"split from {source.number}"[:200],
        created_at=now,
        updated_at=now,
        queued_at=now,
        last_customer_message_at=source.last_customer_message_at,
    )
    apply_targets(new)
    new.save()
    Case.objects.filter(pk=case.pk).update(
        ticket=new,
        parent=None,
        link_rule=Case.LinkRule.MANUAL,
        link_detail=(f"split from {source.number}" + (f": {reason}" if reason else ""))[:200],
    )
    reparent(source)
    _touch(source)
    what = _describe_case(case)
    record_event(
        ticket=new,
        actor=actor,
        kind="created",
        to_value=Status.NEW,
        reason=f"split from {source.number}" + (f": {reason}" if reason else ""),
        data={
            "split_from": source.number,
            "case": case.pk,
            "channel": interaction.channel,
            "team": source.team.name,
            "priority": f"P{priority}",
        },
        at=now,
    )
    record_event(
        ticket=source,
        actor=actor,
        kind="split",
        from_value=f"case {case.pk}",
        to_value=new.number,
        reason=reason,
        data={"case": case.pk, "interaction": interaction.pk, "to": new.number, "what": what},
        at=source.updated_at,
    )
    from tickets.services import rules  # it acts through this module's neighbours

    # A new ticket like any other for the triage rules (a VIP's is P1) — but not a duplicate of its source.
    rules.ticket_created(new, text=first.body if first else "", not_duplicate_of=(source.pk,))
    request_distribution(new.team_id)
    return new


# Replies with attachments ----------------------------------------------------------------------------------


@transaction.atomic
def reply_with_attachments(
    *,
    ticket: Ticket,
    actor,
    body: str,
    channel: str | None = None,
    files: Iterable = (),
    expected_version: int | None = None,
) -> Message:
    """``replies.reply`` plus files (Django ``UploadedFile``s) stored on the outbound message.

    One transaction: the outbox task is enqueued on commit, so it never sees the message without its
    files."""
    files = list(files)
    if len(files) > MAX_ATTACHMENTS:
        raise ValidationFailed(f"At most {MAX_ATTACHMENTS} attachments per reply ({len(files)} given).")
    for f in files:
        if f.size > MAX_ATTACHMENT_BYTES:
            raise ValidationFailed(
                f"{f.name} is {f.size // (1024 * 1024)} MB; the limit is "
                f"{MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB per file."
            )
    message = replies.reply(
        ticket=ticket, actor=actor, body=body, channel=channel, expected_version=expected_version
    )
    if files and message.channel not in ATTACHMENT_CHANNELS:
        raise ValidationFailed(
            f"Attachments go out by e-mail only; this reply would go by {message.get_channel_display()}. "
            "Pick the e-mail channel or send the text without files."
        )
    for f in files:
        store_attachment(
            message=message,
            filename=f.name,
            content=f.read(),
            content_type=getattr(f, "content_type", "") or "",
        )
    return message
