"""The cashback wallet: the merchant's own stored value for its customers.

This module owns every change to a wallet: opening one, crediting it (cashback or goodwill),
holding, capturing, releasing and refunding for the payment adapter, operators'
adjustments, expiry, and the cashback a merchant's rule grants on captured card and PayPal
payments (and takes back on refund).

Every movement runs in one transaction under the wallet's row lock (``_lock_wallet``), is
one balanced ledger entry, and carries an idempotency key unique per merchant: a call
repeated with its key finds the first movement instead of making another. Locks are taken
in one order everywhere: wallet, then hold, then the wallet's lots.

Which credit a spend comes from (documented for holders and operators): **oldest credit
first** (FIFO by the order credits were made). A credit past its ``expires_at`` is never
spent, even before the expiry job has removed it; the job then removes exactly what is left
of it with an ``expiry`` entry. A release puts the money back in the very credits it came
from; a refund re-credits what was spent as a new credit carrying the latest expiry of the
credits the payment used (none if any of them never expired).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from merchants.models import Merchant
from pushpay.contact import email_checked, phone_checked
from pushpay.errors import DoesNotExist, InvalidInput, StateConflict
from pushpay.i18n import LANGUAGE_CODES
from requests_app.services import validate_amount

from .models import (
    CashbackGrant,
    CashbackRule,
    Wallet,
    WalletHold,
    WalletLot,
    WalletLotUse,
    WalletPosting,
    WalletTransaction,
)

Kind = WalletTransaction.Kind
Account = WalletPosting.Account
HoldStatus = WalletHold.Status

MAX_KEY_LENGTH = WalletTransaction._meta.get_field("idempotency_key").max_length
MAX_REASON_LENGTH = WalletTransaction._meta.get_field("reason").max_length
# Methods whose captured money earns cashback: money that really came in, not stored value.
CASHBACK_METHODS = ("card", "paypal")


# --- Helpers ---------------------------------------------------------------------------------


def _validate_key(key: object) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"An idempotency key is 1 to {MAX_KEY_LENGTH} characters.",
            code="invalid_idempotency_key",
            field="idempotency_key",
        )
    return key


def _new_key(prefix: str) -> str:
    return f"{prefix}:{secrets.token_urlsafe(18)}"


def _key_reused(what: str) -> StateConflict:
    return StateConflict(
        f"This idempotency key was already used for a different {what}.",
        code="idempotency_key_reused",
        field="idempotency_key",
    )


def _reason(reason: object, *, required: bool) -> str:
    if reason is None:
        reason = ""
    if not isinstance(reason, str) or len(reason) > MAX_REASON_LENGTH or "\x00" in reason:
        raise InvalidInput(
            f"A reason is text of at most {MAX_REASON_LENGTH} characters.",
            code="invalid_reason",
            field="reason",
        )
    reason = reason.strip()
    if required and not reason:
        raise InvalidInput("Say why (a reason is required).", code="required", field="reason")
    return reason


def _lock_wallet(pk: int) -> Wallet:
    """The wallet's row, locked until the transaction ends: every movement takes it first,
    so two spends of one wallet are serialised and the balance check cannot be raced."""
    return Wallet.objects.select_for_update().get(pk=pk)


def _previous(merchant_id: int, key: str) -> WalletTransaction | None:
    return WalletTransaction.objects.filter(merchant_id=merchant_id, idempotency_key=key).first()


def _post(
    wallet: Wallet,
    kind: str,
    amount: int,
    key: str,
    postings: list[tuple[str, int]],
    **fields,
) -> WalletTransaction:
    """Write one balanced entry and move the cached totals with it (wallet locked)."""
    if sum(value for _account, value in postings) != 0:
        raise ValueError(f"An unbalanced {kind} entry: {postings}")
    entry = WalletTransaction.objects.create(
        merchant_id=wallet.merchant_id,
        livemode=wallet.livemode,
        wallet=wallet,
        kind=kind,
        amount=amount,
        currency=wallet.currency,
        idempotency_key=key,
        **fields,
    )
    WalletPosting.objects.bulk_create(
        [
            WalletPosting(transaction=entry, wallet=wallet, account=account, amount=value)
            for account, value in postings
        ]
    )
    for account, value in postings:
        if account == Account.AVAILABLE:
            wallet.balance += value
        elif account == Account.HELD:
            wallet.held += value
    wallet.save(update_fields=["balance", "held", "updated_at"])
    return entry


def _new_lot(wallet: Wallet, entry: WalletTransaction, expires_at: datetime | None) -> WalletLot:
    return WalletLot.objects.create(
        wallet=wallet,
        transaction=entry,
        amount=entry.amount,
        remaining=entry.amount,
        expires_at=expires_at,
    )


def _spendable_lots(wallet: Wallet, now: datetime) -> list[WalletLot]:
    """The wallet's unexpired credits with something left, oldest first (the FIFO rule)."""
    return list(
        WalletLot.objects.select_for_update()
        .filter(wallet=wallet, remaining__gt=0)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("id")
    )


def _consume(lots: list[WalletLot], amount: int) -> list[tuple[WalletLot, int]]:
    """Take ``amount`` from ``lots`` in order; the caller checked they cover it."""
    taken = []
    left = amount
    for lot in lots:
        if left == 0:
            break
        part = min(left, lot.remaining)
        lot.remaining -= part
        lot.save(update_fields=["remaining"])
        taken.append((lot, part))
        left -= part
    if left:
        raise ValueError("The lots do not cover the amount.")
    return taken


# --- Opening ---------------------------------------------------------------------------------


def holder_clean(*, holder_email: object = "", holder_phone: object = "") -> tuple[str, str]:
    """Exactly one of an email (lower-cased) or an E.164 phone, as the wallet stores it."""
    has_email = holder_email not in (None, "")
    has_phone = holder_phone not in (None, "")
    if has_email == has_phone:
        raise InvalidInput(
            "Give the holder's email or phone number (one of them).",
            code="holder_required",
            field="holder_email",
        )
    if has_email:
        return email_checked(holder_email, field="holder_email").lower(), ""
    return "", phone_checked(holder_phone, field="holder_phone")


def wallet_create(
    *,
    merchant: Merchant,
    livemode: bool,
    holder_email: object = "",
    holder_phone: object = "",
    language: str | None = None,
    currency: str | None = None,
) -> Wallet:
    """Open a wallet for a holder; one holder has one wallet per merchant and mode, so a
    second one is refused (``wallet_exists``) rather than splitting their balance."""
    email, phone = holder_clean(holder_email=holder_email, holder_phone=holder_phone)
    language = language or merchant.default_language or "fr"
    if language not in LANGUAGE_CODES:
        raise InvalidInput("Unknown language.", code="invalid_language", field="language")
    existing = _holder_wallets(merchant, livemode, email, phone).first()
    if existing is not None:
        raise _exists(email)
    try:
        with transaction.atomic():
            return Wallet.objects.create(
                merchant=merchant,
                livemode=livemode,
                holder_email=email,
                holder_phone=phone,
                language=language,
                currency=currency or merchant.default_currency,
            )
    except IntegrityError:  # opened by a concurrent call
        raise _exists(email) from None


def _exists(email: str) -> StateConflict:
    return StateConflict(
        "This holder already has a wallet.",
        code="wallet_exists",
        field="holder_email" if email else "holder_phone",
    )


def _holder_wallets(merchant: Merchant, livemode: bool, email: str, phone: str):
    rows = Wallet.objects.filter(merchant=merchant, livemode=livemode)
    return rows.filter(holder_email=email) if email else rows.filter(holder_phone=phone)


def _wallet_for_holder(
    merchant: Merchant, livemode: bool, email: str, phone: str, language: str, currency: str
) -> Wallet:
    """The holder's wallet, opened on first use (cashback to a payer who has none yet)."""
    wallet = _holder_wallets(merchant, livemode, email, phone).first()
    if wallet is not None:
        return wallet
    try:
        with transaction.atomic():
            return Wallet.objects.create(
                merchant=merchant,
                livemode=livemode,
                holder_email=email,
                holder_phone=phone,
                language=language if language in LANGUAGE_CODES else "fr",
                currency=currency,
            )
    except IntegrityError:
        return _holder_wallets(merchant, livemode, email, phone).get()


# --- Credits and adjustments -----------------------------------------------------------------


def wallet_credit(
    *,
    wallet: Wallet,
    amount: int,
    source: str = WalletTransaction.Source.GOODWILL,
    reason: str = "",
    expires_at: datetime | None = None,
    idempotency_key: str | None = None,
    reference: str = "",
) -> WalletTransaction:
    """Give the holder ``amount`` (cashback or goodwill), spendable until ``expires_at``."""
    validate_amount(amount, "amount")
    if source not in WalletTransaction.Source.values:
        raise InvalidInput("Unknown credit source.", code="invalid_source", field="source")
    reason = _reason(reason, required=False)
    now = timezone.now()
    if expires_at is not None:
        if timezone.is_naive(expires_at):
            raise InvalidInput(
                "Give the expiry with its time zone.", code="invalid_datetime", field="expires_at"
            )
        if expires_at <= now:
            raise InvalidInput(
                "The expiry must be in the future.", code="expires_in_past", field="expires_at"
            )
    key = _validate_key(idempotency_key or _new_key("credit"))
    with transaction.atomic():
        wallet = _lock_wallet(wallet.pk)
        previous = _previous(wallet.merchant_id, key)
        if previous is not None:
            if (previous.wallet_id, previous.kind, previous.amount) != (
                wallet.pk,
                Kind.CREDIT,
                amount,
            ):
                raise _key_reused("credit")
            return previous
        account = (
            Account.CASHBACK if source == WalletTransaction.Source.CASHBACK else Account.GOODWILL
        )
        entry = _post(
            wallet,
            Kind.CREDIT,
            amount,
            key,
            [(Account.AVAILABLE, amount), (account, -amount)],
            source=source,
            reason=reason,
            reference=reference,
            expires_at=expires_at,
        )
        _new_lot(wallet, entry, expires_at)
        if source == WalletTransaction.Source.CASHBACK:
            from .outbox import cashback_notice_plan

            cashback_notice_plan(entry=entry)
    return entry


def wallet_adjust(
    *, wallet: Wallet, amount: int, reason: str, idempotency_key: str | None = None
) -> WalletTransaction:
    """An operator's correction: ``amount`` added (positive) or removed (negative), with the
    reason written on the entry. Removing more than the balance is refused: a wallet never
    goes below zero."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise InvalidInput(
            "An adjustment is a non-zero integer in minor units.",
            code="invalid_amount",
            field="amount",
        )
    validate_amount(abs(amount), "amount")
    reason = _reason(reason, required=True)
    key = _validate_key(idempotency_key or _new_key("adjustment"))
    with transaction.atomic():
        wallet = _lock_wallet(wallet.pk)
        previous = _previous(wallet.merchant_id, key)
        if previous is not None:
            signed = previous.postings.get(account=Account.AVAILABLE).amount
            if (previous.wallet_id, previous.kind, signed) != (wallet.pk, Kind.ADJUSTMENT, amount):
                raise _key_reused("adjustment")
            return previous
        if amount < 0 and -amount > wallet.balance:
            raise StateConflict(
                f"The wallet holds {wallet.balance}: {-amount} cannot be removed.",
                code="insufficient_balance",
                field="amount",
            )
        entry = _post(
            wallet,
            Kind.ADJUSTMENT,
            abs(amount),
            key,
            [(Account.AVAILABLE, amount), (Account.ADJUSTMENT, -amount)],
            reason=reason,
        )
        if amount > 0:
            _new_lot(wallet, entry, None)
        else:
            _consume(_all_lots(wallet), -amount)
    return entry


def _all_lots(wallet: Wallet) -> list[WalletLot]:
    """Every lot with something left, expired or not, oldest first: what a removal (an
    adjustment, a reversal) takes from, since it takes from the balance itself."""
    return list(
        WalletLot.objects.select_for_update().filter(wallet=wallet, remaining__gt=0).order_by("id")
    )


# --- Spending (the adapter's calls) ---------------------------------------------------------


def wallet_spendable(*, wallet: Wallet, now: datetime | None = None) -> int:
    """What the holder can spend now: the balance less credits past their expiry that the
    expiry job has not removed yet."""
    now = now or timezone.now()
    total = (
        WalletLot.objects.filter(wallet=wallet, remaining__gt=0)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .aggregate(total=Sum("remaining"))["total"]
    )
    return total or 0


def wallet_hold(*, wallet: Wallet, amount: int, currency: str, idempotency_key: str) -> WalletHold:
    """Set ``amount`` aside for a payment, or refuse (a ``failed`` hold, nothing moved) when
    the unexpired balance does not cover it. Replays the first hold for a key seen before."""
    validate_amount(amount, "amount")
    key = _validate_key(idempotency_key)
    with transaction.atomic():
        wallet = _lock_wallet(wallet.pk)
        existing = WalletHold.objects.filter(merchant_id=wallet.merchant_id, idempotency_key=key)
        existing = existing.first()
        if existing is not None:
            if (existing.wallet_id, existing.amount) != (wallet.pk, amount):
                raise _key_reused("authorisation")
            return existing
        hold = WalletHold(
            merchant_id=wallet.merchant_id,
            livemode=wallet.livemode,
            wallet=wallet,
            currency=currency,
            amount=amount,
            idempotency_key=key,
        )
        if currency != wallet.currency:
            hold.status, hold.failure_reason = HoldStatus.FAILED, "currency_not_accepted"
            hold.save()
            return hold
        lots = _spendable_lots(wallet, timezone.now())
        if sum(lot.remaining for lot in lots) < amount:
            hold.status, hold.failure_reason = HoldStatus.FAILED, "insufficient_funds"
            hold.save()
            return hold
        hold.status = HoldStatus.AUTHORISED
        hold.save()
        WalletLotUse.objects.bulk_create(
            [WalletLotUse(hold=hold, lot=lot, amount=part) for lot, part in _consume(lots, amount)]
        )
        _post(
            wallet,
            Kind.HOLD,
            amount,
            key,
            [(Account.AVAILABLE, -amount), (Account.HELD, amount)],
            hold=hold,
        )
    return hold


@dataclass(frozen=True)
class WalletMovement:
    """What a capture, release or refund did: the hold after it and its ledger entry
    (``None`` when nothing moved, as when releasing a hold already released)."""

    hold: WalletHold
    entry: WalletTransaction | None


def _locked_hold(merchant: Merchant, reference: str) -> tuple[Wallet, WalletHold]:
    """The hold and its wallet, both locked, wallet first (the one lock order)."""
    found = (
        WalletHold.objects.filter(merchant=merchant, public_id=reference)
        .values_list("wallet_id", flat=True)
        .first()
        if isinstance(reference, str)
        else None
    )
    if found is None:
        raise DoesNotExist(
            f"No such wallet hold: '{reference}'.", code="not_found", field="reference"
        )
    wallet = _lock_wallet(found)
    return wallet, WalletHold.objects.select_for_update().get(
        merchant=merchant, public_id=reference
    )


def _replay_movement(
    merchant: Merchant, key: str, kind: str, hold: WalletHold, amount: int | None
) -> WalletMovement | None:
    previous = _previous(merchant.pk, key)
    if previous is None:
        return None
    if (previous.kind, previous.hold_id) != (kind, hold.pk) or (
        amount is not None and previous.amount != amount
    ):
        raise _key_reused(kind)
    return WalletMovement(hold=hold, entry=previous)


def _transition(hold: WalletHold, target: str) -> None:
    if hold.status != target and target not in WalletHold.TRANSITIONS[hold.status]:
        raise StateConflict(
            f"A wallet hold that is {hold.status} cannot become {target}.",
            code="invalid_status_transition",
            field="reference",
        )
    hold.status = target


def wallet_capture(
    *, merchant: Merchant, reference: str, amount: int, idempotency_key: str
) -> WalletMovement:
    """Take ``amount`` of what the hold set aside: the holder has spent it."""
    validate_amount(amount, "amount")
    key = _validate_key(idempotency_key)
    with transaction.atomic():
        wallet, hold = _locked_hold(merchant, reference)
        replay = _replay_movement(merchant, key, Kind.CAPTURE, hold, amount)
        if replay is not None:
            return replay
        if hold.status != HoldStatus.AUTHORISED:
            raise StateConflict(
                f"Nothing can be captured from a wallet hold that is {hold.status}.",
                code="not_capturable",
                field="reference",
            )
        if amount > hold.amount_held:
            raise StateConflict(
                f"Cannot capture {amount}: only {hold.amount_held} is still held.",
                code="capture_exceeds_hold",
                field="amount",
            )
        entry = _post(
            wallet,
            Kind.CAPTURE,
            amount,
            key,
            [(Account.HELD, -amount), (Account.CAPTURED, amount)],
            hold=hold,
        )
        hold.amount_captured += amount
        if hold.amount_held == 0:
            _transition(hold, HoldStatus.CAPTURED)
        hold.save(update_fields=["amount_captured", "status", "updated_at"])
    return WalletMovement(hold=hold, entry=entry)


def wallet_release(*, merchant: Merchant, reference: str, idempotency_key: str) -> WalletMovement:
    """Give back to the balance what is still held; releasing twice is a no-op."""
    key = _validate_key(idempotency_key)
    with transaction.atomic():
        wallet, hold = _locked_hold(merchant, reference)
        replay = _replay_movement(merchant, key, Kind.RELEASE, hold, None)
        if replay is not None:
            return replay
        if hold.status in (HoldStatus.CANCELLED, HoldStatus.FAILED):
            return WalletMovement(hold=hold, entry=None)
        if hold.status != HoldStatus.AUTHORISED:
            raise StateConflict(
                f"Nothing is held on a wallet hold that is {hold.status}.",
                code="not_voidable",
                field="reference",
            )
        held = hold.amount_held
        entry = _post(
            wallet,
            Kind.RELEASE,
            held,
            key,
            [(Account.HELD, -held), (Account.AVAILABLE, held)],
            hold=hold,
        )
        _return_to_lots(hold, held)
        hold.amount_released += held
        _transition(hold, HoldStatus.CAPTURED if hold.amount_captured else HoldStatus.CANCELLED)
        hold.save(update_fields=["amount_released", "status", "updated_at"])
    return WalletMovement(hold=hold, entry=entry)


def _return_to_lots(hold: WalletHold, amount: int) -> None:
    """Put released money back in the credits it came from, last taken first (captures
    count as taken from the first ones)."""
    left = amount
    uses = list(WalletLotUse.objects.select_for_update().filter(hold=hold).select_related("lot"))
    for use in reversed(uses):
        if left == 0:
            break
        part = min(left, use.amount - use.returned)
        if part <= 0:
            continue
        use.returned += part
        use.save(update_fields=["returned"])
        lot = WalletLot.objects.select_for_update().get(pk=use.lot_id)
        lot.remaining += part
        lot.save(update_fields=["remaining"])
        left -= part


def wallet_refund(
    *, merchant: Merchant, reference: str, amount: int, idempotency_key: str
) -> WalletMovement:
    """Re-credit ``amount`` of what the hold took: a refunded payment goes back to the
    wallet, never to cash."""
    validate_amount(amount, "amount")
    key = _validate_key(idempotency_key)
    with transaction.atomic():
        wallet, hold = _locked_hold(merchant, reference)
        replay = _replay_movement(merchant, key, Kind.REFUND, hold, amount)
        if replay is not None:
            return replay
        refundable = hold.amount_captured - hold.amount_refunded
        if amount > refundable:
            raise StateConflict(
                f"Cannot refund {amount}: only {refundable} was taken and not yet refunded.",
                code="refund_exceeds_debit",
                field="amount",
            )
        entry = _post(
            wallet,
            Kind.REFUND,
            amount,
            key,
            [(Account.CAPTURED, -amount), (Account.AVAILABLE, amount)],
            hold=hold,
        )
        _new_lot(wallet, entry, _refund_expiry(hold))
        hold.amount_refunded += amount
        if hold.amount_refunded == hold.amount_captured and hold.status == HoldStatus.CAPTURED:
            _transition(hold, HoldStatus.REFUNDED)
        hold.save(update_fields=["amount_refunded", "status", "updated_at"])
    return WalletMovement(hold=hold, entry=entry)


def _refund_expiry(hold: WalletHold) -> datetime | None:
    expiries = [use.lot.expires_at for use in hold.lot_uses.select_related("lot")]
    if not expiries or any(expiry is None for expiry in expiries):
        return None
    return max(expiries)


# --- Expiry ----------------------------------------------------------------------------------


def wallets_expire_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Remove what is left of credits past their expiry, one ``expiry`` entry per credit;
    return how many credits were expired. Safe to run from several workers at once: each
    lot is re-read under its wallet's lock, and its entry's key is the lot's."""
    now = now or timezone.now()
    due = list(
        WalletLot.objects.filter(remaining__gt=0, expires_at__lte=now)
        .order_by("expires_at", "id")
        .values_list("wallet_id", flat=True)[:limit]
    )
    expired = 0
    for wallet_id in dict.fromkeys(due):
        with transaction.atomic():
            wallet = _lock_wallet(wallet_id)
            lots = WalletLot.objects.select_for_update().filter(
                wallet=wallet, remaining__gt=0, expires_at__lte=now
            )
            for lot in lots.order_by("id"):
                left = lot.remaining
                _post(
                    wallet,
                    Kind.EXPIRY,
                    left,
                    # Once only by the lock and the re-read above, not by the key: a released
                    # hold can put money back in an expired credit, which expires again.
                    _new_key(f"expiry:{lot.pk}"),
                    [(Account.AVAILABLE, -left), (Account.EXPIRED, left)],
                    reference=lot.transaction.public_id,
                )
                lot.remaining = 0
                lot.save(update_fields=["remaining"])
                expired += 1
    return expired


# --- Who may spend a wallet ------------------------------------------------------------------


def _participant_holder(participant) -> list[tuple[str, str]]:
    """The holders a participant is, by email then phone, as wallets store them."""
    holders = []
    if participant.email:
        holders.append((participant.email.strip().lower(), ""))
    if participant.phone:
        holders.append(("", participant.phone))
    return holders


def wallet_of_participant(participant) -> Wallet | None:
    """The wallet whose holder is this participant (their email first, then their phone),
    at the request's merchant and in its mode; None when they have none."""
    payment_request = participant.request
    for email, phone in _participant_holder(participant):
        wallet = _holder_wallets(
            payment_request.merchant, payment_request.livemode, email, phone
        ).first()
        if wallet is not None:
            return wallet
    return None


def wallet_source_check(*, participant, source: str) -> None:
    """Refuse (``wallet_not_yours``) a wallet leg whose source is not the participant's own
    wallet: a payer can never name another holder's wallet id."""
    wallet = wallet_of_participant(participant)
    if wallet is None or wallet.public_id != source:
        raise InvalidInput(
            "This wallet is not yours: only the wallet of your own email or phone can pay.",
            code="wallet_not_yours",
            field="source",
        )


# --- Cashback --------------------------------------------------------------------------------


def cashback_rule_set(
    *,
    merchant: Merchant,
    rate_bps: int,
    cap: int | None = None,
    valid_days: int | None = None,
    enabled: bool = True,
) -> CashbackRule:
    """Offer (or change) cashback: ``rate_bps`` basis points of each captured card or PayPal
    payment, at most ``cap`` per payment, spendable ``valid_days`` (None: forever)."""
    if isinstance(rate_bps, bool) or not isinstance(rate_bps, int) or not 0 < rate_bps <= 10000:
        raise InvalidInput(
            "The rate is 1 to 10000 basis points.", code="invalid_rate", field="rate_bps"
        )
    if cap is not None:
        validate_amount(cap, "cap")
    if valid_days is not None and (
        isinstance(valid_days, bool)
        or not isinstance(valid_days, int)
        or not 0 < valid_days <= 3650
    ):
        raise InvalidInput("Validity is 1 to 3650 days.", code="invalid_days", field="valid_days")
    rule, _created = CashbackRule.objects.update_or_create(
        merchant=merchant,
        defaults={"rate_bps": rate_bps, "cap": cap, "valid_days": valid_days, "enabled": enabled},
    )
    return rule


def cashback_amount(*, rule: CashbackRule, eligible: int) -> int:
    """``rate_bps`` of ``eligible``, rounded down (never more than the rule promises), capped."""
    amount = eligible * rule.rate_bps // 10000
    return min(amount, rule.cap) if rule.cap is not None else amount


def cashback_grant(*, checkout) -> CashbackGrant | None:
    """Credit the cashback a captured checkout earns, once per checkout (its key is the
    checkout's), to the wallet of the payer's email or phone (opened if need be)."""
    from ..models import Leg

    rule = CashbackRule.objects.filter(merchant_id=checkout.merchant_id, enabled=True).first()
    if rule is None:
        return None
    eligible = sum(
        leg.amount
        for leg in Leg.objects.filter(checkout=checkout, method__in=CASHBACK_METHODS)
        if leg.status in Leg.TAKEN
    )
    amount = cashback_amount(rule=rule, eligible=eligible)
    holders = _participant_holder(checkout.participant)
    if amount <= 0 or not holders:
        return None
    existing = CashbackGrant.objects.filter(
        merchant_id=checkout.merchant_id, checkout=checkout.public_id
    ).first()
    if existing is not None:
        return existing
    # The wallet the payer already has (by email, then phone), else one opened by email.
    wallet = wallet_of_participant(checkout.participant) or _wallet_for_holder(
        checkout.merchant,
        checkout.livemode,
        *holders[0],
        checkout.participant.language,
        checkout.currency,
    )
    if wallet.currency != checkout.currency:
        return None  # a wallet keeps one currency; this payment earns nothing in it
    expires_at = timezone.now() + timedelta(days=rule.valid_days) if rule.valid_days else None
    with transaction.atomic():
        wallet_credit(
            wallet=wallet,
            amount=amount,
            source=WalletTransaction.Source.CASHBACK,
            reason="Cashback",
            expires_at=expires_at,
            idempotency_key=f"cashback:{checkout.public_id}",
            reference=checkout.public_id,
        )
        grant, _created = CashbackGrant.objects.get_or_create(
            merchant_id=checkout.merchant_id,
            checkout=checkout.public_id,
            defaults={
                "livemode": checkout.livemode,
                "wallet": wallet,
                "eligible_amount": eligible,
                "amount": amount,
            },
        )
    return grant


def cashback_reverse(*, checkout) -> int:
    """Take back the cashback of the part of a checkout's card and PayPal money that was
    refunded (in proportion, rounded down, so a full refund takes it all back); return what
    was taken. What the holder already spent is not taken below zero: it is recorded on the
    grant as ``amount_unrecovered``. Recomputed from the legs under the wallet's lock, so a
    repeated run takes nothing twice."""
    from ..models import Leg

    grant = CashbackGrant.objects.filter(
        merchant_id=checkout.merchant_id, checkout=checkout.public_id
    ).first()
    if grant is None:
        return 0
    refunded = sum(
        leg.amount_refunded
        for leg in Leg.objects.filter(checkout=checkout, method__in=CASHBACK_METHODS)
    )
    target = min(grant.amount, grant.amount * refunded // grant.eligible_amount)
    with transaction.atomic():
        wallet = _lock_wallet(grant.wallet_id)
        grant = CashbackGrant.objects.select_for_update().get(pk=grant.pk)
        due = target - grant.amount_reversed - grant.amount_unrecovered
        if due <= 0:
            return 0
        taken = min(due, wallet.balance)
        if taken:
            _post(
                wallet,
                Kind.REVERSAL,
                taken,
                f"cashback-reversal:{checkout.public_id}:{target}",
                [(Account.AVAILABLE, -taken), (Account.CASHBACK, taken)],
                source=WalletTransaction.Source.CASHBACK,
                reason="Cashback taken back: the payment was refunded",
                reference=checkout.public_id,
            )
            _consume(_all_lots(wallet), taken)
        grant.amount_reversed += taken
        grant.amount_unrecovered += due - taken
        grant.save(update_fields=["amount_reversed", "amount_unrecovered", "updated_at"])
    return taken


# --- The guard -------------------------------------------------------------------------------


def wallet_consistency_errors(*, wallet: Wallet) -> list[str]:
    """What is wrong with a wallet's books ([] when nothing): every entry balances, the
    cached balance and held amount equal the sums of their postings, the credits left sum to
    the balance and the open holds to the held amount."""
    wallet = Wallet.objects.get(pk=wallet.pk)
    errors = []
    unbalanced = (
        WalletPosting.objects.filter(wallet=wallet)
        .values("transaction_id")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by()
    )
    errors += [f"entry {row['transaction_id']} sums to {row['total']}" for row in unbalanced]
    sums = {
        row["account"]: row["total"]
        for row in WalletPosting.objects.filter(wallet=wallet)
        .values("account")
        .annotate(total=Sum("amount"))
        .order_by()
    }
    if wallet.balance != sums.get(Account.AVAILABLE, 0):
        errors.append(f"balance {wallet.balance} != postings {sums.get(Account.AVAILABLE, 0)}")
    if wallet.held != sums.get(Account.HELD, 0):
        errors.append(f"held {wallet.held} != postings {sums.get(Account.HELD, 0)}")
    lots = WalletLot.objects.filter(wallet=wallet).aggregate(total=Sum("remaining"))["total"] or 0
    if lots != wallet.balance:
        errors.append(f"credits left {lots} != balance {wallet.balance}")
    holds = sum(h.amount_held for h in WalletHold.objects.filter(wallet=wallet))
    if holds != wallet.held:
        errors.append(f"open holds {holds} != held {wallet.held}")
    return errors
