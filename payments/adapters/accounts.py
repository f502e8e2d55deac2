"""The merchant's own accounts at real providers, as the adapters see them.

A payer page asks every method whether it is configured; the answer comes from the
merchant's ``ProviderCredential`` rows, read once per merchant object and provider. The
credential services forget the answer on the object they were given when they change it;
other objects are a request's own and die with it.
"""

from __future__ import annotations


def _cache_key(provider: str) -> str:
    return f"_{provider}_modes_configured"


def configured_modes(merchant, provider: str) -> frozenset[bool]:
    """The modes (False = test, True = live) in which the merchant entered credentials."""
    from payments.credentials_models import ProviderCredential

    key = _cache_key(provider)
    modes = merchant.__dict__.get(key)
    if modes is None:
        modes = frozenset(
            ProviderCredential.objects.filter(merchant=merchant, provider=provider).values_list(
                "livemode", flat=True
            )
        )
        merchant.__dict__[key] = modes
    return modes


def forget_configured_modes(merchant, provider: str | None = None) -> None:
    """Drop the cached answer (of one provider, or of all)."""
    if provider is not None:
        merchant.__dict__.pop(_cache_key(provider), None)
        return
    for key in [k for k in merchant.__dict__ if k.endswith("_modes_configured")]:
        merchant.__dict__.pop(key, None)


def credential_of(merchant, livemode: bool, provider: str):
    """The merchant's credential at ``provider`` in this mode, or None."""
    from payments.credentials_models import ProviderCredential

    return ProviderCredential.objects.filter(
        merchant=merchant, livemode=livemode, provider=provider
    ).first()
