"""django-q2 entry points for wallets: thin wrappers over services."""

from . import services


def expire_wallet_credits() -> int:
    return services.wallets_expire_due()
