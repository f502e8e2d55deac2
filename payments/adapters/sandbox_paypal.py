"""The PayPal method, backed by the built-in sandbox PayPal (test mode only).

The real PayPal adapter (``paypal_rest``) makes Orders v2 calls; this one calls the
sandbox's services in-process with the same contract: PayPal's states in, ``PaymentResult``
out, a lost answer surfaced as ``ProviderTimeout``.

The payer gives no details on our page (they log in at PayPal), yet the saga wants a
``source``: for PayPal it is the literal ``"paypal"``. That value is not a sandbox token (the
real adapter takes it too), so ``owns_source`` answers False for it; live mode reaches PayPal
only through the merchant's own live PayPal app. The sandbox-only scenario
sources (``paypal-denied``, ``paypal-timeout``) are owned, so they never reach a live request.
"""

from datetime import timedelta

from django.conf import settings
from django.urls import reverse

from payments.sandbox import paypal as sandbox
from payments.sandbox.paypal_models import SandboxPayPalOrder
from payments.sandbox.paypal_selectors import sandbox_paypal_order_get

from .base import (
    FailureReason,
    PaymentMethodAdapter,
    PaymentResult,
    PaymentStatus,
    ProviderTimeout,
    movement_result,
)

Status = SandboxPayPalOrder.Status

_STATUS = {
    Status.CREATED: PaymentStatus.REQUIRES_ACTION,
    Status.COMPLETED: PaymentStatus.AUTHORISED,
    Status.CAPTURED: PaymentStatus.CAPTURED,
    Status.REFUNDED: PaymentStatus.REFUNDED,
    Status.VOIDED: PaymentStatus.CANCELLED,
    Status.PAYER_CANCELLED: PaymentStatus.FAILED,
    Status.DENIED: PaymentStatus.FAILED,
}
# A payer who cancels at PayPal did not confirm the payment at the provider's page, like a
# refused 3-D Secure challenge: authentication_failed, not a refusal of the method itself.
_REASONS = {
    Status.PAYER_CANCELLED: FailureReason.AUTHENTICATION_FAILED,
    Status.DENIED: FailureReason.DECLINED,
}
_MESSAGES = {
    Status.PAYER_CANCELLED: "The payer cancelled at PayPal.",
    Status.DENIED: "PayPal declined the payment.",
}


def approval_url(order: SandboxPayPalOrder) -> str:
    path = reverse("sandbox:paypal_approve", kwargs={"public_id": order.public_id})
    return f"{settings.PUBLIC_BASE_URL}{path}"


def _result_of(order: SandboxPayPalOrder) -> PaymentResult:
    """The order as a whole; the amount is the one that matters in its state."""
    status = _STATUS[order.status]
    amount = {
        PaymentStatus.CAPTURED: order.amount_captured,
        PaymentStatus.REFUNDED: order.amount_refunded,
    }.get(status, order.amount)
    return PaymentResult(
        status=status,
        provider_reference=order.public_id,
        amount=amount,
        currency=order.currency,
        failure_reason=_REASONS.get(order.status),
        action_url=approval_url(order) if status == PaymentStatus.REQUIRES_ACTION else "",
        message=_MESSAGES.get(order.status, ""),
    )


def _result_of_movement(movement: sandbox.PayPalMovement, status: PaymentStatus) -> PaymentResult:
    owner = movement.order
    return movement_result(
        status, provider_reference=owner.public_id, currency=owner.currency, entry=movement.entry
    )


class SandboxPayPalAdapter(PaymentMethodAdapter):
    """PayPal through the sandbox; ``source`` is ``"paypal"`` (or a sandbox scenario)."""

    code = "paypal"
    provider = "sandbox"
    label = "PayPal"
    is_sandbox = True
    # PayPal honours an authorization's funds for 3 days (it stays capturable up to 29, but
    # only after a reauthorization that may fail); collections held until complete must
    # fit the window that is guaranteed, the same one the real adapter will have.
    hold_window = timedelta(days=3)

    @classmethod
    def owns_source(cls, source: str) -> bool:
        return source in (
            SandboxPayPalOrder.Scenario.DENY,
            SandboxPayPalOrder.Scenario.TIMEOUT,
        )

    def describe_source(self, source: str) -> tuple[str, str]:
        return "PayPal", ""

    def _settle(self, order: SandboxPayPalOrder) -> PaymentResult:
        # Intent AUTHORIZE: once the payer approved, the merchant authorizes the order at
        # once, so the saga only ever sees "waiting for the payer" or the authorization.
        if order.status == Status.APPROVED:
            order = sandbox.sandbox_paypal_order_authorize(
                merchant=self.merchant, reference=order.public_id
            )
        return _result_of(order)

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
            order = sandbox.sandbox_paypal_order_create(
                merchant=self.merchant,
                source=source,
                amount=amount,
                currency=currency,
                idempotency_key=idempotency_key,
                return_url=return_url,
            )
        except sandbox.SandboxPayPalTimeout:
            raise ProviderTimeout(
                "PayPal did not answer in time; retry with the same idempotency key."
            ) from None
        return self._settle(order)

    def capture(self, *, reference: str, amount: int, idempotency_key: str) -> PaymentResult:
        movement = sandbox.sandbox_paypal_capture(
            merchant=self.merchant,
            reference=reference,
            amount=amount,
            idempotency_key=idempotency_key,
        )
        return _result_of_movement(movement, PaymentStatus.CAPTURED)

    def void(self, *, reference: str, idempotency_key: str) -> PaymentResult:
        movement = sandbox.sandbox_paypal_void(
            merchant=self.merchant, reference=reference, idempotency_key=idempotency_key
        )
        return _result_of_movement(movement, PaymentStatus.CANCELLED)

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> PaymentResult:
        movement = sandbox.sandbox_paypal_refund(
            merchant=self.merchant,
            reference=reference,
            amount=amount,
            idempotency_key=idempotency_key,
        )
        return _result_of_movement(movement, PaymentStatus.REFUNDED)

    def retrieve(self, *, reference: str) -> PaymentResult:
        return self._settle(sandbox_paypal_order_get(merchant=self.merchant, public_id=reference))
