"""Forms of the agent workspace: they parse what an agent typed; the services decide what it means.

The ticket workspace's forms (``tickets/views/ticket.py``) each carry the ``version`` of the ticket the
agent saw, which the services compare (``expected_version``) so that a change made from a stale screen is
refused instead of overwriting someone else's.
"""

from __future__ import annotations

from django import forms

from tickets.models import Agent, Category, Tag, Team, Ticket
from tickets.models.tickets import Level, Priority, ResolutionType, parse_number
from tickets.permissions import visible_tickets
from tickets.selectors.agents import with_load

# Resolution types an agent picks; "duplicate" and "spam" are set by merge and mark spam.
AGENT_RESOLUTION_TYPES = [
    (v, label)
    for v, label in ResolutionType.choices
    if v not in (ResolutionType.DUPLICATE, ResolutionType.SPAM)
]


class TicketForm(forms.Form):
    """A form about one ticket, carrying the version of it the agent saw."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, ticket: Ticket, user=None, **kwargs):
        self.ticket = ticket
        self.user = user
        kwargs.setdefault("initial", {}).setdefault("version", ticket.version)
        super().__init__(*args, **kwargs)


def _reason(required=True, label="Reason", placeholder=""):
    return forms.CharField(
        label=label,
        required=required,
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": placeholder} if placeholder else {}),
    )


def _ticket_by_number(text: str, user) -> Ticket:
    text = (text or "").strip()
    pk = int(text) if text.isdigit() else parse_number(text)
    if not pk:
        raise forms.ValidationError("Type a ticket number such as T-000123.")
    found = visible_tickets(user).filter(pk=pk).select_related("customer").first()
    if found is None:
        raise forms.ValidationError(f"There is no ticket {text} that you can see.")
    return found


# Lifecycle actions -----------------------------------------------------------------------------------------


class OpenForm(TicketForm):
    pass


class TakeForm(TicketForm):
    pass


class PendForm(TicketForm):
    reason = _reason(placeholder="What is it waiting on?")


class ResolveForm(TicketForm):
    resolution_type = forms.ChoiceField(label="Resolution type", choices=AGENT_RESOLUTION_TYPES)
    notes = forms.CharField(
        label="Resolution notes", max_length=10000, widget=forms.Textarea(attrs={"rows": 3})
    )


class CloseForm(TicketForm):
    resolution_type = forms.ChoiceField(
        label="Resolution type", choices=[("", "—"), *AGENT_RESOLUTION_TYPES], required=False
    )
    notes = forms.CharField(
        label="Resolution notes", max_length=10000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        t = self.ticket
        # A resolved ticket already has its resolution; one closed straight from open needs it now.
        self.fields["resolution_type"].required = not t.resolution_type
        self.fields["notes"].required = not t.resolution_notes
        self.fields["resolution_type"].initial = t.resolution_type
        self.fields["notes"].initial = t.resolution_notes


class ReopenForm(TicketForm):
    reason = _reason(placeholder="Why is it not done?")


class EscalateForm(TicketForm):
    reason = _reason(placeholder="Why does it need someone else?")
    to_team = forms.ModelChoiceField(label="To", queryset=Team.objects.none(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["to_team"]
        field.queryset = (
            Team.objects.filter(kind=Team.Kind.BACK).exclude(pk=self.ticket.team_id).order_by("name")
        )
        field.empty_label = f"the supervisors of {self.ticket.team}"


class TransferForm(TicketForm):
    team = forms.ModelChoiceField(label="To team", queryset=Team.objects.none())
    reason = _reason(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.exclude(pk=self.ticket.team_id).order_by("name")


class AgentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, agent):
        return (
            f"{agent} ({agent.load}/{agent.max_active_assignments}, {agent.get_presence_display().lower()})"
        )


class ReassignForm(TicketForm):
    agent = AgentChoiceField(label="To agent", queryset=Agent.objects.none())
    reason = _reason()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The agents of the ticket's team who can own it, with their load against their limit.
        self.fields["agent"].queryset = with_load(
            Agent.objects.filter(teams=self.ticket.team_id, user__is_active=True)
            .exclude(role=Agent.Role.ADMIN)
            .exclude(pk=self.ticket.assignee_id or 0)
            .select_related("user")
            .order_by("user__username")
        )


class MergeForm(TicketForm):
    into = forms.CharField(
        label="Into ticket", max_length=20, widget=forms.TextInput(attrs={"placeholder": "T-000123"})
    )
    reason = _reason(required=False)

    def clean_into(self):
        target = _ticket_by_number(self.cleaned_data["into"], self.user)
        if target.pk == self.ticket.pk:
            raise forms.ValidationError("A ticket cannot be merged into itself.")
        return target


class SpamForm(TicketForm):
    reason = _reason(required=False)


ACTION_FORMS: dict[str, type[TicketForm]] = {
    "assign": TakeForm,
    "open": OpenForm,
    "pend": PendForm,
    "resolve": ResolveForm,
    "close": CloseForm,
    "reopen": ReopenForm,
    "escalate": EscalateForm,
    "transfer": TransferForm,
    "reassign": ReassignForm,
    "merge": MergeForm,
    "mark_spam": SpamForm,
}


# Writing ---------------------------------------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files under one name (``<input type=file multiple>``); a list, maybe empty."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        one = super().clean
        if isinstance(data, (list, tuple)):
            return [one(d, initial) for d in data if d]
        return [one(data, initial)] if data else []


class ReplyForm(TicketForm):
    channel = forms.ChoiceField(label="Send by", choices=())
    body = forms.CharField(
        label="Reply to the customer", max_length=20000, widget=forms.Textarea(attrs={"rows": 5})
    )
    attachments = MultipleFileField(label="Attachments (e-mail only)", required=False)

    def __init__(self, *args, channels=(), default_channel="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = list(channels)
        self.fields["channel"].initial = default_channel


class NoteForm(TicketForm):
    # A note adds to the ticket without changing it: it never conflicts, so it carries no version.
    version = None
    body = forms.CharField(
        label="Internal note (agents only)", max_length=20000, widget=forms.Textarea(attrs={"rows": 3})
    )


# Inline edits ----------------------------------------------------------------------------------------------


class PriorityForm(TicketForm):
    priority = forms.TypedChoiceField(label="Priority", choices=Priority.choices, coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["priority"].initial = self.ticket.priority


class ImpactUrgencyForm(TicketForm):
    """Impact × urgency: the priority follows from the matrix (``tickets.services.priority``)."""

    impact = forms.TypedChoiceField(label="Impact", choices=Level.choices, coerce=int)
    urgency = forms.TypedChoiceField(label="Urgency", choices=Level.choices, coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["impact"].initial = self.ticket.impact
        self.fields["urgency"].initial = self.ticket.urgency


class CategoryForm(TicketForm):
    category = forms.ModelChoiceField(
        label="Category", queryset=Category.objects.order_by("name"), required=False, empty_label="none"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].initial = self.ticket.category_id


class TagsForm(TicketForm):
    tags = forms.ModelMultipleChoiceField(
        label="Tags",
        queryset=Tag.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, current_tags=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tags"].initial = [t.pk for t in current_tags]


EDIT_FORMS: dict[str, type[TicketForm]] = {
    "priority": PriorityForm,
    "impact": ImpactUrgencyForm,
    "category": CategoryForm,
    "tags": TagsForm,
}


# Relink and split ------------------------------------------------------------------------------------------


class RelinkForm(TicketForm):
    to_ticket = forms.CharField(
        label="Relink to ticket", max_length=20, widget=forms.TextInput(attrs={"placeholder": "T-000123"})
    )
    reason = _reason(required=False)

    def clean_to_ticket(self):
        target = _ticket_by_number(self.cleaned_data["to_ticket"], self.user)
        if target.pk == self.ticket.pk:
            raise forms.ValidationError("That interaction is already linked to this ticket.")
        return target


class SplitForm(TicketForm):
    subject = forms.CharField(label="Subject of the new ticket", max_length=300, required=False)
    reason = _reason(required=False)
