"""A plan moves when its charge's outcome is booked: in the booking transaction itself."""

from requests_app.events import reaction_register
from requests_app.models import RequestEvent
from requests_app.ports import installment_offers_register, keeps_collecting_register

from ..models import Checkout
from .models import InstallmentPlan
from .offers import installment_offer_parse
from .services import installment_payoff_settle, installment_settle

T = RequestEvent.Type


def _settle(event: RequestEvent) -> None:
    checkout_id = (event.payload or {}).get("checkout")
    if not checkout_id:
        return
    checkout = (
        Checkout.objects.filter(merchant_id=event.merchant_id, public_id=checkout_id)
        .only("public_id", "installment", "failure_reason")
        .first()
    )
    if checkout is None or not checkout.installment:
        return
    if checkout.installment.startswith("ip_"):  # a pay-off of everything left
        if event.type == T.PAYMENT_SUCCEEDED:
            installment_payoff_settle(
                plan_public_id=checkout.installment, checkout_public_id=checkout.public_id
            )
        return
    installment_settle(
        checkout_public_id=checkout.public_id,
        installment_public_id=checkout.installment,
        paid=event.type == T.PAYMENT_SUCCEEDED,
        reason=(event.payload or {}).get("reason", ""),
    )


def _keeps_collecting(payment_request) -> bool:
    return InstallmentPlan.objects.filter(
        request_id=payment_request.pk,
        status__in=[InstallmentPlan.Status.PENDING, InstallmentPlan.Status.ACTIVE],
    ).exists()


def register() -> None:
    from . import outbox

    outbox.register()
    keeps_collecting_register(_keeps_collecting)
    installment_offers_register(installment_offer_parse)
    reaction_register(
        name="payments.installments.settle",
        handler=_settle,
        types=(T.PAYMENT_SUCCEEDED, T.PAYMENT_FAILED),
        after_commit=False,
    )
