"""The queue view's reads: the visible tickets with their SLA state, sorted, a page at a time.

Built to stay fast at a million tickets (TOOLING.md, "A queue page at 1,000,000 tickets"):

- **keyset pagination**: a page is "the next 50 after this row's sort key", a row comparison the database
  answers from an index at any depth (OFFSET would read and throw away every row before the page);
- **no full count**: the total is counted up to ``COUNT_CAP`` and shown as "1,000+" beyond it;
- **partial indexes** on the active statuses in the queue's order (``Ticket.Meta.indexes``): the default
  filter (my teams' active tickets, in the order the queue is handed out) reads only the first page's rows.

Every sort key is non-null and ends with the primary key, so a cursor names exactly one position: a ticket
without a resolution due time sorts as if due at ``FAR_FUTURE`` (last, as the routing queue has it).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import F, Prefetch, QuerySet, Value, prefetch_related_objects
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.db.models.functions import Coalesce

from tickets.models import Agent, Tag, Team, Ticket
from tickets.models.tickets import NO_DUE_TIME, QUEUE_ACTIVE_STATUSES
from tickets.permissions import agent_of, is_admin, team_ids, visible_tickets
from tickets.selectors.sla_state import with_sla_state

PER_PAGE = 50
COUNT_CAP = 1000
# The "active" tickets of the queue's default filter (everything not yet resolved), and where a ticket with
# no resolution due time sorts: both as the partial indexes of ``Ticket.Meta`` are built.
ACTIVE = tuple(QUEUE_ACTIVE_STATUSES)
FAR_FUTURE = NO_DUE_TIME


def due_key():
    """The resolution due time as a sort key: never null (the index on it is built on this expression)."""
    return Coalesce("resolution_due", Value(FAR_FUTURE))


@dataclass(frozen=True)
class Sort:
    """One way to sort the queue: ``keys`` name the annotated key columns, most significant first; the
    same direction for all of them, so a single row comparison finds the next page."""

    name: str
    keys: tuple[str, ...]
    descending: bool = False

    @property
    def alias(self) -> str:
        return f"-{self.name}" if self.descending else self.name

    def order(self) -> list:
        return [F(k).desc() if self.descending else F(k).asc() for k in self.keys]


# Sort key columns, annotated on the queryset as ``qk_<name>``; (expression, kind for the cursor).
KEYS = {
    "qk_priority": (lambda: F("priority"), "int"),
    "qk_due": (due_key, "datetime"),
    "qk_created": (lambda: F("created_at"), "datetime"),
    "qk_updated": (lambda: F("updated_at"), "datetime"),
    "qk_id": (lambda: F("id"), "int"),
}

# The column names of the queue table that sort, and their keys. "priority" is the queue's own order
# (``tickets.selectors.queues.QUEUE_ORDER``: priority, SLA due time, age) and the default.
SORT_KEYS = {
    "priority": ("qk_priority", "qk_due", "qk_created", "qk_id"),
    "due": ("qk_due", "qk_id"),
    "number": ("qk_id",),
    "created": ("qk_created", "qk_id"),
    "updated": ("qk_updated", "qk_id"),
}
DEFAULT_SORT = "priority"


def sort_named(alias: str | None) -> Sort:
    """``priority``, ``-updated``…; anything unknown is the default sort."""
    alias = (alias or "").strip()
    descending = alias.startswith("-")
    name = alias.lstrip("-")
    if name not in SORT_KEYS:
        return Sort(DEFAULT_SORT, SORT_KEYS[DEFAULT_SORT])
    return Sort(name, SORT_KEYS[name], descending)


def queue_team_ids(user) -> set[int] | None:
    """The teams whose queues a user sees by default: an agent's teams; ``None`` (all) for an admin with
    no team of their own."""
    agent = agent_of(user)
    ids = team_ids(agent) if agent is not None else set()
    if not ids and is_admin(user):
        return None
    return ids


def queue_teams(user) -> QuerySet[Team]:
    ids = queue_team_ids(user)
    return Team.objects.all() if ids is None else Team.objects.filter(pk__in=ids)


def queue_agents(user) -> QuerySet[Agent]:
    """Agents a user may filter by or assign to: those of the user's teams (every agent, for an admin)."""
    ids = queue_team_ids(user)
    agents = Agent.objects.filter(user__is_active=True).exclude(role=Agent.Role.ADMIN)
    if ids is not None:
        agents = agents.filter(pk__in=Agent.teams.through.objects.filter(team_id__in=ids).values("agent_id"))
    return agents.select_related("user").order_by("user__first_name", "user__last_name", "user__username")


def queue_tickets(user, *, now: datetime | None = None) -> QuerySet[Ticket]:
    """Every ticket the user may see, with what a queue row shows (before filters and sorting)."""
    return with_sla_state(
        visible_tickets(user).select_related("customer", "team", "assignee__user"), now
    ).annotate(**{name: expression() for name, (expression, _kind) in KEYS.items()})


# Cursors ------------------------------------------------------------------------------------------------


def encode_cursor(sort: Sort, key) -> str:
    """A page position: the sort's name and a row's sort key (``sort.keys`` values, in order)."""
    values = [value.isoformat() if isinstance(value, datetime) else value for value in key]
    raw = json.dumps([sort.alias, values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: Sort, cursor: str | None) -> tuple | None:
    """The sort key a cursor names, or ``None`` when it is missing, malformed or made for another sort."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        alias, values = json.loads(raw)
        if alias != sort.alias or len(values) != len(sort.keys):
            return None
        parsed = []
        for key, value in zip(sort.keys, values, strict=True):
            kind = KEYS[key][1]
            if kind == "int":
                if isinstance(value, bool) or not isinstance(value, int):
                    return None
                parsed.append(value)
            else:
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is None:
                    return None
                parsed.append(moment)
        return tuple(parsed)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None


# Pages --------------------------------------------------------------------------------------------------


@dataclass
class Page:
    rows: list[Ticket]
    sort: Sort
    next_cursor: str | None = None
    previous_cursor: str | None = None
    # How many tickets match, counted up to COUNT_CAP; ``count_capped``: there are more.
    count: int | None = None
    count_capped: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def is_first(self) -> bool:
        return self.previous_cursor is None


def keyset_page(
    queryset: QuerySet[Ticket],
    *,
    sort: Sort,
    after: str | None = None,
    before: str | None = None,
    per_page: int | None = None,
) -> Page:
    """One page of ``queryset`` in ``sort`` order: the first, the one after the ``after`` cursor, or the
    one before the ``before`` cursor.

    Two queries: the page's ids and sort keys (``per_page + 1`` of them: the extra one says there is more),
    from the tickets table alone, then those rows with what they show. The planner cannot misjudge a
    filter (the SLA state is an expression it can only guess at) into joining thousands of rows before
    it cuts the page."""
    per_page = per_page or PER_PAGE
    key_after, key_before = decode_cursor(sort, after), decode_cursor(sort, before)
    columns = Tuple(*[F(k) for k in sort.keys])
    forward = key_before is None
    qs = queryset
    if forward and key_after is not None:
        lookup = TupleLessThan if sort.descending else TupleGreaterThan
        qs = qs.filter(lookup(columns, key_after))
    elif not forward:
        lookup = TupleGreaterThan if sort.descending else TupleLessThan
        qs = qs.filter(lookup(columns, key_before))
    order = sort.order() if forward else Sort(sort.name, sort.keys, not sort.descending).order()
    hits = list(qs.order_by(*order).values_list("pk", *sort.keys)[: per_page + 1])
    more = len(hits) > per_page
    hits = hits[:per_page]
    if not forward:
        hits.reverse()
    if not hits and not forward:
        # Nothing before this point any more (rows were closed meanwhile): that is the first page.
        return keyset_page(queryset, sort=sort, per_page=per_page)
    found = queryset.in_bulk([pk for pk, *_key in hits]) if hits else {}
    page = Page(rows=[found[pk] for pk, *_key in hits if pk in found], sort=sort)
    if hits:
        has_next = more if forward else True
        has_previous = key_after is not None if forward else more
        page.next_cursor = encode_cursor(sort, hits[-1][1:]) if has_next else None
        page.previous_cursor = encode_cursor(sort, hits[0][1:]) if has_previous else None
    return page


def capped_count(queryset: QuerySet[Ticket], cap: int | None = None) -> tuple[int, bool]:
    """(count, capped): how many rows match, counting no further than ``cap`` (a full COUNT of a big table
    reads every row; nobody needs to know there are 83,412 rather than "more than 1,000")."""
    cap = cap or COUNT_CAP
    found = queryset.order_by().values("pk")[: cap + 1].count()
    return min(found, cap), found > cap


def prefetch_tags(rows: list[Ticket]) -> None:
    """The tags of a page's rows, in one query (as ``queue_tags``)."""
    prefetch_related_objects(
        rows, Prefetch("tags", queryset=Tag.objects.order_by("name"), to_attr="queue_tags")
    )
