"""System checks: live mode must have no path to a sandbox, and merchants' provider
credentials must be readable.

There is no path to a sandbox by construction (``PaymentMethod`` refuses a sandbox as a live
adapter and ``adapter_for`` refuses to hand one out); this check proves it at every start-up
and in ``check --deploy``, so a plug-in that registers methods some other way is caught
before it can let a public test card settle a live request.
"""

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register("payments")
def live_mode_reaches_no_sandbox(app_configs=None, **kwargs) -> list[Error]:
    from .registry import payment_methods

    errors = []
    for method in payment_methods():
        for live in (method.live_adapter_class, *method.provider_adapter_classes):
            if live is not None and getattr(live, "is_sandbox", False):
                errors.append(
                    Error(
                        f"Payment method '{method.code}' serves live mode with the sandbox "
                        f"{live.__name__}: a public test card could settle a live request.",
                        hint="Register a real provider's adapter as live_adapter_class, or none.",
                        id="payments.E001",
                    )
                )
    return errors


@register("payments")
def provider_credentials_keys_usable(app_configs=None, **kwargs) -> list[Error]:
    """Without a key, merchants' Stripe credentials can be neither stored nor read: say so
    at start-up rather than at a payer's first card payment."""
    from .credentials import credentials_keys, fernet

    if not credentials_keys():
        return [
            Error(
                "PROVIDER_CREDENTIALS_KEYS is not set: merchants' payment-provider "
                "credentials cannot be encrypted or read.",
                hint='Set it to a Fernet key: python -c "from cryptography.fernet import '
                'Fernet; print(Fernet.generate_key().decode())" (comma-separate several to '
                "rotate; the first one encrypts).",
                id="payments.E002",
            )
        ]
    try:
        fernet()
    except ImproperlyConfigured as exc:
        return [
            Error(str(exc), hint="Each key is 44 url-safe base64 characters.", id="payments.E003")
        ]
    return []
