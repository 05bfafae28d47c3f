"""``calls/new/``: a front-office agent logs a phone call; it becomes a voice interaction through the intake
pipeline (``tickets.services.calls``) and the agent lands on the ticket it was linked to.
``calls/lookup/``: the HTMX look-up that shows who the caller is as the agent types."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone

from tickets.errors import HelpdeskError
from tickets.models import Ticket
from tickets.models.tickets import parse_number
from tickets.permissions import can_view
from tickets.services.calls import DIRECTIONS, INBOUND, CallRecord, can_log_calls, find_caller, log_call
from tickets.views.base import agent_required
from tickets.views.my_work import ticket_url

TEMPLATE = "tickets/calls/new.html"


class CallForm(forms.Form):
    phone = forms.CharField(
        label="Phone number",
        required=False,
        max_length=40,
        help_text="The customer's number: the caller's on an inbound call, the one we rang on an outbound one.",
        widget=forms.TextInput(attrs={"type": "tel"}),
    )
    customer_id = forms.CharField(label="Unique ID", required=False, max_length=64)
    reference = forms.CharField(label="Order or account reference", required=False, max_length=100)
    caller_name = forms.CharField(
        label="Caller's name", required=False, max_length=200, help_text="Names a new customer."
    )
    direction = forms.ChoiceField(choices=list(DIRECTIONS.items()), initial=INBOUND, widget=forms.RadioSelect)
    started_at = forms.DateTimeField(
        label="Started at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    duration_minutes = forms.IntegerField(label="Duration (minutes)", min_value=0, max_value=720, initial=0)
    summary = forms.CharField(
        label="Summary",
        required=False,
        max_length=200,
        help_text="A few words; a new ticket is called this (else the notes' first line).",
    )
    notes = forms.CharField(label="Notes", max_length=20000, widget=forms.Textarea(attrs={"rows": 6}))
    call_id = forms.CharField(widget=forms.HiddenInput, max_length=64)

    LOOKUP = ("phone", "customer_id", "reference")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.LOOKUP:
            # Typing in any of them asks the server who the caller is (the card beside the form).
            self.fields[name].widget.attrs.update(
                {
                    "autocomplete": "off",
                    "hx-get": reverse("desk:call_lookup"),
                    "hx-trigger": "input changed delay:400ms, change",
                    "hx-target": "#caller-match",
                    "hx-swap": "outerHTML",
                    "hx-include": ", ".join(f"#id_{n}" for n in self.LOOKUP),
                    # One look-up at a time, the latest waiting its turn: "replace" aborted the one under
                    # way whenever the agent typed on or left the field, and htmx logs each abort as an error.
                    "hx-sync": "closest form:queue last",
                }
            )

    def lookup_fields(self):
        return [self[name] for name in self.LOOKUP]

    def record(self) -> CallRecord:
        d = self.cleaned_data
        return CallRecord(
            call_id=d["call_id"],
            direction=d["direction"],
            started_at=d["started_at"],
            duration_seconds=d["duration_minutes"] * 60,
            notes=d["notes"],
            phone=d["phone"],
            customer_unique_id=d["customer_id"],
            reference=d["reference"],
            caller_name=d["caller_name"],
            summary=d["summary"],
        )


def _callers_only(request):
    if not can_log_calls(request.user):
        raise PermissionDenied(
            "Calls are logged by the front office and supervisors; the back office has no direct customer contact."
        )


def _lookup_args(data) -> dict:
    return {
        "phone": data.get("phone", "")[:40],
        "unique_id": data.get("customer_id", "")[:64],
        "reference": data.get("reference", "")[:100],
    }


@agent_required
def new_call(request):
    _callers_only(request)
    if request.method == "POST":
        form = CallForm(request.POST)
        if form.is_valid():
            try:
                result = log_call(actor=request.user, record=form.record())
            except HelpdeskError as exc:
                form.add_error(None, str(exc))
            else:
                return _landing(request, result)
        status = 400
    else:
        now = timezone.localtime().replace(second=0, microsecond=0)
        form = CallForm(
            initial={
                # A fresh call ID per form shown: the same form sent twice is one call.
                "call_id": uuid.uuid4().hex,
                "started_at": now,
                "phone": request.GET.get("phone", "")[:40],
                "customer_id": request.GET.get("customer_id", "")[:64],
                "reference": request.GET.get("reference", "")[:100],
            }
        )
        status = 200
    match = find_caller(**_lookup_args(form.data if form.is_bound else form.initial), user=request.user)
    return render(request, TEMPLATE, {"form": form, "match": match}, status=status)


def _landing(request, result):
    """Go to the ticket the call was linked to; say so if it is a resubmission or out of the agent's sight."""
    pk = parse_number(result.ticket or "")
    ticket = Ticket.objects.filter(pk=pk).select_related("team", "customer").first() if pk else None
    if result.duplicate:
        messages.info(request, f"This call was already logged on {result.ticket}; nothing was added.")
    elif ticket is not None:
        new = "a new ticket, " if result.new_ticket else ""
        messages.success(request, f"Call logged on {new}{ticket.number}: {ticket.subject}")
    if ticket is not None and can_view(request.user, ticket):
        url = ticket_url(ticket.pk)
        if url:
            return redirect(url)
        return redirect("desk:customer", ticket.customer.unique_id)
    if ticket is not None:
        messages.info(request, f"{ticket.number} is in {ticket.team.name}, whose tickets you do not see.")
    return redirect(reverse("desk:log_call"))


@agent_required
def lookup(request):
    """The caller card (HTMX): who this is, what the call will most likely link to, what is wrong."""
    _callers_only(request)
    match = find_caller(**_lookup_args(request.GET), user=request.user)
    return render(request, f"{TEMPLATE}#caller", {"match": match})


urlpatterns = [
    path("calls/new/", new_call, name="log_call"),
    path("calls/lookup/", lookup, name="call_lookup"),
]
