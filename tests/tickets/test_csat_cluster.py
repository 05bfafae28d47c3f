"""The CSAT chain with a real django-q2 cluster (forked workers, the ORM broker): close → the survey's one-off
schedule comes due at the delay (shortened by settings) → a worker sends it on the customer's channel → the
link → rating 2 → a senior agent of the team has the follow-up."""

import re
import time

import pytest
from django.core.cache import cache
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.cluster import Cluster
from django_q.models import Schedule
from django_q.scheduler import scheduler

from tests.factories import AgentFactory
from tickets.intake import InboundMessage, receive
from tickets.models import CsatFollowUp, CsatSurvey, Message, Team, Ticket, TicketEvent
from tickets.services import transitions

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

DELAY_SECONDS = 3


def wait_for(predicate, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_close_survey_at_the_delay_link_rating_2_senior_follow_up(client, settings):
    settings.HELPDESK = {**settings.HELPDESK, "CSAT_DELAY_MINUTES": DELAY_SECONDS / 60}
    cache.clear()
    team = Team.objects.get(slug="front-office")
    owner = AgentFactory(user__username="olive", teams=[team])
    senior = AgentFactory(user__username="sasha", teams=[team], is_senior=True, presence="away")
    result = receive(
        InboundMessage(
            channel="whatsapp", sender="+447700900321", text="No signal", provider_message_id="wamid.C1"
        )
    )
    ticket = Ticket.objects.get(pk=int(result.ticket[2:]))
    transitions.assign(ticket=ticket, actor=None, agent=owner)
    transitions.open_ticket(ticket=ticket, actor=owner.user)
    closed_at = timezone.now()
    transitions.close(ticket=ticket, actor=owner.user, resolution_type="fixed", notes="Mast repaired")

    survey = CsatSurvey.objects.get(ticket=ticket)
    assert survey.state == "scheduled"
    # Enqueued after commit as a one-off django-q2 schedule at the delay.
    one_off = Schedule.objects.get(name=f"csat survey {survey.pk}")
    assert one_off.func == "tickets.tasks.send_csat_survey" and one_off.next_run == survey.scheduled_for

    broker = get_broker()
    cluster = Cluster(broker)
    cluster.start()
    try:
        # The closure notice leaves on WhatsApp, the channel the customer used.
        closure = Message.objects.get(interaction__case__ticket=ticket, meta__kind="closure")
        assert closure.channel == "whatsapp"
        assert wait_for(lambda: Message.objects.get(pk=closure.pk).delivery_status != "queued")

        # Before the delay the scheduler leaves it alone.
        scheduler(broker=broker)
        time.sleep(1)
        assert CsatSurvey.objects.get(pk=survey.pk).state == "scheduled"

        # At the delay it is handed to a worker (the cluster's own scheduler runs every ~30 s: call it).
        time.sleep(max(0.0, (survey.scheduled_for - timezone.now()).total_seconds()) + 0.2)
        scheduler(broker=broker)
        assert wait_for(lambda: CsatSurvey.objects.get(pk=survey.pk).state == "sent")
    finally:
        cluster.stop()

    survey.refresh_from_db()
    assert survey.channel == "whatsapp"
    assert (survey.sent_at - closed_at).total_seconds() >= DELAY_SECONDS
    link = re.search(r"/support/survey/[^/\s]+/", survey.message.body).group(0)

    assert client.get(link).status_code == 200
    answered = client.post(link, {"rating": "2", "comment": "Two days without signal"})
    assert answered.status_code == 200

    follow_up = CsatFollowUp.objects.get(ticket=ticket)
    assert (follow_up.assignee, follow_up.state) == (senior, "open")
    assert senior.csat_follow_ups.filter(state="open").count() == 1
    history = TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True)
    assert {"close", "csat_sent", "csat_answered", "csat_follow_up"} <= set(history)
