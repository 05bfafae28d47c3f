from django.core.management.base import BaseCommand, CommandError

from tickets.services.imports import import_customers


class Command(BaseCommand):
    help = (
        "Import customers from a CRM CSV: unique_id,name,tier,email,phone,whatsapp,references (idempotent)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to the CSV file")

    def handle(self, *args, file, **opts):
        try:
            with open(file, "rb") as handle:
                report = import_customers(file=handle)
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        if not report.ok:
            raise CommandError(report.summary())
        self.stdout.write(report.summary())
