"""The holiday-voucher method, backed by the voucher sandbox (modelled on ANCV Connect).

``source`` is the payer's beneficiary number. Vouchers never ask the payer to act on
another page: an authorisation is held or refused at once, which is why a combined checkout
authorises voucher legs first.
"""

from payments.sandbox import vouchers
from payments.sandbox.services import SandboxTimeout
from payments.sandbox.voucher_models import SandboxVoucherHold
from pushpay.errors import DoesNotExist, InvalidInput

from .base import (
    FailureReason,
    PaymentMethodAdapter,
    PaymentResult,
    PaymentStatus,
    ProviderTimeout,
    movement_result,
)

_STATUS = {
    SandboxVoucherHold.Status.AUTHORISED: PaymentStatus.AUTHORISED,
    SandboxVoucherHold.Status.CAPTURED: PaymentStatus.CAPTURED,
    SandboxVoucherHold.Status.REFUNDED: PaymentStatus.REFUNDED,
    SandboxVoucherHold.Status.CANCELLED: PaymentStatus.CANCELLED,
    SandboxVoucherHold.Status.FAILED: PaymentStatus.FAILED,
}


def _result_of(hold: SandboxVoucherHold) -> PaymentResult:
    status = _STATUS[hold.status]
    failed = status == PaymentStatus.FAILED
    amount = {
        PaymentStatus.CAPTURED: hold.amount_captured,
        PaymentStatus.REFUNDED: hold.amount_refunded,
    }.get(status, hold.amount)
    return PaymentResult(
        status=status,
        provider_reference=hold.public_id,
        amount=amount,
        currency=hold.currency,
        failure_reason=FailureReason.INSUFFICIENT_FUNDS if failed else None,
        message="The voucher balance does not cover this amount." if failed else "",
    )


def _result_of_movement(movement: vouchers.VoucherMovement, status: PaymentStatus) -> PaymentResult:
    owner = movement.hold
    return movement_result(
        status, provider_reference=owner.public_id, currency=owner.currency, entry=movement.entry
    )


class SandboxVoucherAdapter(PaymentMethodAdapter):
    code = "holiday_voucher"
    provider = "sandbox"
    label = "Holiday vouchers"
    is_sandbox = True
    authorises_in_place = True
    has_balance = True
    payer_fields_template = "payments/holiday_voucher_fields.html"

    @classmethod
    def owns_source(cls, source: str) -> bool:
        try:
            return vouchers.beneficiary_number_clean(source) in vouchers.TEST_BENEFICIARIES
        except InvalidInput:  # anything malformed is simply not ours
            return False

    def balance(self, *, source: str, currency: str) -> int:
        if currency != vouchers.CURRENCY:
            return 0
        try:
            state = vouchers.voucher_balance(
                merchant=self.merchant, number=source, livemode=self.livemode
            )
        except DoesNotExist as exc:  # typed by the payer: a mistake to show, not a 404
            raise InvalidInput(exc.message, code=exc.code, field="source") from None
        return state.available

    def describe_source(self, source: str) -> tuple[str, str]:
        """No brand; the last four digits of the beneficiary number, as ANCV prints them."""
        try:
            return "", vouchers.beneficiary_number_clean(source)[-4:]
        except InvalidInput:
            return "", ""

    def authorise(
        self,
        *,
        amount: int,
        currency: str,
        source: str,
        idempotency_key: str,
        return_url: str = "",
    ) -> PaymentResult:
        try:
            hold = vouchers.voucher_authorise(
                merchant=self.merchant,
                number=source,
                amount=amount,
                currency=currency,
                idempotency_key=idempotency_key,
                livemode=self.livemode,
            )
        except SandboxTimeout:
            raise ProviderTimeout(
                "The voucher provider did not answer in time; retry with the same key."
            ) from None
        return _result_of(hold)

    def capture(self, *, reference: str, amount: int, idempotency_key: str) -> PaymentResult:
        movement = vouchers.voucher_capture(
            merchant=self.merchant,
            reference=reference,
            amount=amount,
            idempotency_key=idempotency_key,
        )
        return _result_of_movement(movement, PaymentStatus.CAPTURED)

    def void(self, *, reference: str, idempotency_key: str) -> PaymentResult:
        movement = vouchers.voucher_void(
            merchant=self.merchant, reference=reference, idempotency_key=idempotency_key
        )
        return _result_of_movement(movement, PaymentStatus.CANCELLED)

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> PaymentResult:
        movement = vouchers.voucher_refund(
            merchant=self.merchant,
            reference=reference,
            amount=amount,
            idempotency_key=idempotency_key,
        )
        return _result_of_movement(movement, PaymentStatus.REFUNDED)

    def retrieve(self, *, reference: str) -> PaymentResult:
        return _result_of(vouchers.voucher_hold_get(merchant=self.merchant, reference=reference))
