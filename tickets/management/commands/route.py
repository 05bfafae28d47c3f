from django.core.management.base import BaseCommand

from tickets.services.routing import distribute_all


class Command(BaseCommand):
    help = "Run one distribution pass over every team's queue and print what was assigned, and why."

    def handle(self, *args, **opts):
        total = 0
        for team, assignments in distribute_all().items():
            for a in assignments:
                self.stdout.write(f"{team}: {a.ticket} → {a.agent} ({a.reason})")
            total += len(assignments)
        self.stdout.write(f"{total} ticket(s) assigned")
