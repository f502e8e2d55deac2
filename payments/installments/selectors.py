"""Merchant- and mode-scoped reads of installment plans."""

from django.db.models import QuerySet

from merchants.models import Merchant

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


def installment_plans_by_participant(
    *, merchant: Merchant, livemode: bool, participant_ids: list[str]
) -> dict[str, InstallmentPlan]:
    """Each participant's latest plan (running or finished) with its installments, keyed by
    participant public id: what the request API shows per payer (two queries in all)."""
    if not participant_ids:
        return {}
    found: dict[str, InstallmentPlan] = {}
    plans = installment_plans(merchant=merchant, livemode=livemode).filter(
        participant__public_id__in=participant_ids
    )
    for plan in plans.order_by("-created_at", "-id"):
        found.setdefault(plan.participant.public_id, plan)
    return found


def installment_plan_latest(*, participant) -> InstallmentPlan | None:
    """The payer's latest plan, for their own page (reached by their link's token)."""
    return (
        InstallmentPlan.objects.filter(
            merchant_id=participant.merchant_id,
            livemode=participant.livemode,
            participant=participant,
        )
        .prefetch_related("installments")
        .order_by("-created_at", "-id")
        .first()
    )
