"""django-tables2 tables of the agent workspace.

``QueueTable`` renders one keyset page of the queue (``tickets.selectors.queue_view``): the selector has
already sorted and cut the page in the database, so the table only draws it — its header links carry the
sort (``?sort=priority``, ``?sort=-updated``) back to the selector and drop the page cursor.
"""

from __future__ import annotations

import django_tables2 as tables
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime
from django_tables2.data import TableListData

from tickets.selectors.sla_state import CSS_CLASS, SlaState


def ticket_url(pk: int) -> str | None:
    """The ticket workspace's address, or None while that page is not installed."""
    try:
        return reverse("desk:ticket", args=[pk])
    except NoReverseMatch:
        return None


def customer_url(unique_id: str) -> str | None:
    try:
        return reverse("desk:customer", args=[unique_id])
    except NoReverseMatch:
        return None


class KeysetRows(TableListData):
    """A page the database already sorted: the table must not sort it again."""

    def order_by(self, aliases):
        return None


def _ago(moment, now) -> str:
    """ "5 min ago", "3 h ago", "2 d ago": short and cheap (Django's timesince translates every call)."""
    if not moment:
        return ""
    minutes = int((now - moment).total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // (24 * 60)} d ago"


class SelectColumn(tables.Column):
    """The header's "select all" checkbox; each row's checkbox is ``QueueTable.render_select``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("orderable", False)
        kwargs.setdefault("empty_values", ())
        kwargs.setdefault("attrs", {"th": {"class": "select"}})
        super().__init__(**kwargs)

    @property
    def header(self):
        return mark_safe(
            '<input type="checkbox" data-select-all aria-label="Select every ticket on this page">'
        )


class QueueTable(tables.Table):
    select = SelectColumn(verbose_name="Select")
    number = tables.Column(accessor="pk", verbose_name="Ticket")
    subject = tables.Column(orderable=False)
    customer = tables.Column(orderable=False)
    status = tables.Column(orderable=False)
    priority = tables.Column()
    due = tables.Column(accessor="sla_state", verbose_name="SLA due")
    team = tables.Column(orderable=False)
    assignee = tables.Column(orderable=False, empty_values=())
    channel = tables.Column(orderable=False)
    created = tables.Column(accessor="created_at", verbose_name="Opened")
    updated = tables.Column(accessor="updated_at", verbose_name="Updated")

    class Meta:
        template_name = "tickets/queue/table.html"
        order_by_field = "sort"
        attrs = {"class": "data queue-table"}
        empty_text = "No tickets match these filters."

    def __init__(self, *args, now=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now or timezone.now()

    def rendered_rows(self):
        """Each row's HTML: every cell through its ``render_<column>(record)``, in the columns' order.

        django-tables2's own cell pipeline inspects each render method's signature and resolves the
        column's accessor for every cell — most of the page's time at 50 rows × 12 columns. Every column
        here renders from the record alone, so the rows call them directly."""
        renderers = [(column.name, getattr(self, f"render_{column.name}")) for column in self.columns]
        for record in self.data:
            cells = format_html_join(
                "", '<td class="col-{}">{}</td>', ((name, render(record)) for name, render in renderers)
            )
            yield format_html('<tr data-ticket="{}">{}</tr>', record.pk, cells)

    def render_select(self, record):
        # ``pk:version``: a bulk action on a row someone changed meanwhile is refused as a conflict rather
        # than applied to a ticket the agent did not see.
        return format_html(
            '<input type="checkbox" name="ticket" value="{}:{}" data-select-row aria-label="Select {}">',
            record.pk,
            record.version,
            record.number,
        )

    def render_number(self, record):
        url = ticket_url(record.pk)
        if url is None:
            return record.number
        return format_html('<a href="{}">{}</a>', url, record.number)

    def render_subject(self, record):
        tags = getattr(record, "queue_tags", None) or []
        badges = format_html_join(" ", '<span class="badge tag">{}</span>', ((t.name,) for t in tags))
        escalated = mark_safe(' <span class="badge escalated">escalated</span>') if record.escalated else ""
        return format_html("{}{} {}", record.subject, escalated, badges)

    def render_customer(self, record):
        customer = record.customer
        url = customer_url(customer.unique_id)
        if url is None:
            return format_html(
                '<span class="customer-id">{}</span> <small>{}</small>', customer.unique_id, customer.name
            )
        return format_html(
            '<a class="customer-id" href="{}">{}</a> <small>{}</small>',
            url,
            customer.unique_id,
            customer.name,
        )

    def render_status(self, record):
        return format_html(
            '<span class="badge status-{}">{}</span>', record.status, record.get_status_display()
        )

    def render_priority(self, record):
        return format_html('<span class="badge priority-{}">P{}</span>', record.priority, record.priority)

    def render_due(self, record):
        state = SlaState(record.sla_state)
        if record.first_responded_at is None and record.first_response_due is not None:
            due, what = record.first_response_due, "first response"
        else:
            due, what = record.resolution_due, "resolution"
        when = ""
        if due is not None:
            local = localtime(due)
            when = format_html(
                ' <time datetime="{}" title="{} due {}">{}</time>',
                due.isoformat(),
                what.capitalize(),
                local.strftime("%Y-%m-%d %H:%M %Z"),
                local.strftime("%d %b %H:%M"),
            )
        return format_html('<span class="{}">{}</span>{}', CSS_CLASS[state], state.label, when)

    def render_team(self, record):
        return record.team.name

    def render_assignee(self, record):
        if record.assignee_id is None:
            return mark_safe('<span class="muted">Unassigned</span>')
        return str(record.assignee)

    def render_channel(self, record):
        return record.get_channel_display()

    def render_created(self, record):
        return format_html(
            '<time datetime="{}">{}</time>', record.created_at.isoformat(), _ago(record.created_at, self.now)
        )

    def render_updated(self, record):
        return format_html(
            '<time datetime="{}">{}</time>', record.updated_at.isoformat(), _ago(record.updated_at, self.now)
        )
