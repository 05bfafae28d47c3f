from django.core.management.base import BaseCommand

from reporting.rollup import rebuild_all_summaries, refresh_ticket_facts


class Command(BaseCommand):
    help = "Bring the reports' ticket facts up to date (the schedule does this every minute)."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="recompute every ticket's facts")
        parser.add_argument(
            "--summaries",
            action="store_true",
            help="only recount every summary row from the facts as they are (after a new summary is deployed)",
        )

    def handle(self, *args, full=False, summaries=False, **options):
        if summaries:
            rebuild_all_summaries()
            self.stdout.write("recounted the summary rows")
            return
        done = refresh_ticket_facts(full=full)
        self.stdout.write(f"recomputed the facts of {done} ticket{'s' if done != 1 else ''}")
