"""The sandbox PayPal: a fake PayPal (Orders v2, ``intent=AUTHORIZE``) with its own books.

The flow is PayPal's: create an order (nothing held), the payer approves or cancels at the
approval link, the merchant authorizes the approved order (the hold), then captures the
authorization (in parts if it likes), voids what is left, or refunds captures. The
``source`` given at creation picks the outcome (``SandboxPayPalOrder.Scenario``, documented
in docs/payments-sandbox.md).

The rules are the card sandbox's: every money-moving call takes an idempotency key, and a
key seen before replays the first outcome without moving anything; a payer's cancel and
PayPal's denial are outcomes and are recorded; moves the caller should never attempt
(capture more than held, capture after a void, refund more than taken) raise
``StateConflict`` and record nothing.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from merchants.models import Merchant
from pushpay.errors import InvalidInput, StateConflict
from pushpay.money import is_currency

from .paypal_locks import lock_paypal_approval, lock_paypal_order
from .paypal_models import SandboxPayPalLedgerEntry, SandboxPayPalOrder

# The card sandbox's input rules are the rules of every sandbox provider.
from .services import _key_reused, _validate_amount, _validate_key, _validate_return_url

Status = SandboxPayPalOrder.Status
Scenario = SandboxPayPalOrder.Scenario
Kind = SandboxPayPalLedgerEntry.Kind


class SandboxPayPalTimeout(Exception):
    """PayPal created the order but its answer never arrived (source ``paypal-timeout``)."""

    def __init__(self, order: SandboxPayPalOrder):
        super().__init__("The sandbox PayPal did not answer in time.")
        self.order = order


@dataclass(frozen=True)
class PayPalMovement:
    """What a capture, void or refund did: the order after it, and the ledger row (``None``
    when nothing moved, as when voiding an order nobody approved)."""

    order: SandboxPayPalOrder
    entry: SandboxPayPalLedgerEntry | None


def _transition(order: SandboxPayPalOrder, target: str) -> None:
    current = order.status
    if current == target:
        return
    if target not in SandboxPayPalOrder.TRANSITIONS[current]:
        raise StateConflict(
            f"A sandbox PayPal order that is {current} cannot become {target}.",
            code="invalid_status_transition",
            field="reference",
        )
    order.status = target


def _entry(
    order: SandboxPayPalOrder, kind: str, amount: int, key: str, *, failed: bool = False
) -> SandboxPayPalLedgerEntry:
    return SandboxPayPalLedgerEntry.objects.create(
        merchant_id=order.merchant_id,
        order=order,
        kind=kind,
        amount=amount,
        currency=order.currency,
        status=(
            SandboxPayPalLedgerEntry.Status.FAILED
            if failed
            else SandboxPayPalLedgerEntry.Status.SUCCEEDED
        ),
        idempotency_key=key,
    )


# --- Create, approve, authorize -------------------------------------------------------------


def _replay_create(
    existing: SandboxPayPalOrder, scenario: str, amount: int, currency: str, return_url: str
) -> SandboxPayPalOrder:
    same = (
        existing.scenario == scenario
        and existing.amount == amount
        and existing.currency == currency
        and existing.return_url == return_url
    )
    if not same:
        raise _key_reused("PayPal order")
    return existing


def sandbox_paypal_order_create(
    *,
    merchant: Merchant,
    source: str,
    amount: int,
    currency: str,
    idempotency_key: str,
    return_url: str = "",
) -> SandboxPayPalOrder:
    """Create an order for the payer to approve; nothing is held yet.

    A key seen before returns the order it created, as it stands now. For the
    ``paypal-timeout`` source the order *is* created and committed before
    ``SandboxPayPalTimeout`` is raised, as when PayPal's answer is lost on the way back:
    only a retry with the same key finds it again.
    """
    _validate_amount(amount)
    if not is_currency(currency):
        raise InvalidInput(
            f"'{currency}' is not an ISO 4217 currency code.",
            code="unknown_currency",
            field="currency",
        )
    _validate_key(idempotency_key)
    _validate_return_url(return_url)
    if source not in Scenario.values:
        raise InvalidInput(
            "The PayPal source must be 'paypal' (or a documented sandbox scenario).",
            code="unknown_source",
            field="source",
        )
    existing = SandboxPayPalOrder.objects.filter(
        merchant=merchant, idempotency_key=idempotency_key
    ).first()
    if existing is not None:
        return _replay_create(existing, source, amount, currency, return_url)
    try:
        with transaction.atomic():
            order = SandboxPayPalOrder.objects.create(
                merchant=merchant,
                scenario=source,
                amount=amount,
                currency=currency,
                return_url=return_url,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        # The same key raced us and won: replay its order instead of creating a second one.
        existing = SandboxPayPalOrder.objects.filter(
            merchant=merchant, idempotency_key=idempotency_key
        ).first()
        if existing is None:
            raise
        return _replay_create(existing, source, amount, currency, return_url)
    if order.scenario == Scenario.TIMEOUT:
        raise SandboxPayPalTimeout(order)
    return order


def sandbox_paypal_order_decide(*, public_id: str, approve: bool) -> SandboxPayPalOrder:
    """The payer's answer at the approval link. Answering twice changes nothing: the first
    answer stands, as a double click or a reload must not flip it, and an order the merchant
    already voided can no longer be approved."""
    with transaction.atomic():
        order = lock_paypal_approval(public_id=public_id)
        if order.status != Status.CREATED:
            return order
        _transition(order, Status.APPROVED if approve else Status.PAYER_CANCELLED)
        order.save(update_fields=["status", "updated_at"])
    return order


def sandbox_paypal_order_authorize(*, merchant: Merchant, reference: str) -> SandboxPayPalOrder:
    """Authorize an approved order: hold its amount (or, for ``paypal-denied``, refuse).

    Any other state is returned as it is, so asking again after the hold exists (a retry
    after a lost answer, the saga's ``retrieve``) never holds twice.
    """
    with transaction.atomic():
        order = lock_paypal_order(merchant=merchant, public_id=reference)
        if order.status != Status.APPROVED:
            return order
        denied = order.scenario == Scenario.DENY
        _transition(order, Status.DENIED if denied else Status.COMPLETED)
        _entry(order, Kind.HOLD, order.amount, order.idempotency_key, failed=denied)
        order.save(update_fields=["status", "updated_at"])
    return order


# --- Capture, void, refund ------------------------------------------------------------------


def _previous(merchant: Merchant, kind: str, key: str) -> SandboxPayPalLedgerEntry | None:
    return SandboxPayPalLedgerEntry.objects.filter(
        merchant=merchant, kind=kind, idempotency_key=key
    ).first()


def _replay(
    previous: SandboxPayPalLedgerEntry, order: SandboxPayPalOrder, amount: int | None
) -> PayPalMovement:
    if previous.order_id != order.pk or (amount is not None and previous.amount != amount):
        raise _key_reused(previous.kind)
    return PayPalMovement(order=order, entry=previous)


def sandbox_paypal_capture(
    *, merchant: Merchant, reference: str, amount: int, idempotency_key: str
) -> PayPalMovement:
    """Capture ``amount`` of the authorization; several partial captures may share it."""
    _validate_amount(amount)
    _validate_key(idempotency_key)
    with transaction.atomic():
        # Lock first, then look for the key: a concurrent call with the same key has then
        # either committed its row (and we replay it) or not started.
        order = lock_paypal_order(merchant=merchant, public_id=reference)
        previous = _previous(merchant, Kind.CAPTURE, idempotency_key)
        if previous is not None:
            return _replay(previous, order, amount)
        if order.status != Status.COMPLETED:
            raise StateConflict(
                f"Nothing can be captured from a PayPal order that is {order.status}.",
                code="not_capturable",
                field="reference",
            )
        held = order.amount_held
        if amount > held:
            raise StateConflict(
                f"Cannot capture {amount}: only {held} is still authorized.",
                code="capture_exceeds_hold",
                field="amount",
            )
        entry = _entry(order, Kind.CAPTURE, amount, idempotency_key)
        order.amount_captured += amount
        if order.amount_held == 0:
            _transition(order, Status.CAPTURED)
        order.save(update_fields=["amount_captured", "status", "updated_at"])
    return PayPalMovement(order=order, entry=entry)


# Nothing was ever held on these: a void has nothing to release and changes nothing, so an
# unwinding saga may void an order the payer cancelled, or void twice.
_NOTHING_TO_RELEASE = (Status.VOIDED, Status.PAYER_CANCELLED, Status.DENIED)


def sandbox_paypal_void(
    *, merchant: Merchant, reference: str, idempotency_key: str
) -> PayPalMovement:
    """Release what is still authorized; an order not yet authorized is voided outright (its
    approval link stops working). An order with nothing held and something captured is
    refused: that needs a refund."""
    _validate_key(idempotency_key)
    with transaction.atomic():
        order = lock_paypal_order(merchant=merchant, public_id=reference)
        previous = _previous(merchant, Kind.VOID, idempotency_key)
        if previous is not None:
            return _replay(previous, order, None)
        if order.status in _NOTHING_TO_RELEASE:
            return PayPalMovement(order=order, entry=None)
        if order.status in (Status.CREATED, Status.APPROVED):
            _transition(order, Status.VOIDED)
            order.save(update_fields=["status", "updated_at"])
            return PayPalMovement(order=order, entry=None)
        if order.status != Status.COMPLETED:
            raise StateConflict(
                f"Nothing is authorized on a PayPal order that is {order.status}.",
                code="not_voidable",
                field="reference",
            )
        held = order.amount_held
        entry = _entry(order, Kind.VOID, held, idempotency_key)
        order.amount_released += held
        _transition(order, Status.CAPTURED if order.amount_captured else Status.VOIDED)
        order.save(update_fields=["amount_released", "status", "updated_at"])
    return PayPalMovement(order=order, entry=entry)


def sandbox_paypal_refund(
    *, merchant: Merchant, reference: str, amount: int, idempotency_key: str
) -> PayPalMovement:
    """Give back part or all of what was captured, never more."""
    _validate_amount(amount)
    _validate_key(idempotency_key)
    with transaction.atomic():
        order = lock_paypal_order(merchant=merchant, public_id=reference)
        previous = _previous(merchant, Kind.REFUND, idempotency_key)
        if previous is not None:
            return _replay(previous, order, amount)
        refundable = order.amount_captured - order.amount_refunded
        if amount > refundable:
            raise StateConflict(
                f"Cannot refund {amount}: only {refundable} was captured and not yet refunded.",
                code="refund_exceeds_debit",
                field="amount",
            )
        entry = _entry(order, Kind.REFUND, amount, idempotency_key)
        order.amount_refunded += amount
        if order.amount_refunded == order.amount_captured and order.status == Status.CAPTURED:
            _transition(order, Status.REFUNDED)
        order.save(update_fields=["amount_refunded", "status", "updated_at"])
    return PayPalMovement(order=order, entry=entry)
