"""Signal receivers of the tickets app (connected in ``TicketsConfig.ready``)."""

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver


@receiver(user_logged_out, dispatch_uid="tickets.signed_out")
def agent_signed_out(sender, request, user, **kwargs):
    """Signing out sets the agent offline, through the routing service (recorded; team policies apply)."""
    from tickets.services.routing import signed_out

    if user is not None:
        signed_out(user)
