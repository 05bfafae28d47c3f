from django.core.management.base import BaseCommand, CommandError

from channels_intake.models import InboundEvent
from channels_intake.services import process_event


class Command(BaseCommand):
    help = (
        "Run stored inbound events through the pipeline again (all failed and unprocessed ones by default). "
        "Held events (a sender over the intake limit) are released only with --held or by ID, oldest first."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "ids", nargs="*", type=int, help="event IDs (default: every failed or received one)"
        )
        parser.add_argument("--source", default="", help="only events from this adapter")
        parser.add_argument(
            "--held", action="store_true", help="also release held events, whatever their senders' limits"
        )

    def handle(self, *args, ids, source, held, **opts):
        events = InboundEvent.objects.order_by("received_at", "id")
        if ids:
            events = events.filter(pk__in=ids)
            missing = set(ids) - set(events.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"no inbound events with IDs {sorted(missing)}")
        else:
            wanted = [InboundEvent.Status.FAILED, InboundEvent.Status.RECEIVED]
            events = events.filter(status__in=[*wanted, InboundEvent.Status.HELD] if held else wanted)
        if source:
            events = events.filter(source=source)
        failed = 0
        for event in events.iterator():
            # An operator names held events (by ID or --held) to release them: no limit applies.
            event = process_event(event, enforce_limits=event.status != InboundEvent.Status.HELD)
            self.stdout.write(f"event {event.pk}: {event.status}{' - ' + event.error if event.error else ''}")
            failed += event.status == InboundEvent.Status.FAILED
        if failed:
            raise CommandError(f"{failed} event(s) still fail")
