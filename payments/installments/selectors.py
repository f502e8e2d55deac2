"""Merchant- and mode-scoped reads of installment plans."""

from datetime import date, datetime

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from merchants.models import Merchant
from pushpay.errors import DomainError

from .models import Installment, InstallmentPlan


def installment_plans(
    *, merchant: Merchant, livemode: bool, participant_public_id: str | None = None
) -> QuerySet[InstallmentPlan]:
    plans = (
        InstallmentPlan.objects.filter(merchant=merchant, livemode=livemode)
        .select_related("request", "participant")
        .prefetch_related("installments")
    )
    if participant_public_id is not None:
        plans = plans.filter(participant__public_id=participant_public_id)
    return plans


def installment_plan_get(
    *, merchant: Merchant, livemode: bool, public_id: str
) -> InstallmentPlan | None:
    return (
        installment_plans(merchant=merchant, livemode=livemode).filter(public_id=public_id).first()
    )


RUNNING = (InstallmentPlan.Status.PENDING, InstallmentPlan.Status.ACTIVE)
STILL_TO_CHARGE = (
    Installment.Status.SCHEDULED,
    Installment.Status.PROCESSING,
    Installment.Status.FAILED,
)


def participant_on_running_plan(*, participant_id: int) -> bool:
    """Whether the payer's share is being collected by a plan: its own messages then
    replace the request's "unpaid" reminders."""
    return InstallmentPlan.objects.filter(
        participant_id=participant_id, status__in=RUNNING
    ).exists()


def installments_still_to_charge(*, merchant_id: int, plan_public_id: str) -> list[Installment]:
    """A plan's installments not yet paid (nor stopped), in date order, for a notice read
    at send time: what the payer will still be charged."""
    return list(
        Installment.objects.filter(
            plan__merchant_id=merchant_id,
            plan__public_id=plan_public_id,
            status__in=STILL_TO_CHARGE,
        ).order_by("due_date", "position")
    )


def installment_get(*, merchant_id: int, public_id: str) -> Installment | None:
    return Installment.objects.filter(plan__merchant_id=merchant_id, public_id=public_id).first()


def installment_plan_for_participant(*, participant, public_id: str) -> InstallmentPlan | None:
    """A plan as its payer's link reaches it: only the link's own participant's plans, so
    another payer's plan id behind this link is simply not found."""
    if not isinstance(public_id, str) or len(public_id) > 40:
        return None
    return (
        InstallmentPlan.objects.filter(participant_id=participant.pk, public_id=public_id)
        .select_related("merchant")
        .prefetch_related("installments")
        .first()
    )


def installment_plan_of_checkout(*, plan: InstallmentPlan, checkout) -> bool:
    """Whether ``checkout`` charged one of ``plan``'s installments (or paid it off)."""
    if not checkout.installment:
        return False
    if checkout.installment == plan.public_id:
        return True
    return any(item.public_id == checkout.installment for item in plan.installments.all())


def card_expires_before(
    *, merchant: Merchant, livemode: bool, source: str, day: date, method: str = "card"
) -> bool:
    """Whether the card behind ``source`` expires before ``day`` (a plan's last charge):
    the payer is warned and may give another card, or go on (a charge refused for expiry
    then takes the failure path, whose notice lets them pay with another card). Asked of
    the method's adapter; a method that cannot tell is never flagged."""
    from ..registry import adapter_for  # the registry reads the adapters, which read us

    if not source:
        return False
    try:
        adapter = adapter_for(merchant=merchant, method=method, livemode=livemode)
    except DomainError:
        return False
    return adapter.expires_before(source, day)


def plan_card_expires_before(*, plan: InstallmentPlan, day: date) -> bool:
    """Whether the plan's card on file expires before ``day``."""
    return card_expires_before(
        merchant=plan.merchant,
        livemode=plan.livemode,
        source=plan.source,
        day=day,
        method=plan.method,
    )


def plan_card_label(*, plan: InstallmentPlan) -> str:
    """The plan's card as the payer knows it ("visa •••• 4242"), "" when unknown."""
    from ..registry import adapter_for

    try:
        adapter = adapter_for(merchant=plan.merchant, method=plan.method, livemode=plan.livemode)
    except DomainError:
        return ""
    brand, last4 = adapter.describe_source(plan.source)
    return f"{brand} •••• {last4}" if last4 else ""


def installments_due_between(
    *, merchant: Merchant, livemode: bool, start: datetime, end: datetime
) -> QuerySet[Installment]:
    """Installments of running plans whose next charge (first try or retry) falls in
    [start, end): what the charging job will take, for the back office's week view."""
    return (
        Installment.objects.filter(
            plan__merchant=merchant,
            plan__livemode=livemode,
            plan__status=InstallmentPlan.Status.ACTIVE,
            status__in=STILL_TO_CHARGE,
            next_attempt_at__gte=start,
            next_attempt_at__lt=end,
        )
        .select_related("plan", "plan__request", "plan__participant")
        .order_by("next_attempt_at", "id")
    )


def installment_plans_defaulted(*, merchant: Merchant, livemode: bool) -> QuerySet:
    """Defaulted plans, latest first, each with what was collected and what was left."""
    paid = Q(installments__status=Installment.Status.PAID)
    return (
        InstallmentPlan.objects.filter(
            merchant=merchant, livemode=livemode, status=InstallmentPlan.Status.DEFAULTED
        )
        .select_related("request", "participant")
        .annotate(
            collected=Coalesce(Sum("installments__amount", filter=paid), 0),
        )
        .order_by("-updated_at", "-id")
    )
