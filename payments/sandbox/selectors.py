"""Reads on the sandbox acquirer's books, mostly for tests and the challenge page.

``sandbox_card_balance`` is the payer's bank statement: what is held and what was taken
from one card, summed from ledger rows alone.
"""

from dataclasses import dataclass

from django.db.models import Sum

from merchants.models import Merchant
from pushpay.errors import DoesNotExist, InvalidInput

from .models import SandboxAuthorisation, SandboxCard, SandboxLedgerEntry


@dataclass(frozen=True)
class CardBalance:
    """Amounts in integer minor units of ``currency``."""

    held: int
    debited: int
    currency: str | None


def sandbox_card_balance(
    *, token: str | None = None, fingerprint: str | None = None, currency: str | None = None
) -> CardBalance:
    """Held and debited totals of one card (every token of the same number counts).

    Amounts in different currencies never add up: give ``currency`` when a card was used
    in several, or the call is refused.
    """
    if (token is None) == (fingerprint is None):
        raise InvalidInput("Give either a token or a fingerprint.", code="invalid", field="token")
    if token is not None:
        card = SandboxCard.objects.filter(token=token).first()
        if card is None:
            raise DoesNotExist("No such card token.", code="not_found", field="token")
        fingerprint = card.fingerprint
    rows = SandboxLedgerEntry.objects.filter(
        fingerprint=fingerprint, status=SandboxLedgerEntry.Status.SUCCEEDED
    )
    if currency is not None:
        rows = rows.filter(currency=currency)
    totals: dict[str, dict[str, int]] = {}
    for row in rows.values("currency", "kind").annotate(total=Sum("amount")).order_by():
        totals.setdefault(row["currency"], {})[row["kind"]] = row["total"]
    if len(totals) > 1:
        raise InvalidInput(
            "This card was used in several currencies; give one.",
            code="several_currencies",
            field="currency",
        )
    found_currency, by_kind = next(iter(totals.items()), (currency, {}))
    kind = SandboxLedgerEntry.Kind
    hold, capture = by_kind.get(kind.HOLD, 0), by_kind.get(kind.CAPTURE, 0)
    void, refund = by_kind.get(kind.VOID, 0), by_kind.get(kind.REFUND, 0)
    return CardBalance(
        held=hold - capture - void, debited=capture - refund, currency=found_currency
    )


def sandbox_authorisation_get(*, merchant: Merchant, public_id: str) -> SandboxAuthorisation:
    try:
        return SandboxAuthorisation.objects.get(merchant=merchant, public_id=public_id)
    except SandboxAuthorisation.DoesNotExist:
        raise DoesNotExist(
            f"No such sandbox authorisation: '{public_id}'.", code="not_found", field="reference"
        ) from None


def sandbox_challenge_get(*, public_id: str) -> SandboxAuthorisation | None:
    """Not scoped to a merchant: the payer reaches it through an unguessable id (143 bits),
    as on a real acquirer's 3-D Secure page."""
    return (
        SandboxAuthorisation.objects.select_related("merchant", "card")
        .filter(public_id=public_id)
        .first()
    )


def sandbox_ledger(*, fingerprint: str) -> list[SandboxLedgerEntry]:
    return list(SandboxLedgerEntry.objects.filter(fingerprint=fingerprint))
