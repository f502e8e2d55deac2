"""The payer's "pay" use case: answers and payment in one entry point.

The payer page (and later any other front) hands over what the payer chose — one leg per
payment method, and their smart-form answers — and gets the checkout back. Everything that
can be refused without moving money is refused here first, all answers at once, so a
refused attempt leaves neither a checkout nor a stray form submission behind.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from pushpay.errors import InvalidFields, InvalidInput, StateConflict
from requests_app.models import Participant, PaymentRequest
from smartforms import services as form_services

from ..installments.selectors import participant_on_running_plan, payer_installment_offer
from ..models import Checkout, Leg, MerchantPaymentSettings
from ..registry import (
    participant_source_check,
    payment_method_available,
    payment_method_get,
    sandbox_owns_source,
)
from ..selectors import checkout_held, payment_methods_enabled
from .combinations import combination_check
from .saga import LegRequest, checkout_open

# However a merchant configures combinations, no payment has more legs than this.
MAX_LEGS = MerchantPaymentSettings.MAX_METHODS_LIMIT


@dataclass(frozen=True)
class PayLeg:
    """What the payer pays with one method: the provider's token for their details
    (``source``) and the amount (None: the participant's remaining share)."""

    method: str
    source: str
    amount: int | None = None


def _leg_from(value: Any) -> PayLeg:
    if isinstance(value, PayLeg):
        return value
    if not isinstance(value, Mapping) or set(value) - {"method", "source", "amount"}:
        raise _legs_invalid()
    method, source, amount = value.get("method"), value.get("source", ""), value.get("amount")
    max_method = Leg._meta.get_field("method").max_length
    if not isinstance(method, str) or not method or len(method) > max_method:
        raise _legs_invalid()
    if not isinstance(source, str):
        raise _legs_invalid()
    # bool is an int to Python, never an amount to us.
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
        raise _legs_invalid()
    return PayLeg(method=method, source=source, amount=amount)


def _legs_invalid() -> InvalidInput:
    return InvalidInput(
        "Each leg needs a payment method, its payment details and an optional amount in "
        "minor units.",
        code="legs_invalid",
        field="legs",
    )


def pay_legs_parse(legs: Any) -> list[PayLeg]:
    """The legs as the saga takes them, or a refusal naming what is wrong with them."""
    if not isinstance(legs, list | tuple) or not legs:
        raise InvalidInput("Choose how to pay.", code="legs_invalid", field="legs")
    if len(legs) > MAX_LEGS:
        raise InvalidInput(
            f"At most {MAX_LEGS} payment methods can be combined in one payment.",
            code="too_many_methods",
            field="legs",
        )
    return [_leg_from(leg) for leg in legs]


def pay_answers_refusals(
    *, participant: Participant, answers: Mapping | None, language: str = ""
) -> list[InvalidInput]:
    """Every wrong answer to the request's smart form ([] when all are right, or when the
    request has no form and none were given). The page asks this too when it refuses the
    amount itself, so the payer still sees every field to fix in one round trip."""
    form_version = participant.request.form_version
    language = language or participant.language
    if form_version is None:
        if answers:
            return [
                InvalidInput(
                    "This request has no form to answer.",
                    code="answers_not_expected",
                    field="answers",
                )
            ]
        return []
    return form_services.submission_refusals(
        form_version=form_version,
        answers={} if answers is None else answers,
        language=language,
    )


def _refuse_before_writing(participant: Participant, leg: PayLeg) -> None:
    """The refusals the saga would make too (and one of ours), made before the answers are
    stored.

    The saga makes them again under the request's lock (they may change in between); only a
    race lost there can leave a submission without a checkout.
    """
    payment_request: PaymentRequest = participant.request
    if payment_request.expires_at and payment_request.expires_at <= timezone.now():
        raise StateConflict("This request has expired.", code="request_expired", field="amount")
    if not payment_request.is_collecting or participant.status not in Participant.UNPAID:
        raise StateConflict(
            "This payment is no longer expected.", code="payment_not_expected", field="amount"
        )
    if participant_on_running_plan(participant_id=participant.pk):
        # The plan charges the share on its dates; paying it again would take it twice.
        raise StateConflict(
            "This share is being paid in installments.", code="plan_running", field="installments"
        )
    offer = payer_installment_offer(participant=participant)
    if offer is not None and not offer.offer.pay_at_once_allowed:
        raise StateConflict(
            "This share is paid in installments only.",
            code="pay_at_once_not_allowed",
            field="installments",
        )
    if checkout_held(participant=participant) is not None:
        # on_completion: the payer's share is already held; a second hold would take twice.
        raise StateConflict(
            "Your payment is already held until the collection completes.",
            code="payment_held",
            field="amount",
        )
    payment_method_get(leg.method)
    allowed = payment_request.allowed_payment_methods or payment_methods_enabled(
        merchant=payment_request.merchant
    )
    if leg.method not in allowed:
        raise InvalidInput(
            f"'{leg.method}' cannot be used for this request.",
            code="payment_method_not_allowed",
            field="method",
        )
    if not payment_method_available(
        merchant=payment_request.merchant, method=leg.method, livemode=payment_request.livemode
    ):
        raise InvalidInput(
            "This payment method is not available.",
            code="payment_method_unavailable",
            field="method",
        )
    if not leg.source:
        raise InvalidInput(
            "The payment details are missing.", code="source_required", field="source"
        )
    if len(leg.source) > Leg._meta.get_field("source").max_length:
        raise InvalidInput(
            "The payment details are not valid.", code="source_invalid", field="source"
        )
    if payment_request.livemode and sandbox_owns_source(leg.source):
        raise InvalidInput(
            "Test cards and sandbox tokens cannot pay a live request.",
            code="test_source_in_live_mode",
            field="source",
        )
    participant_source_check(
        payment_request=payment_request,
        participant=participant,
        method=leg.method,
        source=leg.source,
    )


def checkout_pay(
    *,
    participant: Participant,
    legs: list[PayLeg | Mapping[str, Any]],
    answers: Mapping | None,
    language: str = "",
    return_url: Callable[[Checkout], str] | None = None,
) -> Checkout:
    """Check the payer's answers and legs, store the answers, then run the checkout saga.

    Raises ``InvalidFields`` with every wrong answer (nothing stored, nothing charged), or
    the saga's own refusals. Returns the checkout as it stands afterwards: succeeded,
    authorised (held until the collection completes), requires_action (3-D Secure) or failed.
    """
    legs = pay_legs_parse(legs)
    language = language or participant.language
    for leg in legs:
        _refuse_before_writing(participant, leg)
    if len(legs) > 1 and all(leg.amount is not None for leg in legs):
        combination_check(
            merchant=participant.request.merchant,
            legs=[(leg.method, leg.amount) for leg in legs],
            currency=participant.request.currency,
        )
    refusals = pay_answers_refusals(participant=participant, answers=answers, language=language)
    if refusals:
        raise InvalidFields(refusals)
    form_version = participant.request.form_version
    submission_id = ""
    if form_version is not None:
        submission = form_services.submission_create(
            form_version=form_version,
            answers={} if answers is None else dict(answers),
            language=language,
            participant_public_id=participant.public_id,
        )
        submission_id = submission.public_id
    return checkout_open(
        participant=participant,
        legs=[LegRequest(method=leg.method, source=leg.source, amount=leg.amount) for leg in legs],
        language=language,
        return_url=return_url,
        form_submission=submission_id,
    )
