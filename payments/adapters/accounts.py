"""The merchant's own accounts at real providers, as the adapters see them.

A payer page asks every method whether it is configured; the answer comes from the
merchant's ``ProviderCredential`` rows, read once per merchant object for every provider at
once (a page offering cards and PayPal pays one query, not one per provider). The
credential services forget the answer on the object they were given when they change it;
other objects are a request's own and die with it.
"""

from __future__ import annotations

from collections.abc import Iterable

_KEY = "_provider_modes_configured"


def configured_modes(merchant, provider: str) -> frozenset[bool]:
    """The modes (False = test, True = live) in which the merchant entered credentials."""
    from payments.credentials_models import ProviderCredential

    by_provider = merchant.__dict__.get(_KEY)
    if by_provider is None:
        found: dict[str, set[bool]] = {}
        for name, livemode in ProviderCredential.objects.filter(merchant=merchant).values_list(
            "provider", "livemode"
        ):
            found.setdefault(name, set()).add(livemode)
        by_provider = {name: frozenset(modes) for name, modes in found.items()}
        merchant.__dict__[_KEY] = by_provider
    return by_provider.get(provider, frozenset())


def configured_modes_remember(merchant, rows: Iterable[tuple[str, bool]]) -> None:
    """Keep the answer ``configured_modes`` would read, from ``(provider, livemode)`` rows
    the caller already read with the merchant (the payer page's one query)."""
    found: dict[str, set[bool]] = {}
    for name, livemode in rows:
        found.setdefault(name, set()).add(bool(livemode))
    merchant.__dict__[_KEY] = {name: frozenset(modes) for name, modes in found.items()}


def forget_configured_modes(merchant, provider: str | None = None) -> None:
    """Drop the cached answer (read again for every provider next time)."""
    merchant.__dict__.pop(_KEY, None)


def credential_of(merchant, livemode: bool, provider: str):
    """The merchant's credential at ``provider`` in this mode, or None."""
    from payments.credentials_models import ProviderCredential

    return ProviderCredential.objects.filter(
        merchant=merchant, livemode=livemode, provider=provider
    ).first()
