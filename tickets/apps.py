from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = "Help desk"

    def ready(self):
        from tickets import signals  # noqa: F401 - connects the receivers (sign-out sets the agent offline)
