"""The pages behind the signed links we send customers (``tickets.services.links``): their ticket's status,
"is it fixed?", and the CSAT survey. No account, no JavaScript needed, rate-limited per client address like
the other /support/ pages.

A link that is forged, expired, already used or no longer open gets a page that says which, and nothing is
recorded. A GET never changes anything (mail scanners open links): answers are POSTed from the page.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from channels_intake.portal.limits import hit
from tickets.errors import InvalidTransition, ValidationFailed
from tickets.selectors.status_page import status_page
from tickets.services import csat, links, verification
from tickets.services.links import LinkProblem

PROBLEM = "support/link_problem.html"
STATUS_PAGE = "support/status.html"
VERIFY = "support/verify.html"
VERIFY_DONE = "support/verify_done.html"
SURVEY = "support/survey.html"
SURVEY_DONE = "support/survey_done.html"
# Forged: 400; expired, used or no longer open: 410 Gone.
PROBLEM_STATUS = {"forged": 400, "expired": 410, "used": 410, "closed": 410}


class VerifyForm(forms.Form):
    answer = forms.ChoiceField(choices=[("fixed", "It is fixed"), ("not_fixed", "It is not fixed")])
    words = forms.CharField(
        label="What is still not working? (optional)", required=False, max_length=5000, widget=forms.Textarea
    )


class SurveyForm(forms.Form):
    rating = forms.TypedChoiceField(
        label="How satisfied are you with the help you got?",
        choices=[(n, str(n)) for n in range(5, 0, -1)],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a rating from 1 to 5.",
            "invalid_choice": "Choose a rating from 1 to 5.",
        },
    )
    comment = forms.CharField(
        label="Anything you want to tell us? (optional)",
        required=False,
        max_length=5000,
        widget=forms.Textarea,
    )


def _problem(request, problem: LinkProblem):
    return render(request, PROBLEM, {"problem": problem.kind}, status=PROBLEM_STATUS.get(problem.kind, 400))


def _limited(request):
    limited = hit(request, action="link", rate=settings.HELPDESK["SUPPORT_LINK_RATE"])
    if limited:
        return render(request, PROBLEM, {"problem": "limited", "limited": limited}, status=429)
    return None


@require_GET
def ticket_status(request, token: str):
    if (over := _limited(request)) is not None:
        return over
    try:
        page = status_page(links.read_token(links.STATUS, token))
    except LinkProblem as problem:
        return _problem(request, problem)
    if page is None:
        return _problem(request, LinkProblem("forged"))
    return render(request, STATUS_PAGE, {"page": page, "token": token})


@require_http_methods(["GET", "POST"])
def verify(request, token: str):
    if (over := _limited(request)) is not None:
        return over
    try:
        question = verification.verification_from_link(token)
    except LinkProblem as problem:
        return _problem(request, problem)
    context = {"ticket": question.ticket, "status_token": links.make_token(links.STATUS, question.ticket_id)}
    if request.method != "POST":
        return render(request, VERIFY, {**context, "form": VerifyForm()})
    form = VerifyForm(request.POST)
    if not form.is_valid():
        return render(request, VERIFY, {**context, "form": form}, status=422)
    fixed = form.cleaned_data["answer"] == "fixed"
    try:
        verification.answer_by_link(token=token, fixed=fixed, words=form.cleaned_data["words"])
    except LinkProblem as problem:
        return _problem(request, problem)
    except InvalidTransition:
        return _problem(request, LinkProblem("closed"))
    return render(request, VERIFY_DONE, {**context, "fixed": fixed})


@require_http_methods(["GET", "POST"])
def survey(request, token: str):
    if (over := _limited(request)) is not None:
        return over
    try:
        found = csat.survey_from_link(token)
    except LinkProblem as problem:
        return _problem(request, problem)
    context = {"ticket": found.ticket}
    if request.method != "POST":
        return render(request, SURVEY, {**context, "form": SurveyForm()})
    form = SurveyForm(request.POST)
    if not form.is_valid():
        return render(request, SURVEY, {**context, "form": form}, status=422)
    try:
        answered = csat.answer_survey(
            token=token, rating=form.cleaned_data["rating"], comment=form.cleaned_data["comment"]
        )
    except LinkProblem as problem:
        return _problem(request, problem)
    except ValidationFailed as exc:
        form.add_error("rating", str(exc))
        return render(request, SURVEY, {**context, "form": form}, status=422)
    return render(request, SURVEY_DONE, {**context, "survey": answered})
