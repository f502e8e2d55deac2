"""The card method, backed by the built-in sandbox acquirer.

A real acquirer's adapter would make HTTP calls here; this one calls the sandbox's services
in-process, but keeps the same contract: sandbox states in, ``PaymentResult`` out, and a lost
answer surfaces as ``ProviderTimeout``.
"""

from datetime import date

from django.conf import settings
from django.urls import reverse

from payments.sandbox import services as sandbox
from payments.sandbox.models import SandboxAuthorisation, SandboxCard
from payments.sandbox.selectors import sandbox_authorisation_get

from .base import (
    FailureReason,
    PaymentMethodAdapter,
    PaymentResult,
    PaymentStatus,
    ProviderTimeout,
    movement_result,
)

_STATUS = {
    SandboxAuthorisation.Status.REQUIRES_ACTION: PaymentStatus.REQUIRES_ACTION,
    SandboxAuthorisation.Status.AUTHORISED: PaymentStatus.AUTHORISED,
    SandboxAuthorisation.Status.CAPTURED: PaymentStatus.CAPTURED,
    SandboxAuthorisation.Status.REFUNDED: PaymentStatus.REFUNDED,
    SandboxAuthorisation.Status.CANCELLED: PaymentStatus.CANCELLED,
    SandboxAuthorisation.Status.FAILED: PaymentStatus.FAILED,
}
_REASONS = {
    SandboxAuthorisation.FailureReason.DECLINED: FailureReason.DECLINED,
    SandboxAuthorisation.FailureReason.INSUFFICIENT_FUNDS: FailureReason.INSUFFICIENT_FUNDS,
    SandboxAuthorisation.FailureReason.AUTHENTICATION_FAILED: FailureReason.AUTHENTICATION_FAILED,
    SandboxAuthorisation.FailureReason.EXPIRED_CARD: FailureReason.EXPIRED_CARD,
}
_MESSAGES = {
    FailureReason.DECLINED: "The card was declined.",
    FailureReason.INSUFFICIENT_FUNDS: "The card has insufficient funds.",
    FailureReason.AUTHENTICATION_FAILED: "The payer did not pass 3-D Secure authentication.",
    FailureReason.EXPIRED_CARD: "The card has expired.",
}


def challenge_url(authorisation: SandboxAuthorisation) -> str:
    path = reverse("sandbox:challenge", kwargs={"public_id": authorisation.public_id})
    return f"{settings.PUBLIC_BASE_URL}{path}"


def _result_of(authorisation: SandboxAuthorisation) -> PaymentResult:
    """The authorisation as a whole; the amount is the one that matters in its state."""
    status = _STATUS[authorisation.status]
    reason = _REASONS.get(authorisation.failure_reason) if status == PaymentStatus.FAILED else None
    amount = {
        PaymentStatus.CAPTURED: authorisation.amount_captured,
        PaymentStatus.REFUNDED: authorisation.amount_refunded,
    }.get(status, authorisation.amount)
    return PaymentResult(
        status=status,
        provider_reference=authorisation.public_id,
        amount=amount,
        currency=authorisation.currency,
        failure_reason=reason,
        action_url=challenge_url(authorisation) if status == PaymentStatus.REQUIRES_ACTION else "",
        message=_MESSAGES.get(reason, "") if reason else "",
    )


def _result_of_movement(movement: sandbox.Movement, status: PaymentStatus) -> PaymentResult:
    owner = movement.authorisation
    return movement_result(
        status, provider_reference=owner.public_id, currency=owner.currency, entry=movement.entry
    )


class SandboxCardAdapter(PaymentMethodAdapter):
    """Cards through the sandbox acquirer; ``source`` is a ``tok_…`` from /sandbox/tokens."""

    code = "card"
    provider = "sandbox"
    label = "Card"
    is_sandbox = True
    payer_fields_template = "payments/sandbox_card_fields.html"

    @classmethod
    def owns_source(cls, source: str) -> bool:
        return bool(source) and SandboxCard.objects.filter(token=source).exists()

    def describe_source(self, source: str) -> tuple[str, str]:
        """Brand and last four digits for receipts; ("", "") for an unknown token."""
        card = SandboxCard.objects.filter(token=source).only("brand", "last4").first()
        return (card.brand, card.last4) if card else ("", "")

    def expires_before(self, source: str, day: date) -> bool:
        """A card is good until the last day of its expiry month (as the acquirer rules)."""
        card = SandboxCard.objects.filter(token=source).only("exp_month", "exp_year").first()
        return card is not None and (card.exp_year, card.exp_month) < (day.year, day.month)

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
            authorisation = sandbox.sandbox_authorise(
                merchant=self.merchant,
                token=source,
                amount=amount,
                currency=currency,
                idempotency_key=idempotency_key,
                return_url=return_url,
            )
        except sandbox.SandboxTimeout:
            raise ProviderTimeout(
                "The card acquirer did not answer in time; retry with the same idempotency key."
            ) from None
        return _result_of(authorisation)

    def capture(self, *, reference: str, amount: int, idempotency_key: str) -> PaymentResult:
        movement = sandbox.sandbox_capture(
            merchant=self.merchant,
            reference=reference,
            amount=amount,
            idempotency_key=idempotency_key,
        )
        return _result_of_movement(movement, PaymentStatus.CAPTURED)

    def void(self, *, reference: str, idempotency_key: str) -> PaymentResult:
        movement = sandbox.sandbox_void(
            merchant=self.merchant, reference=reference, idempotency_key=idempotency_key
        )
        return _result_of_movement(movement, PaymentStatus.CANCELLED)

    def refund(self, *, reference: str, amount: int, idempotency_key: str) -> PaymentResult:
        movement = sandbox.sandbox_refund(
            merchant=self.merchant,
            reference=reference,
            amount=amount,
            idempotency_key=idempotency_key,
        )
        return _result_of_movement(movement, PaymentStatus.REFUNDED)

    def retrieve(self, *, reference: str) -> PaymentResult:
        return _result_of(sandbox_authorisation_get(merchant=self.merchant, public_id=reference))
