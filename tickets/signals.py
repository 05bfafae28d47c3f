"""Signal receivers of the tickets app (connected in ``TicketsConfig.ready``)."""

from django.contrib.admin.models import LogEntry
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save
from django.dispatch import receiver


@receiver(user_logged_out, dispatch_uid="tickets.signed_out")
def agent_signed_out(sender, request, user, **kwargs):
    """Signing out sets the agent offline, through the routing service (recorded; team policies apply)."""
    from tickets.services.routing import signed_out

    if user is not None:
        signed_out(user)


@receiver(post_save, sender=LogEntry, dispatch_uid="tickets.admin_change_audited")
def admin_change_audited(sender, instance, created, **kwargs):
    """Every add, change or delete made in the Django admin goes to the audit trail (``services.audit``)."""
    from tickets.services.audit import record_admin_entry

    if created:
        record_admin_entry(instance)
