"""Reads of scenarios, dispatches and the local outbox, always scoped to one merchant
(ARCHITECTURE.md guarantee 5): another merchant's object is simply not found.
"""

from django.conf import settings
from django.db.models import Prefetch, QuerySet

from merchants.models import Merchant
from notifications.channels import test_mode_uses_outbox
from requests_app.models import PaymentRequest

from .models import Dispatch, OutboxMessage, Scenario, ScenarioBinding, Step, WebhookEndpoint

OUTBOX_EMAIL_BACKEND = "notifications.outbox_backend.OutboxEmailBackend"


def scenario_list(*, merchant: Merchant) -> QuerySet[Scenario]:
    """Scenarios with the steps of their current version: two queries whatever the page."""
    return Scenario.objects.filter(merchant=merchant).prefetch_related(
        Prefetch(
            "steps",
            queryset=Step.objects.select_related("template", "webhook_endpoint").order_by(
                "version", "position"
            ),
            to_attr="all_steps",
        )
    )


def scenario_get(*, merchant: Merchant, public_id: str) -> Scenario | None:
    return scenario_list(merchant=merchant).filter(public_id=public_id).first()


def scenario_for_request(*, payment_request: PaymentRequest) -> Scenario | None:
    """The scenario a request follows once planned (its version is on the binding)."""
    binding = ScenarioBinding.objects.filter(request=payment_request).select_related("scenario")
    found = binding.first()
    return found.scenario if found else None


def dispatch_list(*, merchant: Merchant, payment_request: PaymentRequest) -> QuerySet[Dispatch]:
    return Dispatch.objects.filter(merchant=merchant, request=payment_request).select_related(
        "participant", "step", "step__scenario", "resend_of"
    )


def dispatch_get(
    *, merchant: Merchant, payment_request: PaymentRequest, public_id: str
) -> Dispatch | None:
    return (
        dispatch_list(merchant=merchant, payment_request=payment_request)
        .filter(public_id=public_id)
        .first()
    )


def outbox_in_use(*, livemode: bool) -> bool:
    """The local outbox only means something when email or SMS actually go there: always for
    test mode (unless real channels were asked for), by configuration for live mode."""
    if not livemode and test_mode_uses_outbox():
        return True
    email = getattr(settings, "EMAIL_BACKEND", "") == OUTBOX_EMAIL_BACKEND
    return email or getattr(settings, "SMS_BACKEND", "outbox") == "outbox"


def outbox_list(*, merchant: Merchant, livemode: bool) -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.filter(merchant=merchant, livemode=livemode)


def webhook_endpoint_list(*, merchant: Merchant, livemode: bool) -> QuerySet[WebhookEndpoint]:
    """Endpoints have a mode like requests: test events are only ever sent to test ones."""
    return WebhookEndpoint.objects.filter(merchant=merchant, livemode=livemode)


def request_notifies_on(*, payment_request: PaymentRequest, trigger: str) -> bool:
    """Whether the request's scenario has a step for ``trigger``; the built-in receipt
    email steps aside when the merchant's scenario sends its own."""
    binding = ScenarioBinding.objects.filter(request=payment_request).first()
    if binding is None:
        return False
    return Step.objects.filter(
        scenario_id=binding.scenario_id, version=binding.version, trigger=trigger
    ).exists()
