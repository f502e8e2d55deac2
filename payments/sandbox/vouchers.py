"""The holiday-voucher sandbox: a fake ANCV Chèque-Vacances Connect with its own books.

A few documented beneficiary numbers pick the outcome (``TEST_BENEFICIARIES``, listed with
the test cards in docs/payments-sandbox.md); any other well-formed number is unknown. As
with the card sandbox, every money-moving call takes an idempotency key and a key seen
before replays the first outcome without moving anything; moves the caller must never try
(capture more than held, refund more than taken) raise ``StateConflict`` and record nothing.

The balance a beneficiary can spend is what they opened with, less what is held or taken,
plus what was released or re-credited: a refund goes back to the voucher account, never to
cash, as with real Chèques-Vacances.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Sum

from merchants.models import Merchant
from pushpay.errors import DoesNotExist, InvalidInput, StateConflict

from .services import SandboxTimeout, _key_reused, _validate_amount, _validate_key
from .voucher_models import SandboxVoucherAccount, SandboxVoucherEntry, SandboxVoucherHold

Status = SandboxVoucherHold.Status
Kind = SandboxVoucherEntry.Kind

# Beneficiary number -> opening balance in cents. The last one holds money but its answers
# never arrive, like the timeout card.
TEST_BENEFICIARIES = {
    "1000000050": 5000,
    "1000000000": 0,
    "1000009999": 100000,
}
TIMEOUT_BENEFICIARY = "1000009999"
CURRENCY = "EUR"


@dataclass(frozen=True)
class VoucherMovement:
    """What a capture, void or refund did: the hold after it and the statement line
    (``None`` when nothing moved, as when voiding a hold already released)."""

    hold: SandboxVoucherHold
    entry: SandboxVoucherEntry | None


@dataclass(frozen=True)
class VoucherBalance:
    """One account as its statement tells it, in cents of ``currency``."""

    number: str
    available: int
    held: int
    spent: int
    currency: str


def beneficiary_number_clean(number: object) -> str:
    """The number as the provider stores it (spaces dropped), or ``InvalidInput``: a number
    that is not ten digits never reaches the books."""
    if not isinstance(number, str):
        number = ""
    cleaned = number.replace(" ", "")
    if len(cleaned) != 10 or not cleaned.isascii() or not cleaned.isdigit():
        raise InvalidInput(
            "A beneficiary number has 10 digits.",
            code="invalid_beneficiary_number",
            field="source",
        )
    return cleaned


def _account(merchant: Merchant, number: str, *, livemode: bool, lock: bool):
    """The beneficiary's account, opened at its documented balance on first use."""
    number = beneficiary_number_clean(number)
    if number not in TEST_BENEFICIARIES:
        # The payer typed it: a payer's mistake to show on the form, not a missing object.
        raise InvalidInput(
            "No holiday-voucher account has this beneficiary number.",
            code="unknown_beneficiary",
            field="source",
        )
    rows = SandboxVoucherAccount.objects.filter(merchant=merchant, livemode=livemode, number=number)
    account = (rows.select_for_update() if lock else rows).first()
    if account is None:
        try:
            with transaction.atomic():
                account = SandboxVoucherAccount.objects.create(
                    merchant=merchant,
                    livemode=livemode,
                    number=number,
                    currency=CURRENCY,
                    opening_balance=TEST_BENEFICIARIES[number],
                    balance=TEST_BENEFICIARIES[number],
                )
        except IntegrityError:  # opened by a concurrent first use
            account = (rows.select_for_update() if lock else rows).get()
    return account


def _entry(hold: SandboxVoucherHold, kind: str, amount: int, key: str, reason: str = ""):
    return SandboxVoucherEntry.objects.create(
        merchant_id=hold.merchant_id,
        account_id=hold.account_id,
        hold=hold,
        kind=kind,
        amount=amount,
        status=SandboxVoucherEntry.Status.FAILED
        if reason
        else SandboxVoucherEntry.Status.SUCCEEDED,
        failure_reason=reason,
        idempotency_key=key,
    )


def _transition(hold: SandboxVoucherHold, target: str) -> None:
    if hold.status != target and target not in SandboxVoucherHold.TRANSITIONS[hold.status]:
        raise StateConflict(
            f"A voucher hold that is {hold.status} cannot become {target}.",
            code="invalid_status_transition",
            field="reference",
        )
    hold.status = target


def _credit(account_id: int, amount: int) -> None:
    account = SandboxVoucherAccount.objects.select_for_update().get(pk=account_id)
    account.balance += amount
    account.save(update_fields=["balance", "updated_at"])


def _replay_hold(existing: SandboxVoucherHold, number: str, amount: int) -> SandboxVoucherHold:
    if existing.account.number != number or existing.amount != amount:
        raise _key_reused("authorisation")
    return existing


def voucher_authorise(
    *,
    merchant: Merchant,
    number: str,
    amount: int,
    currency: str,
    idempotency_key: str,
    livemode: bool = False,
) -> SandboxVoucherHold:
    """Hold ``amount`` of the beneficiary's balance, or refuse when it does not cover it.

    For the timeout number the hold is made and committed before ``SandboxTimeout`` is
    raised: only a retry with the same key finds it again.
    """
    _validate_amount(amount)
    _validate_key(idempotency_key)
    if currency != CURRENCY:
        raise InvalidInput(
            "Holiday vouchers only pay in euros.", code="currency_not_accepted", field="currency"
        )
    number = beneficiary_number_clean(number)
    existing = (
        SandboxVoucherHold.objects.select_related("account")
        .filter(merchant=merchant, idempotency_key=idempotency_key)
        .first()
    )
    if existing is not None:
        return _replay_hold(existing, number, amount)
    try:
        with transaction.atomic():
            account = _account(merchant, number, livemode=livemode, lock=True)
            hold = SandboxVoucherHold(
                merchant=merchant,
                account=account,
                currency=CURRENCY,
                amount=amount,
                idempotency_key=idempotency_key,
            )
            if account.balance < amount:
                hold.status = Status.FAILED
                hold.failure_reason = SandboxVoucherHold.FailureReason.INSUFFICIENT_FUNDS
                hold.save()
                _entry(hold, Kind.HOLD, amount, idempotency_key, hold.failure_reason)
            else:
                hold.status = Status.AUTHORISED
                hold.save()
                _entry(hold, Kind.HOLD, amount, idempotency_key)
                account.balance -= amount
                account.save(update_fields=["balance", "updated_at"])
    except IntegrityError:
        existing = (
            SandboxVoucherHold.objects.select_related("account")
            .filter(merchant=merchant, idempotency_key=idempotency_key)
            .first()
        )
        if existing is None:
            raise
        return _replay_hold(existing, number, amount)
    if number == TIMEOUT_BENEFICIARY:
        raise SandboxTimeout(hold)
    return hold


def _lock_hold(merchant: Merchant, reference: str) -> SandboxVoucherHold:
    try:
        return (
            SandboxVoucherHold.objects.select_for_update()
            .select_related("account")
            .get(merchant=merchant, public_id=reference)
        )
    except SandboxVoucherHold.DoesNotExist:
        raise DoesNotExist(
            f"No such voucher hold: '{reference}'.", code="not_found", field="reference"
        ) from None


def _previous(merchant: Merchant, kind: str, key: str, hold: SandboxVoucherHold, amount):
    previous = SandboxVoucherEntry.objects.filter(
        merchant=merchant, kind=kind, idempotency_key=key
    ).first()
    if previous is None:
        return None
    if previous.hold_id != hold.pk or (amount is not None and previous.amount != amount):
        raise _key_reused(kind)
    return VoucherMovement(hold=hold, entry=previous)


def voucher_capture(
    *, merchant: Merchant, reference: str, amount: int, idempotency_key: str
) -> VoucherMovement:
    """Take ``amount`` of what the hold set aside."""
    _validate_amount(amount)
    _validate_key(idempotency_key)
    with transaction.atomic():
        hold = _lock_hold(merchant, reference)
        replay = _previous(merchant, Kind.CAPTURE, idempotency_key, hold, amount)
        if replay is not None:
            return replay
        if hold.status != Status.AUTHORISED:
            raise StateConflict(
                f"Nothing can be captured from a voucher hold that is {hold.status}.",
                code="not_capturable",
                field="reference",
            )
        if amount > hold.amount_held:
            raise StateConflict(
                f"Cannot capture {amount}: only {hold.amount_held} is still held.",
                code="capture_exceeds_hold",
                field="amount",
            )
        entry = _entry(hold, Kind.CAPTURE, amount, idempotency_key)
        hold.amount_captured += amount
        if hold.amount_held == 0:
            _transition(hold, Status.CAPTURED)
        hold.save(update_fields=["amount_captured", "status", "updated_at"])
    return VoucherMovement(hold=hold, entry=entry)


def voucher_void(*, merchant: Merchant, reference: str, idempotency_key: str) -> VoucherMovement:
    """Give back to the balance what is still held; voiding twice is a no-op."""
    _validate_key(idempotency_key)
    with transaction.atomic():
        hold = _lock_hold(merchant, reference)
        replay = _previous(merchant, Kind.VOID, idempotency_key, hold, None)
        if replay is not None:
            return replay
        if hold.status == Status.CANCELLED:
            return VoucherMovement(hold=hold, entry=None)
        if hold.status != Status.AUTHORISED:
            raise StateConflict(
                f"Nothing is held on a voucher hold that is {hold.status}.",
                code="not_voidable",
                field="reference",
            )
        held = hold.amount_held
        entry = _entry(hold, Kind.VOID, held, idempotency_key)
        hold.amount_released += held
        _transition(hold, Status.CAPTURED if hold.amount_captured else Status.CANCELLED)
        hold.save(update_fields=["amount_released", "status", "updated_at"])
        _credit(hold.account_id, held)
    return VoucherMovement(hold=hold, entry=entry)


def voucher_refund(
    *, merchant: Merchant, reference: str, amount: int, idempotency_key: str
) -> VoucherMovement:
    """Re-credit ``amount`` of what was taken to the voucher account (never as cash)."""
    _validate_amount(amount)
    _validate_key(idempotency_key)
    with transaction.atomic():
        hold = _lock_hold(merchant, reference)
        replay = _previous(merchant, Kind.REFUND, idempotency_key, hold, amount)
        if replay is not None:
            return replay
        refundable = hold.amount_captured - hold.amount_refunded
        if amount > refundable:
            raise StateConflict(
                f"Cannot refund {amount}: only {refundable} was taken and not yet refunded.",
                code="refund_exceeds_debit",
                field="amount",
            )
        entry = _entry(hold, Kind.REFUND, amount, idempotency_key)
        hold.amount_refunded += amount
        if hold.amount_refunded == hold.amount_captured and hold.status == Status.CAPTURED:
            _transition(hold, Status.REFUNDED)
        hold.save(update_fields=["amount_refunded", "status", "updated_at"])
        _credit(hold.account_id, amount)
    return VoucherMovement(hold=hold, entry=entry)


# --- Reads ----------------------------------------------------------------------------------


def voucher_hold_get(*, merchant: Merchant, reference: str) -> SandboxVoucherHold:
    try:
        return SandboxVoucherHold.objects.select_related("account").get(
            merchant=merchant, public_id=reference
        )
    except SandboxVoucherHold.DoesNotExist:
        raise DoesNotExist(
            f"No such voucher hold: '{reference}'.", code="not_found", field="reference"
        ) from None


def voucher_balance(*, merchant: Merchant, number: str, livemode: bool = False) -> VoucherBalance:
    """The account's statement: what can be spent, what is held, what was spent.

    Summed from the statement lines alone; an account never used reads at its documented
    opening balance without being written.
    """
    number = beneficiary_number_clean(number)
    if number not in TEST_BENEFICIARIES:
        raise DoesNotExist(
            "No holiday-voucher account has this beneficiary number.",
            code="unknown_beneficiary",
            field="number",
        )
    account = SandboxVoucherAccount.objects.filter(
        merchant=merchant, livemode=livemode, number=number
    ).first()
    opening = account.opening_balance if account else TEST_BENEFICIARIES[number]
    totals: dict[str, int] = {}
    if account is not None:
        rows = account.entries.filter(status=SandboxVoucherEntry.Status.SUCCEEDED)
        for row in rows.values("kind").annotate(total=Sum("amount")).order_by():
            totals[row["kind"]] = row["total"]
    hold, capture = totals.get(Kind.HOLD, 0), totals.get(Kind.CAPTURE, 0)
    void, refund = totals.get(Kind.VOID, 0), totals.get(Kind.REFUND, 0)
    return VoucherBalance(
        number=number,
        available=opening - hold + void + refund,
        held=hold - capture - void,
        spent=capture - refund,
        currency=CURRENCY,
    )
