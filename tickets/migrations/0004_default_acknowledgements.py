"""Acknowledgement templates for every written channel, so a new installation answers at once."""

from django.db import migrations

TEMPLATES = {
    "email": "Hello {customer_name},\n\nThank you for contacting us. We have received your message and opened "
    "ticket {ticket_number}. Reply to this e-mail to add anything; keep the ticket number in the subject.\n",
    "whatsapp": "Thanks for your message! Your ticket number is {ticket_number}. An agent will reply here.",
    "sms": "We got your message. Ticket {ticket_number}. An agent will reply soon.",
    "social": "Thanks for your message! Your ticket number is {ticket_number}. An agent will reply here.",
    "chat": "Thanks! Your ticket number is {ticket_number}. An agent will join shortly.",
}


def forwards(apps, schema_editor):
    Acknowledgement = apps.get_model("tickets", "Acknowledgement")
    for channel, body in TEMPLATES.items():
        Acknowledgement.objects.get_or_create(channel=channel, defaults={"body": body})


class Migration(migrations.Migration):
    dependencies = [("tickets", "0003_acknowledgement")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
