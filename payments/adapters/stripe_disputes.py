"""Reading a dispute from the merchant's Stripe account (``GET /v1/disputes/{id}``) and
putting it in the provider-neutral vocabulary of ``payments.dispute_models.Dispute``.

A webhook's copy of the dispute is only a hint: what is recorded is what Stripe says when
asked with the merchant's own key, so a signed but stale or forged event body can never
record a state Stripe does not hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import stripe

from ..dispute_models import Dispute
from .base import ProviderTimeout
from .stripe_card import _get, _id_of, _no_answer, from_stripe_amount, stripe_client

R, S = Dispute.Reason, Dispute.Status

# Stripe's reasons with a name of their own in ours; any other (bank_cannot_process,
# product_unacceptable, debit_not_authorized, a reason Stripe adds later …) is "other",
# its own word kept in ``raw_reason``.
REASONS = {
    "fraudulent": R.FRAUDULENT,
    "product_not_received": R.PRODUCT_NOT_RECEIVED,
    "duplicate": R.DUPLICATE,
    "subscription_canceled": R.SUBSCRIPTION_CANCELED,
    "unrecognized": R.UNRECOGNIZED,
    "credit_not_processed": R.CREDIT_NOT_PROCESSED,
    "general": R.GENERAL,
}
# Stripe's statuses are ours; "prevented" (the dispute was headed off, no money moved) ends
# it as an inquiry closed would.
STATUSES = {**{value: value for value in S.values}, "prevented": S.WARNING_CLOSED}


@dataclass(frozen=True)
class StripeDispute:
    """A Stripe dispute as our books need it; amounts in our minor units of ``currency``."""

    id: str
    payment_intent: str
    charge: str
    amount: int
    currency: str
    reason: str
    raw_reason: str
    status: str | None  # None: a status of Stripe's we do not know (left alone)
    evidence_due_by: datetime | None
    funds_withdrawn: int
    funds_reinstated: int
    fee: int | None = None  # Stripe's dispute fee (net), None when it reports none usable


def stripe_dispute_read(*, secret_key: str, dispute_id: str) -> StripeDispute | None:
    """The dispute as Stripe holds it now; None when this account has no such dispute.
    Raises ``ProviderTimeout`` when Stripe did not answer (the event is delivered again)."""
    client = stripe_client(secret_key)
    try:
        found = client.v1.disputes.retrieve(dispute_id)
    except stripe.StripeError as exc:
        if _no_answer(exc) or isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
            raise ProviderTimeout(f"Stripe did not answer for the dispute: {exc}") from None
        return None  # resource_missing: not this account's dispute
    currency = str(_get(found, "currency") or "").upper()
    raw_reason = str(_get(found, "reason") or "")
    withdrawn, reinstated = _funds(found, currency)
    fee = _fee(found, currency)
    due_by = _get(_get(found, "evidence_details"), "due_by")
    return StripeDispute(
        id=str(found["id"]),
        payment_intent=_id_of(_get(found, "payment_intent")),
        charge=_id_of(_get(found, "charge")),
        amount=from_stripe_amount(int(_get(found, "amount", 0)), currency) if currency else 0,
        currency=currency,
        reason=REASONS.get(raw_reason, R.OTHER),
        raw_reason=raw_reason,
        status=STATUSES.get(str(_get(found, "status") or "")),
        evidence_due_by=datetime.fromtimestamp(int(due_by), tz=UTC) if due_by else None,
        funds_withdrawn=withdrawn,
        funds_reinstated=reinstated,
        fee=fee,
    )


def stripe_charge_intent(*, secret_key: str, charge_id: str) -> str:
    """The PaymentIntent behind a charge (``GET /v1/charges/{id}``): a dispute that names
    only its charge (an older API version's, or one Stripe sends without it) is tied to
    our leg through it. "" when this account has no such charge, or it has no intent.
    Raises ``ProviderTimeout`` when Stripe did not answer."""
    try:
        charge = stripe_client(secret_key).v1.charges.retrieve(charge_id)
    except stripe.StripeError as exc:
        if _no_answer(exc) or isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
            raise ProviderTimeout(f"Stripe did not answer for the charge: {exc}") from None
        return ""
    return _id_of(_get(charge, "payment_intent"))


def _fee(found, currency: str) -> int | None:
    """Stripe's dispute fee as its balance transactions state it (``fee`` on each: the
    fee taken with the withdrawal, less any given back with a reinstatement). None with no
    transaction yet, or one whose fee is in another currency (the account settles in
    another): never mixed into the request's statement."""
    transactions = _get(found, "balance_transactions", []) or []
    if not transactions or not currency:
        return None
    total = 0
    for transaction in transactions:
        fee = _get(transaction, "fee", 0)
        if str(_get(transaction, "currency") or "").upper() != currency or not isinstance(fee, int):
            return None
        total += fee
    return from_stripe_amount(max(total, 0), currency)


def _funds(found, currency: str) -> tuple[int, int]:
    """What the dispute's balance transactions took back and gave back, in the dispute's
    currency. A transaction in another currency (the account settles in another) counts as
    the whole disputed amount: Stripe moves the disputed amount, converted."""
    withdrawn = reinstated = 0
    amount = from_stripe_amount(int(_get(found, "amount", 0)), currency) if currency else 0
    for transaction in _get(found, "balance_transactions", []) or []:
        value = int(_get(transaction, "amount", 0))
        same = str(_get(transaction, "currency") or "").upper() == currency
        moved = from_stripe_amount(abs(value), currency) if same else amount
        if value < 0:
            withdrawn += moved
        elif value > 0:
            reinstated += moved
    return withdrawn, reinstated
