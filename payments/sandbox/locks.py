"""Row locks of the sandbox acquirer, in one place.

Captures, voids and refunds of one authorisation lock its row first, so two of them can
never both read "1000 still held" and both take it. Only one row is ever locked per call, so
there is no ordering to get wrong. On SQLite ``select_for_update`` is a no-op and IMMEDIATE
transactions serialise writers instead.
"""

from merchants.models import Merchant
from pushpay.errors import DoesNotExist

from .models import SandboxAuthorisation


def lock_authorisation(*, merchant: Merchant, public_id: str) -> SandboxAuthorisation:
    try:
        return (
            SandboxAuthorisation.objects.select_for_update()
            .select_related("card")
            .get(merchant=merchant, public_id=public_id)
        )
    except SandboxAuthorisation.DoesNotExist:
        raise DoesNotExist(
            f"No such sandbox authorisation: '{public_id}'.", code="not_found", field="reference"
        ) from None


def lock_challenge(*, public_id: str) -> SandboxAuthorisation:
    try:
        return SandboxAuthorisation.objects.select_for_update().get(public_id=public_id)
    except SandboxAuthorisation.DoesNotExist:
        raise DoesNotExist(
            "No such 3-D Secure challenge.", code="not_found", field="reference"
        ) from None
