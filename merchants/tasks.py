"""django-q2 entry points for the merchants app: thin wrappers over services."""

from . import services


def purge_idempotency_keys() -> int:
    return services.idempotency_purge_expired()
