import json

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

from tickets.models import Customer
from tickets.services import audit
from tickets.services.privacy import export_customer


class Command(BaseCommand):
    help = (
        "Export everything the help desk holds about one customer (identities, references, interactions, messages, "
        "tickets, cases, surveys, who viewed them) as JSON, to standard output or --output FILE. Audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("unique_id", help="the customer's unique ID")
        parser.add_argument("--output", "-o", help="write to this file instead of standard output")

    def handle(self, *args, unique_id: str, output: str | None = None, **opts):
        try:
            customer = Customer.objects.get(unique_id=unique_id)
        except Customer.DoesNotExist:
            raise CommandError(f"No customer with the unique ID {unique_id!r}.") from None
        data = export_customer(customer=customer, actor_label=audit.command_label("export_customer"))
        text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
            self.stderr.write(f"Wrote {output}.")
        else:
            self.stdout.write(text)
