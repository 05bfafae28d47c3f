from django.core.management.base import BaseCommand, CommandError

from tickets.models import Customer
from tickets.services import audit
from tickets.services.privacy import erase_customer


class Command(BaseCommand):
    help = (
        "Erase one customer: anonymise their name, identities, references, messages (attachments deleted), ticket "
        "subjects and notes, keeping tickets, interactions, channels, statuses and times so reports stay the same. "
        "Cannot be undone: needs --yes. Running it again changes nothing. Audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("unique_id", help="the customer's unique ID")
        parser.add_argument("--yes", action="store_true", help="really erase (there is no undo)")

    def handle(self, *args, unique_id: str, yes: bool = False, **opts):
        try:
            customer = Customer.objects.get(unique_id=unique_id)
        except Customer.DoesNotExist:
            raise CommandError(f"No customer with the unique ID {unique_id!r}.") from None
        if not yes:
            raise CommandError(
                f"Erasing {unique_id} cannot be undone. Export first if you need to (manage.py export_customer "
                f"{unique_id}), then run again with --yes."
            )
        report = erase_customer(customer=customer, actor_label=audit.command_label("erase_customer"))
        self.stdout.write(self.style.SUCCESS(report.summary()))
