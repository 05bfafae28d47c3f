import json

from django.core.management.base import BaseCommand, CommandError

from channels_intake.adapters import cli
from channels_intake.models import InboundEvent
from channels_intake.services import accept
from tickets.channels import Channel
from tickets.errors import HelpdeskError
from tickets.intake import check


class Command(BaseCommand):
    help = "Feed one customer message into the intake pipeline and print the result as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--channel", required=True, choices=Channel.values)
        parser.add_argument(
            "--from", dest="sender", required=True, help="phone number, e-mail address, handle…"
        )
        parser.add_argument("--text", required=True)
        parser.add_argument("--customer-id", default="", help="the customer's unique ID, if known")
        parser.add_argument("--reference", default="", help="order or account ID")
        parser.add_argument("--subject", default="")
        parser.add_argument(
            "--message-id", default="", help="the provider's message ID (redelivery is a no-op)"
        )
        parser.add_argument("--name", default="", help="the sender's name")

    def handle(self, *args, **opts):
        payload = {
            "channel": opts["channel"],
            "sender": opts["sender"],
            "text": opts["text"],
            "customer_unique_id": opts["customer_id"],
            "reference": opts["reference"],
            "subject": opts["subject"],
            "provider_message_id": opts["message_id"],
            "sender_name": opts["name"],
        }
        # Bad arguments are refused before anything is stored.
        try:
            for message in cli.parse(InboundEvent(payload=json.dumps(payload).encode())):
                check(message)
        except HelpdeskError as exc:
            raise CommandError(str(exc)) from None
        event = accept(source=cli.SOURCE, channel=opts["channel"], payload=json.dumps(payload))
        if event.status == InboundEvent.Status.FAILED:
            raise CommandError(f"{event.error} (kept as inbound event {event.pk})")
        result = event.result["messages"][0]
        result.pop("conflicts", None)
        self.stdout.write(json.dumps(result))
