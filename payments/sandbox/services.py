"""The sandbox card acquirer: a fake provider with its own books.

It behaves like the big PSPs' test modes: a handful of magic card numbers pick the outcome
(see ``TEST_CARDS`` and docs/payments-sandbox.md), every money-moving call takes an
idempotency key, and a key seen before replays the first outcome without moving anything.

Refusals of the payer's card (declined, insufficient funds, failed 3-D Secure) are outcomes
and are recorded. Moves the caller should never attempt (capture more than held, capture
after a void, refund more than taken) raise ``StateConflict`` and record nothing: they are
bugs or races in the caller, and a loud refusal is what the checkout saga needs to notice.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.views.decorators.debug import sensitive_variables

from merchants.models import Merchant
from pushpay.errors import InvalidInput, StateConflict
from pushpay.money import is_currency

from .locks import lock_authorisation, lock_challenge
from .models import SandboxAuthorisation, SandboxCard, SandboxLedgerEntry

Behaviour = SandboxCard.Behaviour
AuthStatus = SandboxAuthorisation.Status

TEST_CARDS = {
    "4242424242424242": Behaviour.SUCCEED,
    "4000000000000002": Behaviour.DECLINE,
    "4000000000009995": Behaviour.INSUFFICIENT_FUNDS,
    "4000000000003220": Behaviour.CHALLENGE,
    "4000000000000119": Behaviour.TIMEOUT,
    # Tokenises with any future expiry, but the issuer says it has expired (as a card
    # replaced early does): how a merchant-initiated charge meets an expired card today.
    "4000000000000069": Behaviour.EXPIRED,
}
MAX_AMOUNT = 10**13
MAX_KEY_LENGTH = 255
_FINGERPRINT_SALT = "payments.sandbox.card-fingerprint"


class SandboxTimeout(Exception):
    """The acquirer did the work but its answer never arrived (test card ...0119)."""

    def __init__(self, authorisation: SandboxAuthorisation):
        super().__init__("The sandbox acquirer did not answer in time.")
        self.authorisation = authorisation


@dataclass(frozen=True)
class Movement:
    """What a capture, void or refund did: the authorisation after it, and the ledger row
    (``None`` when nothing moved, as when voiding a challenge nobody answered)."""

    authorisation: SandboxAuthorisation
    entry: SandboxLedgerEntry | None


# --- Cards ----------------------------------------------------------------------------------


def card_fingerprint(number: str) -> str:
    """One stable, keyed value per card number, to group a card's tokens in the ledger.

    Keyed with SECRET_KEY so that nobody holding the database alone can test guessed numbers
    against it (a plain hash of a 16-digit number with a known prefix is easy to reverse).
    """
    return salted_hmac(_FINGERPRINT_SALT, number, algorithm="sha256").hexdigest()


def luhn_valid(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def card_brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"34", "37"}:
        return "amex"
    if 51 <= int(number[:2]) <= 55 or 2221 <= int(number[:4]) <= 2720:
        return "mastercard"
    return "unknown"


def _expired(exp_month: int, exp_year: int, now: datetime) -> bool:
    # A card is good until the last day of its expiry month.
    return (exp_year, exp_month) < (now.year, now.month)


# Keeps the number and CVC out of error reports' tracebacks, should anything here crash.
@sensitive_variables("number", "digits", "cvc")
def sandbox_card_tokenise(*, number: str, exp_month: int, exp_year: int, cvc: str) -> SandboxCard:
    """Swap card details for a token; the number and CVC go no further than this function.

    Error messages never repeat the values: they end up in logs and API responses.
    """
    digits = number.replace(" ", "").replace("-", "")
    if not digits.isascii() or not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise InvalidInput(
            "The card number must be 12 to 19 digits.", code="invalid_number", field="number"
        )
    if not luhn_valid(digits):
        raise InvalidInput(
            "The card number is not valid; check it for typos.",
            code="incorrect_number",
            field="number",
        )
    if not 1 <= exp_month <= 12:
        raise InvalidInput(
            "The expiry month must be between 1 and 12.",
            code="invalid_expiry_month",
            field="exp_month",
        )
    if exp_year < 100:  # "MM/YY" as typed on the card
        exp_year += 2000
    if not 2000 <= exp_year <= 2099:
        raise InvalidInput(
            "The expiry year is not valid.", code="invalid_expiry_year", field="exp_year"
        )
    if _expired(exp_month, exp_year, timezone.now()):
        raise InvalidInput("The card has expired.", code="expired_card", field="exp_year")
    brand = card_brand(digits)
    cvc_length = 4 if brand == "amex" else 3
    if not (cvc.isascii() and cvc.isdigit() and len(cvc) == cvc_length):
        raise InvalidInput(
            f"The security code (CVC) must be {cvc_length} digits.",
            code="invalid_cvc",
            field="cvc",
        )
    return SandboxCard.objects.create(
        brand=brand,
        last4=digits[-4:],
        exp_month=exp_month,
        exp_year=exp_year,
        fingerprint=card_fingerprint(digits),
        # Any other valid number behaves like 4242…: the sandbox never charges anything real.
        behaviour=TEST_CARDS.get(digits, Behaviour.SUCCEED),
    )


# --- Validation -----------------------------------------------------------------------------


def _validate_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput(
            "The amount must be a positive integer of minor units.",
            code="invalid_amount",
            field="amount",
        )
    if amount > MAX_AMOUNT:
        raise InvalidInput("The amount is too large.", code="amount_too_large", field="amount")


def _validate_key(key: str) -> None:
    if (
        not isinstance(key, str)
        or not 1 <= len(key) <= MAX_KEY_LENGTH
        or not key.isascii()
        or not key.isprintable()
    ):
        raise InvalidInput(
            f"The idempotency key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            code="invalid_idempotency_key",
            field="idempotency_key",
        )


def _validate_return_url(url: str) -> None:
    if not url:
        return
    is_path = url.startswith("/") and not url.startswith("//")
    if len(url) > 2000 or not (is_path or url.startswith(("https://", "http://"))):
        raise InvalidInput(
            "return_url must be an http(s) URL or a path starting with '/'.",
            code="invalid_return_url",
            field="return_url",
        )


def _key_reused(what: str) -> StateConflict:
    return StateConflict(
        f"This idempotency key was already used for a different {what}; "
        "use a new key for a new operation.",
        code="idempotency_key_reused",
        field="idempotency_key",
    )


def _transition(authorisation: SandboxAuthorisation, target: str) -> None:
    current = authorisation.status
    if current == target:
        return
    if target not in SandboxAuthorisation.TRANSITIONS[current]:
        raise StateConflict(
            f"A sandbox authorisation that is {current} cannot become {target}.",
            code="invalid_status_transition",
            field="reference",
        )
    authorisation.status = target


def _entry(
    authorisation: SandboxAuthorisation,
    kind: str,
    amount: int,
    key: str,
    *,
    failure_reason: str = "",
) -> SandboxLedgerEntry:
    return SandboxLedgerEntry.objects.create(
        merchant_id=authorisation.merchant_id,
        authorisation=authorisation,
        fingerprint=authorisation.fingerprint,
        kind=kind,
        amount=amount,
        currency=authorisation.currency,
        status=(
            SandboxLedgerEntry.Status.FAILED
            if failure_reason
            else SandboxLedgerEntry.Status.SUCCEEDED
        ),
        failure_reason=failure_reason,
        idempotency_key=key,
    )


# --- Authorise ------------------------------------------------------------------------------


def _replay_authorise(
    existing: SandboxAuthorisation, card: SandboxCard, amount: int, currency: str, return_url: str
) -> SandboxAuthorisation:
    same = (
        existing.card_id == card.pk
        and existing.amount == amount
        and existing.currency == currency
        and existing.return_url == return_url
    )
    if not same:
        raise _key_reused("authorisation")
    return existing


def sandbox_authorise(
    *,
    merchant: Merchant,
    token: str,
    amount: int,
    currency: str,
    idempotency_key: str,
    return_url: str = "",
) -> SandboxAuthorisation:
    """Hold ``amount`` on the card behind ``token``, or refuse as its test number says.

    A key seen before returns the authorisation it created, as it stands now, and holds
    nothing more. For the timeout card the hold *is* made and committed before
    ``SandboxTimeout`` is raised, as when a real acquirer's answer is lost on the way back:
    only a retry with the same key can find it again.
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
    card = SandboxCard.objects.filter(token=token).first() if isinstance(token, str) else None
    if card is None:
        raise InvalidInput("No such card token.", code="unknown_token", field="source")

    existing = SandboxAuthorisation.objects.filter(
        merchant=merchant, idempotency_key=idempotency_key
    ).first()
    if existing is not None:
        return _replay_authorise(existing, card, amount, currency, return_url)

    authorisation = SandboxAuthorisation(
        merchant=merchant,
        card=card,
        fingerprint=card.fingerprint,
        amount=amount,
        currency=currency,
        return_url=return_url,
        idempotency_key=idempotency_key,
    )
    refusals = {
        Behaviour.DECLINE: SandboxAuthorisation.FailureReason.DECLINED,
        Behaviour.INSUFFICIENT_FUNDS: SandboxAuthorisation.FailureReason.INSUFFICIENT_FUNDS,
        Behaviour.EXPIRED: SandboxAuthorisation.FailureReason.EXPIRED_CARD,
    }
    if _expired(card.exp_month, card.exp_year, timezone.now()):
        # A token outlives its card: a plan's later charge meets the expiry date.
        refusal = SandboxAuthorisation.FailureReason.EXPIRED_CARD
    else:
        refusal = refusals.get(card.behaviour, "")
    try:
        with transaction.atomic():
            if refusal:
                authorisation.status = AuthStatus.FAILED
                authorisation.failure_reason = refusal
                authorisation.save()
                _entry(
                    authorisation,
                    SandboxLedgerEntry.Kind.HOLD,
                    amount,
                    idempotency_key,
                    failure_reason=refusal,
                )
            elif card.behaviour == Behaviour.CHALLENGE:
                # Nothing is held until the payer approves on the challenge page.
                authorisation.status = AuthStatus.REQUIRES_ACTION
                authorisation.save()
            else:
                authorisation.status = AuthStatus.AUTHORISED
                authorisation.save()
                _entry(authorisation, SandboxLedgerEntry.Kind.HOLD, amount, idempotency_key)
    except IntegrityError:
        # The same key raced us and won: replay its outcome instead of holding twice.
        existing = SandboxAuthorisation.objects.filter(
            merchant=merchant, idempotency_key=idempotency_key
        ).first()
        if existing is None:
            raise
        return _replay_authorise(existing, card, amount, currency, return_url)
    if card.behaviour == Behaviour.TIMEOUT:
        raise SandboxTimeout(authorisation)
    return authorisation


def sandbox_challenge_decide(*, public_id: str, approve: bool) -> SandboxAuthorisation:
    """The payer's answer on the 3-D Secure page. Answering twice changes nothing: the
    first answer stands, as a double click or a reload must not flip it."""
    with transaction.atomic():
        authorisation = lock_challenge(public_id=public_id)
        if authorisation.status != AuthStatus.REQUIRES_ACTION:
            return authorisation
        if approve:
            _transition(authorisation, AuthStatus.AUTHORISED)
            _entry(
                authorisation,
                SandboxLedgerEntry.Kind.HOLD,
                authorisation.amount,
                authorisation.idempotency_key,
            )
        else:
            _transition(authorisation, AuthStatus.FAILED)
            authorisation.failure_reason = SandboxAuthorisation.FailureReason.AUTHENTICATION_FAILED
            _entry(
                authorisation,
                SandboxLedgerEntry.Kind.HOLD,
                authorisation.amount,
                authorisation.idempotency_key,
                failure_reason=authorisation.failure_reason,
            )
        authorisation.save(update_fields=["status", "failure_reason", "updated_at"])
    return authorisation


# --- Capture, void, refund ------------------------------------------------------------------


def _previous(merchant: Merchant, kind: str, key: str) -> SandboxLedgerEntry | None:
    return (
        SandboxLedgerEntry.objects.select_related("authorisation")
        .filter(merchant=merchant, kind=kind, idempotency_key=key)
        .first()
    )


def _replay(
    previous: SandboxLedgerEntry, authorisation: SandboxAuthorisation, amount: int | None
) -> Movement:
    if previous.authorisation_id != authorisation.pk or (
        amount is not None and previous.amount != amount
    ):
        raise _key_reused(previous.kind)
    return Movement(authorisation=authorisation, entry=previous)


def sandbox_capture(
    *, merchant: Merchant, reference: str, amount: int, idempotency_key: str
) -> Movement:
    """Turn ``amount`` of a hold into a debit; several partial captures may share a hold."""
    _validate_amount(amount)
    _validate_key(idempotency_key)
    with transaction.atomic():
        # Lock first, then look for the key: a concurrent call with the same key has then
        # either committed its row (and we replay it) or not started.
        authorisation = lock_authorisation(merchant=merchant, public_id=reference)
        previous = _previous(merchant, SandboxLedgerEntry.Kind.CAPTURE, idempotency_key)
        if previous is not None:
            return _replay(previous, authorisation, amount)
        if authorisation.status != AuthStatus.AUTHORISED:
            raise StateConflict(
                f"Nothing can be captured from an authorisation that is {authorisation.status}.",
                code="not_capturable",
                field="reference",
            )
        held = authorisation.amount_held
        if amount > held:
            raise StateConflict(
                f"Cannot capture {amount}: only {held} is still held.",
                code="capture_exceeds_hold",
                field="amount",
            )
        entry = _entry(authorisation, SandboxLedgerEntry.Kind.CAPTURE, amount, idempotency_key)
        authorisation.amount_captured += amount
        if authorisation.amount_held == 0:
            _transition(authorisation, AuthStatus.CAPTURED)
        authorisation.save(update_fields=["amount_captured", "status", "updated_at"])
    return Movement(authorisation=authorisation, entry=entry)


def sandbox_void(*, merchant: Merchant, reference: str, idempotency_key: str) -> Movement:
    """Release what is still held. Voiding an already cancelled authorisation is a no-op,
    so an unwinding saga may safely void twice; voiding one with nothing left held and
    something taken is refused (that needs a refund)."""
    _validate_key(idempotency_key)
    with transaction.atomic():
        authorisation = lock_authorisation(merchant=merchant, public_id=reference)
        previous = _previous(merchant, SandboxLedgerEntry.Kind.VOID, idempotency_key)
        if previous is not None:
            return _replay(previous, authorisation, None)
        status = authorisation.status
        if status == AuthStatus.CANCELLED:
            return Movement(authorisation=authorisation, entry=None)
        if status == AuthStatus.REQUIRES_ACTION:
            # The payer never answered the challenge: nothing was held, nothing to release.
            _transition(authorisation, AuthStatus.CANCELLED)
            authorisation.save(update_fields=["status", "updated_at"])
            return Movement(authorisation=authorisation, entry=None)
        if status != AuthStatus.AUTHORISED:
            raise StateConflict(
                f"Nothing is held on an authorisation that is {status}.",
                code="not_voidable",
                field="reference",
            )
        held = authorisation.amount_held
        entry = _entry(authorisation, SandboxLedgerEntry.Kind.VOID, held, idempotency_key)
        authorisation.amount_released += held
        _transition(
            authorisation,
            AuthStatus.CAPTURED if authorisation.amount_captured else AuthStatus.CANCELLED,
        )
        authorisation.save(update_fields=["amount_released", "status", "updated_at"])
    return Movement(authorisation=authorisation, entry=entry)


def sandbox_refund(
    *, merchant: Merchant, reference: str, amount: int, idempotency_key: str
) -> Movement:
    """Give back part or all of what was captured, never more."""
    _validate_amount(amount)
    _validate_key(idempotency_key)
    with transaction.atomic():
        authorisation = lock_authorisation(merchant=merchant, public_id=reference)
        previous = _previous(merchant, SandboxLedgerEntry.Kind.REFUND, idempotency_key)
        if previous is not None:
            return _replay(previous, authorisation, amount)
        refundable = authorisation.amount_captured - authorisation.amount_refunded
        if amount > refundable:
            raise StateConflict(
                f"Cannot refund {amount}: only {refundable} was taken and not yet refunded.",
                code="refund_exceeds_debit",
                field="amount",
            )
        entry = _entry(authorisation, SandboxLedgerEntry.Kind.REFUND, amount, idempotency_key)
        authorisation.amount_refunded += amount
        fully_refunded = authorisation.amount_refunded == authorisation.amount_captured
        if fully_refunded and authorisation.status == AuthStatus.CAPTURED:
            _transition(authorisation, AuthStatus.REFUNDED)
        authorisation.save(update_fields=["amount_refunded", "status", "updated_at"])
    return Movement(authorisation=authorisation, entry=entry)
