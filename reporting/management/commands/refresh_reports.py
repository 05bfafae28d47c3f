from django.core.management.base import BaseCommand

from reporting.rollup import refresh_ticket_facts


class Command(BaseCommand):
    help = "Bring the reports' ticket facts up to date (the schedule does this every minute)."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="recompute every ticket's facts")

    def handle(self, *args, full=False, **options):
        done = refresh_ticket_facts(full=full)
        self.stdout.write(f"recomputed the facts of {done} ticket{'s' if done != 1 else ''}")
