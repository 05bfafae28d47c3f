"""The security audit trail: who viewed, changed, exported or erased which ticket and customer.

Append-only. The model refuses to save an existing row or delete one, its queryset refuses ``update()`` and
``delete()``, and on PostgreSQL a trigger (migration ``0012_audit_entry``) refuses UPDATE and DELETE from any
client, so the trail cannot be rewritten through the ORM, the admin or psql alike.

Because nothing here can ever be rewritten, an entry holds no personal data: ids, the action, the path and the
client address — never a name, an address or message text (``tickets.services.privacy`` erases those
elsewhere and must not find them here). References to users, tickets and customers are foreign keys without a
database constraint and with ``DO_NOTHING``, so deleting the row they name touches no audit entry (an
``ON DELETE SET NULL`` would be an UPDATE the trigger refuses).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AppendOnlyError(Exception):
    """Something tried to rewrite or remove an audit entry."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit entries are append-only: they cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Audit entries are append-only: they cannot be deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError("Audit entries are append-only: they cannot be updated.")

    # What the deletion collector uses for fast deletes.
    def _raw_delete(self, using):
        raise AppendOnlyError("Audit entries are append-only: they cannot be deleted.")


def _no_db_constraint(to, related_name):
    return models.ForeignKey(
        to,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # the (…, at) indexes below cover the lookups; fewer indexes, cheaper inserts
        related_name=related_name,
    )


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        CHANGE = "change", "Changed"
        EXPORT = "export", "Exported"
        ERASE = "erase", "Erased"

    at = models.DateTimeField(default=timezone.now)
    # None is the system (a task, a command without a user).
    actor = _no_db_constraint(settings.AUTH_USER_MODEL, "+")
    # The user name when it happened: the trail stays readable after the user is renamed or deleted.
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=8, choices=Action.choices)
    # What was touched: "tickets.ticket" and its id, or any model the admin changed.
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64, blank=True)
    # The ticket and customer it concerns, for "who looked at this customer" (set where known).
    ticket = _no_db_constraint("tickets.Ticket", "+")
    customer = _no_db_constraint("tickets.Customer", "+")
    # The ticket history entry that holds the change itself (who, from, to, why): not repeated here.
    event = _no_db_constraint("tickets.TicketEvent", "+")
    path = models.CharField(max_length=300, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # Ids, kinds and field names only: never personal data (see the module's docstring).
    details = models.JSONField(default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["customer", "at"], name="audit_customer_time"),
            models.Index(fields=["ticket", "at"], name="audit_ticket_time"),
            models.Index(fields=["actor", "at"], name="audit_actor_time"),
            models.Index(fields=["at"], name="audit_time"),
        ]

    def __str__(self):
        return f"{self.actor_label or 'system'} {self.action} {self.object_type} {self.object_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit entries are append-only: they cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit entries are append-only: they cannot be deleted.")
