"""Disputes: a payer's bank contesting a captured payment, as the provider reports it.

``dispute_record`` is the one entry point, whatever the provider (Stripe's and PayPal's webhooks):
the caller reads the dispute from the provider and hands over its whole state, never a
delta, so recording the same state twice changes nothing and records no second event.

- **Monotonic**: under the request's row lock (the lock refunds reserve under, so a refund
  and a dispute never both spend the same money), a report whose status is behind the one
  held (``Dispute.RANK``), or that was true at the provider before the state held
  (``occurred_at``), is ignored; a closed dispute never reopens; the funds the provider
  withdrew or reinstated only ever grow.
- **Events**: ``dispute_created`` when first seen (with the merchant's alert email, through
  the outbox, in the same transaction), ``dispute_updated`` when its status or evidence due
  date changes, ``dispute_closed`` when it ends (won, lost, inquiry closed).
- **Money**: a dispute is not a refund. It does not touch what the participant paid or was
  refunded (the payer was not refunded by the merchant: the bank reversed the payment), but
  the money of an open chargeback or of a lost one can no longer be refunded as well
  (``disputed_amounts_by_leg``, which refunds subtract).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from pushpay.errors import InvalidInput
from requests_app.events import CATALOGUE, event_record
from requests_app.locks import lock_request
from requests_app.models import RequestEvent

from ..dispute_models import Dispute
from ..dispute_outbox import dispute_alert_plan
from ..models import Leg

REASONS = frozenset(Dispute.Reason.values)
STATUSES = frozenset(Dispute.Status.values)


@dataclass(frozen=True)
class DisputeOutcome:
    """What ``dispute_record`` did: the row as it now stands and the event it recorded
    (``None``: nothing new)."""

    dispute: Dispute
    created: bool
    event: str | None


def dispute_record(
    *,
    provider: str,
    provider_reference: str,
    leg: Leg,
    amount: int,
    currency: str,
    reason: str,
    status: str,
    evidence_due_by: datetime | None,
    raw_reason: str = "",
    occurred_at: datetime | None = None,
    funds_withdrawn: int = 0,
    funds_reinstated: int = 0,
    fee: int | None = None,
) -> DisputeOutcome:
    """Record the provider's state of one dispute on ``leg``; returns what came of it.

    ``amount`` is in our minor units of ``currency`` (the leg's), ``reason`` and ``status``
    in ``Dispute``'s vocabulary; ``occurred_at`` is when the provider's state was read (now
    by default). Refused (``invalid_dispute``, 422) when the values cannot be a dispute of
    this leg, before anything is written.
    """
    occurred_at = occurred_at or timezone.now()
    _check(leg, provider_reference, amount, currency, reason, status, evidence_due_by)
    _check_funds(funds_withdrawn, funds_reinstated)
    if fee is not None:
        _check_funds(fee, 0)
    with transaction.atomic():
        payment_request = lock_request(leg.checkout.request_id)
        dispute = (
            Dispute.objects.select_for_update()
            .filter(
                merchant_id=leg.merchant_id,
                livemode=leg.livemode,
                provider=provider,
                provider_reference=provider_reference,
            )
            .first()
        )
        if dispute is None:
            dispute = Dispute.objects.create(
                merchant_id=leg.merchant_id,
                livemode=leg.livemode,
                leg=leg,
                provider=provider,
                provider_reference=provider_reference,
                amount=amount,
                currency=currency,
                reason=reason,
                raw_reason=raw_reason[:80],
                status=status,
                evidence_due_by=evidence_due_by,
                funds_withdrawn=funds_withdrawn,
                funds_reinstated=funds_reinstated,
                fee=fee,
                state_at=occurred_at,
                closed_at=occurred_at if status in Dispute.FINAL else None,
            )
            _event(RequestEvent.Type.DISPUTE_CREATED, payment_request, leg, dispute)
            dispute_alert_plan(dispute=dispute, payment_request=payment_request)
            if dispute.is_closed:  # first heard of once already over (events out of order)
                _event(RequestEvent.Type.DISPUTE_CLOSED, payment_request, leg, dispute, None)
            return DisputeOutcome(
                dispute, True, CATALOGUE[RequestEvent.Type.DISPUTE_CREATED].integrator_name
            )
        if dispute.leg_id != leg.pk:
            raise _invalid("This dispute belongs to another payment.", "provider_reference")
        report = {
            "amount": amount,
            "reason": reason,
            "raw_reason": raw_reason[:80],
            "status": status,
            "evidence_due_by": evidence_due_by,
            "occurred_at": occurred_at,
            "funds_withdrawn": funds_withdrawn,
            "funds_reinstated": funds_reinstated,
            "fee": fee,
        }
        return _update(dispute, payment_request, leg, report)


def _update(dispute: Dispute, payment_request, leg: Leg, report: dict) -> DisputeOutcome:
    changes: dict = {}
    # The provider's books only grow: a stale report never takes money back out of them.
    for name in ("funds_withdrawn", "funds_reinstated"):
        if report[name] > getattr(dispute, name):
            changes[name] = report[name]
    # The fee moves with the balance transactions: taken with a withdrawal, given back
    # (in part) with a reinstatement; a report that brings neither keeps the fee held,
    # unless none was known yet.
    moved = {"funds_withdrawn", "funds_reinstated"} & set(changes)
    if report["fee"] not in (None, dispute.fee) and (dispute.fee is None or moved):
        changes["fee"] = report["fee"]
    current, new = Dispute.RANK[dispute.status], Dispute.RANK[report["status"]]
    stale = (
        dispute.is_closed
        or new < current
        or (new == current and report["occurred_at"] < dispute.state_at)
    )
    previous = dispute.status
    if not stale:
        for name in ("status", "amount", "reason", "raw_reason", "evidence_due_by"):
            if getattr(dispute, name) != report[name]:
                changes[name] = report[name]
        if changes:
            changes["state_at"] = report["occurred_at"]
        if "status" in changes and report["status"] in Dispute.FINAL:
            changes["closed_at"] = report["occurred_at"]
    if not changes:
        return DisputeOutcome(dispute, False, None)
    for name, value in changes.items():
        setattr(dispute, name, value)
    dispute.save(update_fields=[*changes, "updated_at"])
    event = None
    if "status" in changes and dispute.is_closed:
        event = RequestEvent.Type.DISPUTE_CLOSED
    elif {"status", "evidence_due_by", "amount", "fee"} & set(changes):
        event = RequestEvent.Type.DISPUTE_UPDATED
    if event is not None:
        _event(event, payment_request, leg, dispute, previous)
    return DisputeOutcome(dispute, False, CATALOGUE[event].integrator_name if event else None)


_NO_PREVIOUS = object()


def _event(type: str, payment_request, leg: Leg, dispute: Dispute, previous=_NO_PREVIOUS):
    payload = {
        "dispute": dispute.public_id,
        "checkout": leg.checkout.public_id,
        "leg": leg.public_id,
        "amount": dispute.amount,
        "currency": dispute.currency,
        "reason": dispute.reason,
        "status": dispute.status,
        "evidence_due_by": _iso(dispute.evidence_due_by),
    }
    if previous is not _NO_PREVIOUS:
        payload["previous_status"] = previous
    event_record(
        type=type,
        payment_request=payment_request,
        participant=leg.checkout.participant,
        payload=payload,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _invalid(message: str, field: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_dispute", field=field)


def _check(leg, provider_reference, amount, currency, reason, status, evidence_due_by) -> None:
    if not isinstance(provider_reference, str) or not 0 < len(provider_reference) <= 80:
        raise _invalid("A dispute needs the provider's id (at most 80 characters).", "id")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= leg.amount:
        raise _invalid("A dispute's amount is more than 0 and at most the payment's.", "amount")
    if currency != leg.currency:
        raise _invalid("A dispute is in the currency of the payment it contests.", "currency")
    if reason not in REASONS:
        raise _invalid(f"Unknown dispute reason {reason!r}.", "reason")
    if status not in STATUSES:
        raise _invalid(f"Unknown dispute status {status!r}.", "status")
    if evidence_due_by is not None and timezone.is_naive(evidence_due_by):
        raise _invalid("The evidence due date needs a time zone.", "evidence_due_by")


def _check_funds(withdrawn: int, reinstated: int) -> None:
    for value, field in ((withdrawn, "funds_withdrawn"), (reinstated, "funds_reinstated")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _invalid("Funds are a whole number of minor units, 0 or more.", field)


def disputed_amounts_by_leg(*, leg_ids: list[int]) -> dict[int, int]:
    """What disputes keep out of reach of a refund, per leg: open chargebacks and lost ones
    (``Dispute.HOLDING``). Call under the request's lock to rely on it."""
    if not leg_ids:
        return {}
    rows = (
        Dispute.objects.filter(leg_id__in=leg_ids, status__in=Dispute.HOLDING)
        .values("leg_id")
        .annotate(total=Sum("amount"))
    )
    return {row["leg_id"]: row["total"] for row in rows}
