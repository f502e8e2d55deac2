"""Legs: the one place a leg's status moves, every provider call is written down, and a
checkout's status is worked out from its legs.

The saga, recovery and refunds never write ``Leg.status`` themselves: they call
``leg_transition``, which refuses a move the table in ``Leg.TRANSITIONS`` does not allow
(a voided hold can never be captured, a refunded leg never refunded again). Every adapter
call goes through ``leg_call``, which keeps one ``LegOperation`` row per call, answered or
not, as the leg's own ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pushpay.errors import DomainError, StateConflict

from ..adapters.base import PaymentResult, ProviderError
from ..models import Checkout, Leg, LegOperation


def leg_transition(leg: Leg, target: str, **fields) -> Leg:
    """Move ``leg`` to ``target`` (and set ``fields``), or raise ``StateConflict``.

    Staying in the same state is allowed (a replayed answer changes nothing); the write is
    an UPDATE of the named columns only, so two steps racing on other columns of the same
    leg do not overwrite each other.
    """
    if target != leg.status and target not in Leg.TRANSITIONS[leg.status]:
        raise StateConflict(
            f"A {leg.status} leg cannot become {target}.",
            code="invalid_status_transition",
            field="status",
        )
    leg.status = target
    for name, value in fields.items():
        setattr(leg, name, value)
    leg.save(update_fields=["status", *fields, "updated_at"])
    return leg


def leg_call(
    leg: Leg,
    operation: str,
    call: Callable[[], PaymentResult],
    *,
    amount: int | None = None,
    idempotency_key: str | None = None,
) -> PaymentResult:
    """Make one provider call for ``leg`` and write it down, whatever happens.

    The row is written after the call, in its own statement: a crash during the call leaves
    no row, which is right, since nobody knows yet what the provider did (the leg's saved
    state says what to retry). Exceptions are recorded, then raised unchanged.
    """
    key = leg.idempotency_key(operation) if idempotency_key is None else idempotency_key
    row = LegOperation(
        merchant_id=leg.merchant_id,
        livemode=leg.livemode,
        leg=leg,
        operation=operation,
        idempotency_key=key if operation != LegOperation.Operation.RETRIEVE else "",
        amount=leg.amount if amount is None else amount,
        provider_reference=leg.provider_reference,
    )
    try:
        result = call()
    except ProviderError as exc:
        row.result = LegOperation.Result.NO_ANSWER
        row.message = str(exc)[:300]
        row.save()
        raise
    except DomainError as exc:
        row.result = LegOperation.Result.REJECTED
        row.failure_reason = exc.code[:32]
        row.message = exc.message[:300]
        row.save()
        raise
    row.result = LegOperation.Result.SUCCEEDED if result.succeeded else LegOperation.Result.FAILED
    row.status = result.status
    row.amount_moved = result.amount
    row.provider_reference = result.provider_reference or leg.provider_reference
    row.operation_reference = result.operation_reference
    row.failure_reason = result.failure_reason or ""
    row.message = result.message[:300]
    row.fee, row.fee_note = result.fee, result.fee_note[:200]
    row.save()
    _remember_what_the_provider_saw(leg, result)
    return result


def _remember_what_the_provider_saw(leg: Leg, result: PaymentResult) -> None:
    """A card typed on the provider's page is known to us only from its answers: its brand
    and last four digits (for receipts) and the token it kept for later charges."""
    changes = {}
    if result.source_last4 and result.source_last4 != leg.source_last4:
        changes["source_brand"] = result.source_brand[:20]
        changes["source_last4"] = result.source_last4[:4]
    expiry = (result.source_exp_month, result.source_exp_year)
    if all(isinstance(part, int) for part in expiry) and expiry != (
        leg.source_exp_month,
        leg.source_exp_year,
    ):
        changes["source_exp_month"], changes["source_exp_year"] = expiry
    if result.saved_source and result.saved_source != leg.saved_source:
        changes["saved_source"] = result.saved_source[:80]
    if changes:
        Leg.objects.filter(pk=leg.pk).update(**changes)
        for name, value in changes.items():
            setattr(leg, name, value)


_NOTHING_TAKEN = {Leg.Status.FAILED, Leg.Status.VOIDED}


def checkout_status_of(legs: Iterable[Leg]) -> str:
    """The checkout's status as its legs tell it.

    A checkout succeeds only when every leg is captured, and is over without taking anything
    only when every leg is failed or voided (failed when one was refused, cancelled when
    the holds were released); anything in between is still being worked on.
    """
    statuses = {leg.status for leg in legs}
    if not statuses:
        return Checkout.Status.PENDING
    if statuses == {Leg.Status.CAPTURED}:
        return Checkout.Status.SUCCEEDED
    if statuses <= {Leg.Status.REFUNDED, *_NOTHING_TAKEN} and Leg.Status.REFUNDED in statuses:
        return Checkout.Status.REFUNDED
    if statuses <= set(Leg.TAKEN) | _NOTHING_TAKEN and statuses & {
        Leg.Status.REFUNDED,
        Leg.Status.PARTIALLY_REFUNDED,
    }:
        return Checkout.Status.PARTIALLY_REFUNDED
    if statuses <= _NOTHING_TAKEN:
        return (
            Checkout.Status.FAILED if Leg.Status.FAILED in statuses else Checkout.Status.CANCELLED
        )
    if Leg.Status.REQUIRES_ACTION in statuses:
        return Checkout.Status.REQUIRES_ACTION
    if statuses == {Leg.Status.AUTHORISED}:
        return Checkout.Status.AUTHORISED
    return Checkout.Status.PENDING


def checkout_sync(checkout: Checkout, **fields) -> Checkout:
    """Set the checkout's status from its legs (guarded by ``Checkout.TRANSITIONS``).

    Call inside the transaction that moved the legs, with the checkout row locked.
    """
    target = checkout_status_of(Leg.objects.filter(checkout=checkout))
    if target != checkout.status and target not in Checkout.TRANSITIONS[checkout.status]:
        raise StateConflict(
            f"A {checkout.status} checkout cannot become {target}.",
            code="invalid_status_transition",
            field="status",
        )
    checkout.status = target
    for name, value in fields.items():
        setattr(checkout, name, value)
    checkout.save()
    return checkout
