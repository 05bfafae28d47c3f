"""An acknowledgement template for the web form: a new web-form ticket is acknowledged by e-mail, to the address
the customer typed, like a new e-mail ticket (editable in the admin like the others)."""

from django.db import migrations

BODY = (
    "Hello {customer_name},\n\nThank you for contacting us through our website. We have received your message "
    "and opened ticket {ticket_number}. We will answer you by e-mail; reply to our e-mails to add anything, and "
    "keep the ticket number in the subject.\n"
)


def forwards(apps, schema_editor):
    Acknowledgement = apps.get_model("tickets", "Acknowledgement")
    Acknowledgement.objects.get_or_create(channel="web", defaults={"body": BODY})


class Migration(migrations.Migration):
    dependencies = [("tickets", "0017_ticket_updated_index")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
