from django.core.management.base import BaseCommand
from django_q.models import Schedule

from helpdesk.schedules import SCHEDULES


class Command(BaseCommand):
    help = "Make django-q2's schedules match helpdesk/schedules.py (idempotent)."

    def handle(self, *args, **opts):
        wanted = {s["name"]: s for s in SCHEDULES}
        for name, spec in wanted.items():
            fields = {k: v for k, v in spec.items() if k != "name"}
            schedule, created = Schedule.objects.update_or_create(name=name, defaults=fields)
            self.stdout.write(f"{'created' if created else 'updated'}: {name}")
        ours = {s["func"].split(".")[0] for s in SCHEDULES} | {"tickets", "channels_intake", "reporting"}
        stale = Schedule.objects.exclude(name__in=wanted).filter(
            func__regex=r"^(" + "|".join(sorted(ours)) + r")\."
        )
        for schedule in stale:
            self.stdout.write(f"removed: {schedule.name}")
            schedule.delete()
