"""What a new installation needs to take its first message: a team, reference kinds, SLA targets."""

from django.db import migrations

REFERENCE_KINDS = [
    ("order", "Order ID", r"ORD-\d+"),
    ("account", "Account ID", r"ACC-\d+"),
]
# priority: (first response, resolution) minutes
SLA_TARGETS = {1: (30, 240), 2: (60, 480), 3: (240, 1440), 4: (480, 4320)}


def forwards(apps, schema_editor):
    Team = apps.get_model("tickets", "Team")
    ReferenceKind = apps.get_model("tickets", "ReferenceKind")
    SlaPolicy = apps.get_model("tickets", "SlaPolicy")
    Team.objects.get_or_create(slug="front-office", defaults={"name": "Front office", "kind": "front"})
    for code, name, pattern in REFERENCE_KINDS:
        ReferenceKind.objects.get_or_create(code=code, defaults={"name": name, "pattern": pattern})
    for priority, (first, resolution) in SLA_TARGETS.items():
        SlaPolicy.objects.get_or_create(
            priority=priority,
            team=None,
            defaults={"first_response_minutes": first, "resolution_minutes": resolution},
        )


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
