"""The cashback wallet as a payment method: the merchant's own stored value, in both modes.

Not a sandbox: the wallet's books (``payments.wallet``) are the product's own, kept apart
per mode on every row, so one class serves test and live. ``source`` is the wallet's public
id, found from the payer's email or phone (``participant_source``); a wallet answers at
once, which is why a combined checkout authorises a wallet leg first.

A payer may only spend their own wallet. The pay path checks it before anything is written
(``payments.wallet.services.wallet_source_check``); ``authorise`` checks it again from the
leg the saga names in its idempotency key (``<leg id>:authorise``), so a source that is not
the checkout participant's own wallet is refused even if a caller skipped the first check.
"""

from pushpay.errors import DoesNotExist, InvalidInput

from ..wallet import selectors, services
from ..wallet.models import Wallet, WalletHold
from .base import (
    FailureReason,
    PaymentMethodAdapter,
    PaymentResult,
    PaymentStatus,
    movement_result,
)

_STATUS = {
    WalletHold.Status.AUTHORISED: PaymentStatus.AUTHORISED,
    WalletHold.Status.CAPTURED: PaymentStatus.CAPTURED,
    WalletHold.Status.REFUNDED: PaymentStatus.REFUNDED,
    WalletHold.Status.CANCELLED: PaymentStatus.CANCELLED,
    WalletHold.Status.FAILED: PaymentStatus.FAILED,
}
_FAILURES = {
    "insufficient_funds": (
        FailureReason.INSUFFICIENT_FUNDS,
        "The wallet balance does not cover this amount.",
    ),
    "currency_not_accepted": (
        FailureReason.NOT_ACCEPTED,
        "The wallet does not hold this currency.",
    ),
}


def _result_of(hold: WalletHold) -> PaymentResult:
    status = _STATUS[hold.status]
    failed = status == PaymentStatus.FAILED
    reason, message = _FAILURES.get(hold.failure_reason, (FailureReason.DECLINED, ""))
    amount = {
        PaymentStatus.CAPTURED: hold.amount_captured,
        PaymentStatus.REFUNDED: hold.amount_refunded,
    }.get(status, hold.amount)
    return PaymentResult(
        status=status,
        provider_reference=hold.public_id,
        amount=amount,
        currency=hold.currency,
        failure_reason=reason if failed else None,
        message=message if failed else "",
    )


def _refused(amount: int, currency: str, message: str) -> PaymentResult:
    return PaymentResult(
        status=PaymentStatus.FAILED,
        provider_reference="",
        amount=amount,
        currency=currency,
        failure_reason=FailureReason.NOT_ACCEPTED,
        message=message,
    )


def _result_of_movement(movement: services.WalletMovement, status: PaymentStatus) -> PaymentResult:
    owner = movement.hold
    return movement_result(
        status, provider_reference=owner.public_id, currency=owner.currency, entry=movement.entry
    )


class WalletAdapter(PaymentMethodAdapter):
    code = "wallet"
    provider = "wallet"
    label = "Cashback wallet"
    is_sandbox = False
    authorises_in_place = True
    has_balance = True
    source_from_participant = True

    @classmethod
    def owns_source(cls, source: str) -> bool:
        return isinstance(source, str) and source.startswith("wal_")

    def _wallet(self, source: str) -> Wallet:
        wallet = selectors.wallet_get(
            merchant=self.merchant, livemode=self.livemode, public_id=source
        )
        if wallet is None:
            raise InvalidInput("No such wallet.", code="unknown_wallet", field="source")
        return wallet

    def balance(self, *, source: str, currency: str) -> int:
        wallet = self._wallet(source)
        if currency != wallet.currency:
            return 0
        return services.wallet_spendable(wallet=wallet)

    def participant_source(self, participant) -> str:
        wallet = services.wallet_of_participant(participant)
        if wallet is None or wallet.merchant_id != self.merchant.pk:
            return ""
        return wallet.public_id

    def describe_source(self, source: str) -> tuple[str, str]:
        return "", ""

    def _leg_participant(self, idempotency_key: str):
        """The participant of the leg the saga names in its key, or None."""
        from ..models import Leg

        leg_id = idempotency_key.split(":", 1)[0]
        leg = (
            Leg.objects.select_related("checkout__participant__request")
            .filter(merchant=self.merchant, livemode=self.livemode, public_id=leg_id)
            .first()
        )
        return leg.checkout.participant if leg is not None else None

    def authorise(
        self,
        *,
        amount: int,
        currency: str,
        source: str,
        idempotency_key: str,
        return_url: str = "",
    ) -> PaymentResult:
        wallet = self._wallet(source)
        participant = self._leg_participant(idempotency_key)
        if participant is None or self.participant_source(participant) != wallet.public_id:
            return _refused(
                amount,
                currency,
                "This wallet is not yours: only the wallet of your own email or phone can pay.",
            )
        hold = services.wallet_hold(
            wallet=wallet, amount=amount, currency=currency, idempotency_key=idempotency_key
        )
        return _result_of(hold)

    def capture(self, *, reference: str, amount: int, idempotency_key: str) -> PaymentResult:
        movement = services.wallet_capture(
            merchant=self.merchant,
            reference=reference,
            amount=amount,
            idempotency_key=idempotency_key,
        )
        return _result_of_movement(movement, PaymentStatus.CAPTURED)

    def void(self, *, reference: str, idempotency_key: str) -> PaymentResult:
        movement = services.wallet_release(
            merchant=self.merchant, reference=reference, idempotency_key=idempotency_key
        )
        return _result_of_movement(movement, PaymentStatus.CANCELLED)

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> PaymentResult:
        movement = services.wallet_refund(
            merchant=self.merchant,
            reference=reference,
            amount=amount,
            idempotency_key=idempotency_key,
        )
        return _result_of_movement(movement, PaymentStatus.REFUNDED)

    def retrieve(self, *, reference: str) -> PaymentResult:
        hold = selectors.wallet_hold_get(merchant=self.merchant, reference=reference)
        if hold is None:
            raise DoesNotExist(
                f"No such wallet hold: '{reference}'.", code="not_found", field="reference"
            )
        return _result_of(hold)
