"""Merchant- and mode-scoped reads of installment plans."""

from django.db.models import QuerySet

from merchants.models import Merchant

from .models import InstallmentPlan


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
