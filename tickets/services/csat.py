"""CSAT surveys (DOMAIN.md, "Closure and feedback").

- :func:`schedule_survey` — at closure (inside ``transitions.close``'s transaction): a ``scheduled`` survey, and
  after commit a one-off django-q2 schedule that runs ``tickets.tasks.send_csat_survey`` once
  ``HELPDESK["CSAT_DELAY_MINUTES"]`` have passed. :func:`send_due` is the safety net for a lost schedule.
- :func:`send_survey` — the task's work: re-checks under the ticket's lock that the ticket is still closed and
  the survey still scheduled, then sends the signed link on the channel the customer last used.
- :func:`cancel_pending` — a reopen before the survey went out cancels it (an unanswered sent one too: the
  issue is back, and the next closure asks again).
- :func:`answer_survey` — the public page's POST: single use by a conditional ``UPDATE … WHERE state =
  'sent'``; a rating of 1–2 opens a follow-up for a senior agent of the team (:func:`route_follow_up`).

Why the follow-up is a task (``CsatFollowUp``) and not a new ticket: the customer reported no new issue,
so a ticket would count as volume, spoil first-contact resolution and the reopen rate, and run SLA clocks
nobody agreed to; the follow-up is still routed (to a senior of the team, least loaded first), visible on
the seniors' follow-up page and recorded on the ticket's history.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case as SqlCase
from django.db.models import Count, IntegerField, Q, Value, When
from django.utils import timezone

from tickets.errors import PermissionDenied, ValidationFailed
from tickets.lifecycle import Status
from tickets.models import Agent, CsatFollowUp, CsatSurvey, Ticket
from tickets.models.csat import NEGATIVE_RATINGS
from tickets.models.tickets import ResolutionType
from tickets.permissions import agent_of, is_admin, team_ids
from tickets.services import links
from tickets.services.events import record_event
from tickets.services.notifications import customer_route, notify

log = logging.getLogger(__name__)

SEND_TASK = "tickets.tasks.send_csat_survey"
NOTICE = "csat_survey"
PENDING = (CsatSurvey.State.SCHEDULED, CsatSurvey.State.SENT)
# Closures that are not an answer to the customer's issue: nobody to ask.
NOT_SURVEYED = (ResolutionType.SPAM, ResolutionType.DUPLICATE)


def delay() -> timedelta:
    return timedelta(minutes=float(settings.HELPDESK["CSAT_DELAY_MINUTES"]))


def _enqueue(survey_id: int, when) -> None:
    from django_q.models import Schedule
    from django_q.tasks import schedule

    # A one-off schedule (a database row) rather than a sleeping task: it survives restarts and holds no
    # worker for half an hour. The scheduler deletes it once it has run.
    schedule(
        SEND_TASK,
        survey_id,
        name=f"csat survey {survey_id}",
        schedule_type=Schedule.ONCE,
        repeats=-1,
        next_run=when,
    )


def schedule_survey(*, ticket: Ticket) -> CsatSurvey | None:
    """Called by ``transitions.close`` in its transaction, with the ticket locked (the close event records it)."""
    if ticket.resolution_type in NOT_SURVEYED:
        return None
    now = timezone.now()
    cancel_pending(ticket=ticket, why="closed again")
    survey = CsatSurvey.objects.create(
        ticket=ticket,
        team_id=ticket.team_id,
        agent_id=ticket.assignee_id,
        scheduled_for=now + delay(),
        created_at=now,
    )
    pk, when = survey.pk, survey.scheduled_for
    # robust: a broker hiccup must not fail the closing request after its commit; send_due picks it up.
    transaction.on_commit(lambda: _enqueue(pk, when), robust=True)
    return survey


def cancel_pending(*, ticket: Ticket, why: str = "the ticket was reopened") -> int:
    """Cancel the ticket's survey that has not gone out (or went out and is unanswered). Called inside the
    reopen (or close) transition, whose history entry records it."""
    return CsatSurvey.objects.filter(ticket=ticket, state__in=PENDING).update(
        state=CsatSurvey.State.CANCELLED, note=f"Cancelled: {why}."[:300]
    )


def _survey_text(ticket: Ticket, url: str) -> str:
    days = settings.HELPDESK["CSAT_LINK_DAYS"]
    return (
        f"How did we do with your request {ticket.number} ({ticket.subject})? "
        f"Rate us from 1 to 5 — it takes a few seconds: {url}\n"
        f"(The link works once, for {days} days.)"
    )


def send_survey(*, survey_id: int) -> str:
    """Send a scheduled survey whose time has come, if its ticket is still closed. Safe to run twice."""
    with transaction.atomic():
        survey = CsatSurvey.objects.filter(pk=survey_id).only("ticket_id").first()
        if survey is None:
            return "no such survey"
        # The ticket's lock first (the order reopen takes them in): a reopen and a send never interleave.
        ticket = (
            Ticket.objects.select_for_update(of=("self",)).select_related("customer").get(pk=survey.ticket_id)
        )
        survey = CsatSurvey.objects.select_for_update().get(pk=survey_id)
        if survey.state != CsatSurvey.State.SCHEDULED:
            return f"already {survey.state}"
        now = timezone.now()
        if survey.scheduled_for > now + timedelta(seconds=5):
            return "not due yet"
        if ticket.status != Status.CLOSED:
            # A reopen cancels it; this is the re-check for a reopen the cancel missed.
            survey.state, survey.note = CsatSurvey.State.CANCELLED, "Cancelled: the ticket is not closed."
            survey.save(update_fields=["state", "note"])
            return "cancelled"
        route = customer_route(ticket)
        if route is None:
            survey.state = CsatSurvey.State.UNSENDABLE
            survey.note = "No written channel to reach the customer on."
            survey.save(update_fields=["state", "note"])
            record_event(ticket=ticket, kind="csat_not_sent", reason=survey.note, data={"survey": survey.pk})
            return "unsendable"
        message = notify(
            ticket=ticket, kind=NOTICE, body=_survey_text(ticket, links.survey_url(survey.pk)), route=route
        )
        survey.state = CsatSurvey.State.SENT
        survey.channel = route.channel
        survey.sent_at = now
        survey.expires_at = now + links.lifetime(links.SURVEY)
        survey.message = message
        survey.save(update_fields=["state", "channel", "sent_at", "expires_at", "message"])
        record_event(
            ticket=ticket,
            kind="csat_sent",
            reason=f"Satisfaction survey sent on {message.get_channel_display()}.",
            data={"survey": survey.pk, "channel": route.channel, "message": message.pk},
            at=now,
        )
    return "sent"


def send_due(*, grace_minutes: int = 2, limit: int = 200) -> int:
    """The safety net: send scheduled surveys well past their time (their one-off schedule was lost)."""
    cutoff = timezone.now() - timedelta(minutes=grace_minutes)
    due = CsatSurvey.objects.filter(state=CsatSurvey.State.SCHEDULED, scheduled_for__lte=cutoff).order_by(
        "scheduled_for"
    )
    sent = 0
    for pk in due.values_list("pk", flat=True)[:limit]:
        try:
            sent += send_survey(survey_id=pk) == "sent"
        except Exception:  # noqa: BLE001 - one bad survey must not stop the sweep
            log.exception("CSAT survey %s could not be sent", pk)
    return sent


def survey_from_link(token: str) -> CsatSurvey:
    """The survey a link names, if it can still be answered; ``LinkProblem`` (forged, expired, used,
    closed) otherwise."""
    pk = links.read_token(links.SURVEY, token)
    survey = CsatSurvey.objects.select_related("ticket").filter(pk=pk).first()
    if survey is None:
        raise links.LinkProblem("forged")
    if survey.state == CsatSurvey.State.ANSWERED:
        raise links.LinkProblem("used")
    if survey.state != CsatSurvey.State.SENT:
        raise links.LinkProblem("closed")
    if survey.expires_at is not None and survey.expires_at <= timezone.now():
        raise links.LinkProblem("expired")
    return survey


def _rating(value) -> int:
    try:
        rating = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed("Choose a rating from 1 to 5.") from None
    if isinstance(value, bool) or not 1 <= rating <= 5:
        raise ValidationFailed("Choose a rating from 1 to 5.")
    return rating


@transaction.atomic
def answer_survey(*, token: str, rating, comment: str = "") -> CsatSurvey:
    """Record the customer's rating, once. A 1 or 2 opens a follow-up for a senior agent of the team."""
    rating = _rating(rating)
    comment = (comment or "").strip()[:5000]
    survey = survey_from_link(token)
    now = timezone.now()
    claimed = CsatSurvey.objects.filter(pk=survey.pk, state=CsatSurvey.State.SENT, expires_at__gt=now).update(
        state=CsatSurvey.State.ANSWERED, rating=rating, comment=comment, answered_at=now
    )
    if not claimed:
        raise links.LinkProblem("used")  # answered a moment ago in another request
    survey.refresh_from_db()
    record_event(
        ticket=survey.ticket,
        kind="csat_answered",
        to_value=f"{rating}/5",
        reason=f"The customer rated the support {rating} of 5" + (f": “{comment[:300]}”" if comment else "."),
        data={"survey": survey.pk, "rating": rating},
        at=now,
    )
    if rating in NEGATIVE_RATINGS:
        open_follow_up(survey=survey)
    return survey


def route_follow_up(team) -> tuple[Agent | None, str]:
    """The senior agent of the team to follow a negative rating up: online first, then the fewest open
    follow-ups, then the longest since their last assignment. None when the team has no active senior."""
    seniors = (
        Agent.objects.filter(teams=team, is_senior=True, user__is_active=True)
        .annotate(
            offline=SqlCase(
                When(presence=Agent.Presence.ONLINE, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
            open_follow_ups=Count(
                "csat_follow_ups", filter=Q(csat_follow_ups__state=CsatFollowUp.State.OPEN)
            ),
        )
        .select_related("user")
        .order_by("offline", "open_follow_ups", "last_assigned_at", "id")
    )
    chosen = seniors.first()
    if chosen is None:
        return None, f"{team} has no senior agent: the team's supervisors see it"
    where = "online" if chosen.presence == Agent.Presence.ONLINE else chosen.get_presence_display().lower()
    return chosen, f"senior agent of {team} ({where}, {chosen.open_follow_ups} open follow-up(s))"


def open_follow_up(*, survey: CsatSurvey) -> CsatFollowUp:
    ticket = survey.ticket
    team = survey.team or ticket.team
    agent, why = route_follow_up(team)
    follow_up, created = CsatFollowUp.objects.get_or_create(
        survey=survey,
        defaults={
            "ticket": ticket,
            "team": team,
            "assignee": agent,
            "routing_reason": why[:300],
            "created_at": timezone.now(),
        },
    )
    if created:
        record_event(
            ticket=ticket,
            kind="csat_follow_up",
            to_value=str(agent) if agent else "",
            reason=f"Rated {survey.rating}/5: follow-up for {agent or team} ({why}).",
            data={
                "follow_up": follow_up.pk,
                "survey": survey.pk,
                "agent": agent.pk if agent else None,
                "rating": survey.rating,
            },
        )
    return follow_up


def can_close_follow_up(user, follow_up: CsatFollowUp) -> bool:
    """Its senior agent, a supervisor of its team, or an admin."""
    if is_admin(user):
        return True
    me = agent_of(user)
    if me is None:
        return False
    return follow_up.assignee_id == me.pk or (me.is_supervisor and follow_up.team_id in team_ids(me))


@transaction.atomic
def close_follow_up(*, follow_up: CsatFollowUp, actor, outcome: str) -> CsatFollowUp:
    """The senior agent has spoken to the customer: done, with what came of it."""
    outcome = (outcome or "").strip()
    if not outcome:
        raise ValidationFailed("Say what came of the follow-up.")
    if not can_close_follow_up(actor, follow_up):
        raise PermissionDenied("Only its senior agent or a supervisor of the team may close this follow-up.")
    now = timezone.now()
    done = CsatFollowUp.objects.filter(pk=follow_up.pk, state=CsatFollowUp.State.OPEN).update(
        state=CsatFollowUp.State.DONE, done_at=now, done_by=agent_of(actor), outcome=outcome
    )
    if not done:
        raise ValidationFailed("This follow-up is already done.")
    follow_up.refresh_from_db()
    record_event(
        ticket=follow_up.ticket,
        actor=actor,
        kind="csat_follow_up_done",
        reason=outcome,
        data={"follow_up": follow_up.pk},
        at=now,
    )
    return follow_up
