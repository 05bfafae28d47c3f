from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    """The project package as an app, for its project-wide management commands (sync_schedules)."""

    name = "helpdesk"
    verbose_name = "Help desk project"
