"""Per-merchant payment-provider credentials, and the provider events already handled.

A merchant plugs in its own acquirer account: each merchant, each mode, each provider has at
most one ``ProviderCredential``. Secrets are stored only as Fernet tokens
(``payments.credentials``) and shown again only as their last four characters.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from merchants.models import Merchant, TimeStamped
from pushpay.history import AuditedHistory
from pushpay.ids import new_public_id


def _webhook_id() -> str:
    return new_public_id("whp")


class ProviderCredential(TimeStamped):
    """One merchant's account at one provider, in one mode.

    ``webhook_id`` names the merchant's endpoint for this provider and mode in the URL the
    merchant gives the provider (``/webhooks/stripe/<webhook_id>/``,
    ``/webhooks/paypal/<webhook_id>/``): random, so it says nothing about the merchant, and
    the signature (with the stored signing secret, or PayPal's own verification of its
    webhook id) is what authenticates a delivery.
    """

    class Provider(models.TextChoices):
        STRIPE = "stripe", _("Stripe")
        PAYPAL = "paypal", _("PayPal")

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    livemode = models.BooleanField(
        default=False,
        help_text="True for the account's live keys (real money), false for its test keys.",
    )
    provider = models.CharField(max_length=20, choices=Provider.choices)
    client_id_encrypted = models.TextField(
        blank=True, help_text="Fernet token of the app's client id (PayPal; '' for Stripe)."
    )
    client_id_last4 = models.CharField(max_length=4, blank=True)
    secret_key_encrypted = models.TextField(
        help_text="Fernet token of the secret API key (Stripe) or client secret (PayPal)."
    )
    secret_key_last4 = models.CharField(max_length=4)
    webhook_secret_encrypted = models.TextField(
        blank=True,
        help_text="Fernet token of the webhook signing secret (Stripe) or of the webhook id "
        "PayPal verifies deliveries against (PayPal); '' when not given.",
    )
    webhook_secret_last4 = models.CharField(max_length=4, blank=True)
    webhook_id = models.CharField(max_length=40, unique=True, default=_webhook_id, editable=False)
    account_reference = models.CharField(
        max_length=80, blank=True, help_text="What the provider said when last tested."
    )
    tested_at = models.DateTimeField(null=True, blank=True)

    # Only what identifies the account (provider, mode, last four): never the encrypted
    # keys, nor the webhook id that is part of a secret URL.
    history = AuditedHistory(
        kind="provider_credential",
        ident="provider",
        excluded_fields=[
            "secret_key_encrypted",
            "webhook_secret_encrypted",
            "client_id_encrypted",
            "webhook_id",
        ],
    )

    class Meta:
        ordering = ["merchant_id", "provider", "livemode"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "provider", "livemode"],
                name="provider_credential_one_per_mode",
            )
        ]

    def __str__(self) -> str:
        mode = "live" if self.livemode else "test"
        return f"{self.provider} {mode} ••••{self.secret_key_last4}"


class ProviderEvent(models.Model):
    """A provider event (a webhook delivery) already handled: a replay changes nothing."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    livemode = models.BooleanField(default=False)
    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=80)
    type = models.CharField(max_length=80)
    outcome = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "provider", "livemode", "event_id"],
                name="provider_event_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id} {self.type}"
