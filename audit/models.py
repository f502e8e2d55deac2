"""The audit trail: one row per recorded change of a configuration object or a request.

Written only by ``audit.recorder`` (from django-simple-history's snapshots) and never changed
afterwards: the product has no route, form or admin page that edits or deletes an entry.
"""

from django.conf import settings
from django.db import models

from merchants.models import Merchant


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        CREATED = "created", "Created"
        CHANGED = "changed", "Changed"
        DELETED = "deleted", "Deleted"

    class ActorKind(models.TextChoices):
        """Who made the change: an operator in the back office, an integrator's API key, a
        payer on a payment page, or the system (scheduled jobs, the dispatcher)."""

        OPERATOR = "operator", "Operator"
        API_KEY = "api_key", "API key"
        PAYER = "payer", "Payer"
        SYSTEM = "system", "System"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()
    action = models.CharField(max_length=8, choices=Action.choices)
    actor_kind = models.CharField(max_length=8, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as written at the time: a renamed key or a removed member still reads as it was.
    actor_label = models.CharField(max_length=200)
    # The page the change shows on (a scenario, a request, "team"), and the row changed
    # (the same, or a participant, a form version, a membership).
    object_kind = models.CharField(max_length=30)
    object_id = models.CharField(max_length=60, blank=True)
    item_kind = models.CharField(max_length=30)
    item_id = models.CharField(max_length=60, blank=True)
    item_label = models.CharField(max_length=200, blank=True)
    # The mode of a mode-bound object (a request, an endpoint, a key); None for configuration
    # that serves both. Each mode's pages show only their own, as every list does.
    livemode = models.BooleanField(null=True, blank=True)
    changes = models.JSONField(default=dict, help_text="{field: [before, after]}")
    reason = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "-created_at", "-id"], name="audit_merchant_recent"),
            models.Index(fields=["merchant", "object_kind", "object_id"], name="audit_object"),
            models.Index(fields=["merchant", "item_id"], name="audit_item"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.item_kind} {self.item_id} by {self.actor_label}"
