"""django-filter filter sets of the agent workspace.

``QueueFilter``: the queue view's filters. With nothing chosen it shows the user's teams' active tickets
(new, assigned, open, pending) — the default filter the partial indexes of ``Ticket.Meta`` are built for.
The base queryset (``tickets.selectors.queue_view.queue_tickets``) holds only tickets the user may see.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q

from tickets.channels import Channel
from tickets.lifecycle import Status
from tickets.models import Tag, Ticket
from tickets.models.tickets import Priority, parse_number
from tickets.permissions import agent_of
from tickets.selectors.queue_view import ACTIVE, queue_agents, queue_team_ids, queue_teams
from tickets.selectors.sla_state import SlaState

ACTIVE_CHOICE = "active"
ALL_CHOICE = "all"
STATUS_CHOICES = [
    (ACTIVE_CHOICE, "Active (new, assigned, open, pending)"),
    *Status.choices,
    (ALL_CHOICE, "Any status"),
]
UNASSIGNED = "none"
ME = "me"


class QueueFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_text",
        label="Search",
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Subject, T-number or customer",
                "data-shortcut": "f",
                "data-shortcut-label": "Filter the queue by text",
                "data-shortcut-action": "focus",
            }
        ),
    )
    team = django_filters.ModelChoiceFilter(
        queryset=None, method="filter_team", empty_label="All my teams", label="Team"
    )
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES, method="filter_status", empty_label=None, label="Status"
    )
    priority = django_filters.ChoiceFilter(choices=Priority.choices, empty_label="Any priority")
    channel = django_filters.ChoiceFilter(choices=Channel.choices, empty_label="Any channel")
    sla = django_filters.ChoiceFilter(
        choices=SlaState.choices, field_name="sla_state", empty_label="Any SLA state", label="SLA"
    )
    tag = django_filters.ModelChoiceFilter(
        queryset=Tag.objects.all(),
        to_field_name="name",
        method="filter_tag",
        empty_label="Any tag",
        label="Tag",  # tickets have no field "tag" to name it after (django-filter says "[invalid name]")
    )
    assignee = django_filters.ChoiceFilter(
        choices=[], method="filter_assignee", empty_label="Anyone", label="Assignee"
    )

    class Meta:
        model = Ticket
        fields = ["q", "team", "status", "priority", "channel", "sla", "tag", "assignee"]

    def __init__(self, data=None, *args, user, agents=None, **kwargs):
        data = data.copy() if data is not None else {}
        if not data.get("status"):
            data["status"] = ACTIVE_CHOICE
        super().__init__(data, *args, **kwargs)
        self.user = user
        self.filters["team"].queryset = queue_teams(user)
        self.filters["assignee"].extra["choices"] = [
            (UNASSIGNED, "Unassigned"),
            *([(ME, "Me")] if agent_of(user) else []),
            *[(str(a.pk), str(a)) for a in (queue_agents(user) if agents is None else agents)],
        ]

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("team"):
            ids = queue_team_ids(self.user)
            if ids is not None:
                queryset = queryset.filter(team_id__in=ids)
        return queryset

    def filter_team(self, queryset, name, value):
        return queryset.filter(team=value) if value else queryset

    def filter_status(self, queryset, name, value):
        if value == ALL_CHOICE:
            return queryset
        if value == ACTIVE_CHOICE or not value:
            return queryset.filter(status__in=ACTIVE)
        return queryset.filter(status=value)

    def filter_tag(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(Exists(Ticket.tags.through.objects.filter(ticket=OuterRef("pk"), tag=value)))

    def filter_assignee(self, queryset, name, value):
        if value == UNASSIGNED:
            return queryset.filter(assignee__isnull=True)
        if value == ME:
            return queryset.filter(assignee=agent_of(self.user))
        if value:
            return queryset.filter(assignee_id=int(value))
        return queryset

    def filter_text(self, queryset, name, value):
        text = value.strip()
        if not text:
            return queryset
        match = (
            Q(subject__icontains=text)
            | Q(customer__unique_id__iexact=text)
            | Q(customer__name__icontains=text)
        )
        number = parse_number(text) or (int(text) if text.isdigit() else None)
        if number:
            match |= Q(pk=number)
        return queryset.filter(match)
