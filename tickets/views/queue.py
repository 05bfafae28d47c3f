"""``queue/``: the team queues as a table — filters, sort, keyset pages, bulk actions, live rows.

- ``queue/``: the page (an HTMX request aimed at ``#queue-results`` gets only the results);
- ``queue/rows/``: the table body for the same query string — what the page polls every few seconds
  (``static/js/queue.js`` pauses the poll while rows are selected, so a selection is never lost);
- ``queue/bulk/``: one action on the selected rows, each through its service; the outcome as a message.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from tickets.errors import HelpdeskError
from tickets.filters import QueueFilter
from tickets.models import Team
from tickets.models.tickets import Priority
from tickets.selectors import queue_view
from tickets.services import bulk
from tickets.tables import KeysetRows, QueueTable
from tickets.views.base import agent_required, refusal

TEMPLATE = "tickets/queue/page.html"
POLL_SECONDS = 5


def _table(request, *, count: bool, agents=None) -> dict:
    filterset = QueueFilter(
        request.GET, user=request.user, agents=agents, queryset=queue_view.queue_tickets(request.user)
    )
    sort = queue_view.sort_named(request.GET.get("sort"))
    tickets = filterset.qs
    page = queue_view.keyset_page(
        tickets, sort=sort, after=request.GET.get("after"), before=request.GET.get("before")
    )
    queue_view.prefetch_tags(page.rows)
    if count:
        page.count, page.count_capped = queue_view.capped_count(tickets)
    query = request.GET.urlencode()
    table = QueueTable(
        KeysetRows(page.rows),
        order_by=sort.alias,
        attrs={
            "class": "data queue-table",
            "tbody": {
                "id": "queue-rows",
                "hx-get": reverse("desk:queue_rows") + (f"?{query}" if query else ""),
                "hx-trigger": f"every {POLL_SECONDS}s",
                "hx-target": "this",
                "hx-swap": "outerHTML",
                "data-poll-guard": "",
            },
        },
    )
    return {"filterset": filterset, "page": page, "table": table, "sort": sort}


@agent_required
def queue(request):
    agents = list(queue_view.queue_agents(request.user))
    context = _table(request, count=True, agents=agents)
    context.update(
        bulk_agents=agents,
        bulk_teams=list(Team.objects.order_by("name")),
        priorities=Priority.choices,
        actions=bulk.ACTIONS,
        poll_seconds=POLL_SECONDS,
    )
    template = TEMPLATE
    if request.htmx and request.htmx.target == "queue-results":
        template = f"{TEMPLATE}#results"
    return render(request, template, context)


@agent_required
def queue_rows(request):
    return render(request, "tickets/queue/table.html#rows", {"table": _table(request, count=False)["table"]})


class BulkForm(forms.Form):
    """What a bulk action needs besides the selected rows (``ticket=<id>:<version>``, read separately)."""

    action = forms.ChoiceField(choices=list(bulk.ACTIONS.items()))
    agent = forms.ModelChoiceField(queryset=None, required=False, empty_label="Agent…", label="Assign to")
    team = forms.ModelChoiceField(queryset=None, required=False, empty_label="Team…", label="Transfer to")
    priority = forms.TypedChoiceField(
        choices=[("", "Priority…"), *Priority.choices],
        coerce=int,
        empty_value=None,
        required=False,
        label="Set priority to",
    )
    reason = forms.CharField(required=False, max_length=500, label="Reason (optional)")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = queue_view.queue_agents(user)
        self.fields["team"].queryset = Team.objects.order_by("name")


def _selection(values: list[str]) -> list[tuple[int, int | None]]:
    chosen = []
    for value in values:
        pk, _, version = value.partition(":")
        if pk.isdigit():
            chosen.append((int(pk), int(version) if version.isdigit() else None))
    return chosen


@require_POST
@agent_required
def bulk_action(request):
    back = request.POST.get("next", "")
    if not back.startswith(reverse("desk:queue")) or not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}
    ):
        back = reverse("desk:queue")
    form = BulkForm(request.POST, user=request.user)
    if not form.is_valid():
        errors = "; ".join(f"{form.fields[f].label or f}: {' '.join(e)}" for f, e in form.errors.items())
        messages.error(request, f"Nothing was changed: {errors}")
        return redirect(back)
    data = form.cleaned_data
    try:
        outcome = bulk.apply(
            actor=request.user,
            action=data["action"],
            selection=_selection(request.POST.getlist("ticket")),
            agent=data["agent"],
            team=data["team"],
            priority=data["priority"],
            reason=data["reason"],
        )
    except HelpdeskError as exc:
        refusal(request, exc)
        return redirect(back)
    level = (
        messages.SUCCESS if not outcome.refused else (messages.WARNING if outcome.done else messages.ERROR)
    )
    messages.add_message(request, level, outcome.summary())
    return redirect(back)


urlpatterns = [
    path("queue/", queue, name="queue"),
    path("queue/rows/", queue_rows, name="queue_rows"),
    path("queue/bulk/", bulk_action, name="queue_bulk"),
]
