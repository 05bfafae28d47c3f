"""``follow-ups/``: negative CSAT ratings waiting for a senior agent (tickets.services.csat)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from tickets.errors import HelpdeskError
from tickets.models import CsatFollowUp
from tickets.selectors.follow_ups import follow_up_list, visible_follow_ups
from tickets.services import csat
from tickets.views.base import agent_required, refusal

TEMPLATE = "tickets/follow_ups/page.html"


class OutcomeForm(forms.Form):
    outcome = forms.CharField(
        label="What came of it", max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )


@agent_required
def follow_ups(request):
    state = CsatFollowUp.State.DONE if request.GET.get("state") == "done" else CsatFollowUp.State.OPEN
    context = {"follow_ups": follow_up_list(request.user, state=state), "state": state, "form": OutcomeForm()}
    return render(request, TEMPLATE, context)


@require_POST
@agent_required
def follow_up_done(request, pk: int):
    follow_up = visible_follow_ups(request.user).select_related("ticket").filter(pk=pk).first()
    if follow_up is None:
        raise Http404("No such follow-up among yours.")
    form = OutcomeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say what came of the follow-up.")
        return redirect("desk:follow_ups")
    try:
        csat.close_follow_up(follow_up=follow_up, actor=request.user, outcome=form.cleaned_data["outcome"])
    except HelpdeskError as exc:
        refusal(request, exc)
    else:
        messages.success(request, f"Follow-up of {follow_up.ticket.number} done.")
    return redirect("desk:follow_ups")


urlpatterns = [
    path("follow-ups/", follow_ups, name="follow_ups"),
    path("follow-ups/<int:pk>/done/", follow_up_done, name="follow_up_done"),
]
