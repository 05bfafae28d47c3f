from django.core.management.base import BaseCommand, CommandError

from tickets.services import audit
from tickets.services.imports import COLUMNS, import_customers


class Command(BaseCommand):
    help = (
        f"Import customers from a CRM CSV with the columns {','.join(COLUMNS)} (references separated by ;). "
        "Every row is checked first: on any error nothing is imported and the errors are listed by row. "
        "Running the same file twice changes nothing the second time."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to the CSV file (UTF-8)")

    def handle(self, *args, file: str, **opts):
        try:
            with open(file, "rb") as handle:
                report = import_customers(file=handle, actor_label=audit.command_label("import_customers"))
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from None
        if not report.ok:
            raise CommandError(report.summary())
        self.stdout.write(self.style.SUCCESS(report.summary()))
