"""Reading a dispute from the merchant's PayPal account (Disputes API,
``GET /v1/customer/disputes/{id}``) and putting it in the provider-neutral vocabulary of
``payments.dispute_models.Dispute``.

As with Stripe, a webhook's copy of the dispute is only a hint: what is recorded is what
PayPal says when asked with the merchant's own app, so a stale or replayed event body can
never record a state PayPal does not hold.

PayPal describes a case with two fields where Stripe has one: ``dispute_life_cycle_stage``
(an ``INQUIRY`` between payer and merchant, then a ``CHARGEBACK`` claim PayPal decides, then
``PRE_ARBITRATION`` / ``ARBITRATION`` appeals) and ``status`` (whose turn it is). An inquiry
maps onto our ``warning_*`` statuses (no money has moved, a refund still settles it); a claim
onto ``needs_response`` / ``under_review``. A resolved case is ``lost`` when the payer got
the money (``RESOLVED_BUYER_FAVOUR``, or the merchant ``ACCEPTED`` the claim), otherwise
``won`` (``warning_closed`` if it never left the inquiry stage).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..dispute_models import Dispute
from .base import ProviderTimeout
from .paypal_rest import PayPalAPIError, PayPalClient, _money

R, S = Dispute.Reason, Dispute.Status

# PayPal's reasons with a name of their own in ours; the others (not as described, incorrect
# amount, paid by other means, problem with remittance, a reason PayPal adds later) are
# "other", PayPal's own word kept in ``raw_reason``.
REASONS = {
    "MERCHANDISE_OR_SERVICE_NOT_RECEIVED": R.PRODUCT_NOT_RECEIVED,
    "UNAUTHORISED": R.FRAUDULENT,
    "CREDIT_NOT_PROCESSED": R.CREDIT_NOT_PROCESSED,
    "DUPLICATE_TRANSACTION": R.DUPLICATE,
    "CANCELED_RECURRING_BILLING": R.SUBSCRIPTION_CANCELED,
    "OTHER": R.GENERAL,
}
INQUIRY = "INQUIRY"
# Whose turn it is, per stage. An appeal (pre-arbitration, arbitration) comes after a first
# review: it stays "under review" (ranks never go back), so a new due date still comes
# through as an update.
_OPEN = {
    INQUIRY: {
        "OPEN": S.WARNING_NEEDS_RESPONSE,
        "WAITING_FOR_SELLER_RESPONSE": S.WARNING_NEEDS_RESPONSE,
        "WAITING_FOR_BUYER_RESPONSE": S.WARNING_UNDER_REVIEW,
        "UNDER_REVIEW": S.WARNING_UNDER_REVIEW,
    },
    "CHARGEBACK": {
        "OPEN": S.NEEDS_RESPONSE,
        "WAITING_FOR_SELLER_RESPONSE": S.NEEDS_RESPONSE,
        "WAITING_FOR_BUYER_RESPONSE": S.UNDER_REVIEW,
        "UNDER_REVIEW": S.UNDER_REVIEW,
    },
}
for _stage in ("PRE_ARBITRATION", "ARBITRATION"):
    _OPEN[_stage] = dict.fromkeys(_OPEN["CHARGEBACK"], S.UNDER_REVIEW)
# Outcomes where the payer got the money back; every other outcome leaves it with the
# merchant (seller's favour, the payer cancelled, PayPal paid the payer itself, denied).
LOST_OUTCOMES = frozenset({"RESOLVED_BUYER_FAVOUR", "ACCEPTED"})
KEPT_OUTCOMES = frozenset(
    {"RESOLVED_SELLER_FAVOUR", "CANCELED_BY_BUYER", "RESOLVED_WITH_PAYOUT", "DENIED"}
)
MAX_ID = 80  # our provider_reference; PayPal's ids are far shorter


@dataclass(frozen=True)
class PayPalDispute:
    """A PayPal dispute as our books need it; amounts in our minor units of ``currency``."""

    id: str
    captures: tuple[str, ...]  # disputed_transactions[].seller_transaction_id
    amount: int
    currency: str
    reason: str
    raw_reason: str
    status: str | None  # None: a state of PayPal's we do not know (left alone)
    evidence_due_by: datetime | None
    updated_at: datetime | None
    funds_withdrawn: int


def valid_dispute_id(value: object) -> bool:
    """PayPal's documented id shape (``^[A-Za-z0-9-]+$``), within what we store: anything else
    is never put into a URL."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_ID
        and all(c.isascii() and (c.isalnum() or c == "-") for c in value)
    )


def paypal_dispute_read(*, client: PayPalClient, dispute_id: str) -> PayPalDispute | None:
    """The dispute as PayPal holds it now; None when this app's account has no such dispute.
    Raises ``ProviderTimeout`` when PayPal did not answer, or refused the app (an app
    without the Disputes feature): the event is delivered again later."""
    try:
        found = client.call("GET", f"/v1/customer/disputes/{dispute_id}")
    except PayPalAPIError as exc:
        if exc.status in (401, 403):
            raise ProviderTimeout(f"PayPal refused to show the dispute: {exc}") from None
        return None  # 404 RESOURCE_NOT_FOUND: not this account's dispute
    transactions = [t for t in found.get("disputed_transactions") or [] if isinstance(t, dict)]
    captures = tuple(
        str(t["seller_transaction_id"])
        for t in transactions
        if isinstance(t.get("seller_transaction_id"), str) and t["seller_transaction_id"]
    )
    money = found.get("dispute_amount")
    if not isinstance(money, dict) and transactions:
        money = transactions[0].get("gross_amount")
    amount, currency = _money(money if isinstance(money, dict) else None)
    raw_reason = str(found.get("reason") or "")
    status = _status_of(found)
    outcome = found.get("dispute_outcome") if isinstance(found.get("dispute_outcome"), dict) else {}
    withdrawn = 0
    if status == S.LOST:
        # What the payer got back; a settlement for part of the amount holds only that part.
        refunded, refunded_currency = _money(outcome.get("amount_refunded"))
        if refunded_currency == currency and 0 < refunded <= amount:
            amount = refunded
        withdrawn = amount
    return PayPalDispute(
        id=str(found.get("dispute_id") or dispute_id),
        captures=captures,
        amount=amount,
        currency=currency,
        reason=REASONS.get(raw_reason, R.OTHER),
        raw_reason=raw_reason,
        status=status,
        evidence_due_by=_time(found.get("seller_response_due_date")),
        updated_at=_time(found.get("update_time")),
        funds_withdrawn=withdrawn,
    )


def _status_of(found: dict) -> str | None:
    stage = str(found.get("dispute_life_cycle_stage") or "CHARGEBACK")
    status = str(found.get("status") or "")
    if status == "RESOLVED":
        outcome = found.get("dispute_outcome")
        code = str(outcome.get("outcome_code") or "") if isinstance(outcome, dict) else ""
        if code in LOST_OUTCOMES:
            return S.LOST
        if code in KEPT_OUTCOMES:
            return S.WARNING_CLOSED if stage == INQUIRY else S.WON
        return None  # resolved, but not (yet) saying how: wait for the next report
    return _OPEN.get(stage, {}).get(status)


def _time(value: object) -> datetime | None:
    """PayPal's Internet date-time (``2026-12-01T16:40:00.000Z``), always with a zone; None
    when absent or unreadable (a naive time would be refused by ``dispute_record``)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
