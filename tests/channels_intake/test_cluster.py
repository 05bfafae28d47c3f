"""The backlog sweep run by a real django-q2 cluster (forked workers, the ORM broker), not sync mode."""

import json

import pytest
from django_q.brokers import get_broker
from django_q.cluster import Cluster
from django_q.tasks import async_task, result

from channels_intake.models import InboundEvent
from channels_intake.services import record_event
from tickets.models import Message

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def test_cluster_processes_the_inbound_backlog():
    event = record_event(
        source="cli",
        channel="whatsapp",
        payload=json.dumps(
            {"channel": "whatsapp", "sender": "447700900123", "text": "Hi", "provider_message_id": "wamid.Q"}
        ),
    )
    InboundEvent.objects.filter(pk=event.pk).update(received_at=event.received_at.replace(year=2020))
    broker = get_broker()
    cluster = Cluster(broker)
    cluster.start()
    try:
        task_id = async_task("channels_intake.tasks.process_backlog", broker=broker)
        assert result(task_id, wait=30_000) == 1
    finally:
        cluster.stop()
    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PROCESSED
    assert Message.objects.filter(provider_message_id="wamid.Q").count() == 1
