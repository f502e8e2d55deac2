"""The merchant's alert when an installment plan defaults: the ``installment_default_alert``
outbox kind. Planned in the transaction that defaults the plan (once per plan, by its
dedupe key) and sent to the merchant's contact address in the merchant's language, so the
merchant hears of it even when no scenario step is configured for the payer."""

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from notifications.channels import OutgoingMessage
from notifications.kinds import OutboxKind, outbox_kind_register
from notifications.models import Dispatch
from notifications.services import outbox_enqueue
from pushpay.money import format_money

from .models import Installment, InstallmentPlan

KIND = "installment_default_alert"


def default_alert_plan(*, plan: InstallmentPlan) -> bool:
    """Call inside the transaction that defaults ``plan``; a merchant without a contact
    address sees defaulted plans in the API only."""
    merchant = plan.merchant
    if not merchant.contact_email:
        return False
    return outbox_enqueue(
        kind=KIND,
        merchant_id=merchant.pk,
        livemode=plan.livemode,
        channel="email",
        recipient=merchant.contact_email,
        language=merchant.default_language,
        request_id=plan.request_id,
        source_id=plan.public_id,
        dedupe_key=f"installment-default:{plan.public_id}",
    )


def _prepare(dispatch: Dispatch) -> str:
    plan = (
        InstallmentPlan.objects.select_related("merchant", "request", "participant")
        .filter(merchant_id=dispatch.merchant_id, public_id=dispatch.source_id)
        .first()
    )
    dispatch.plan = plan
    return "" if plan is not None else "plan_not_found"


def _build(dispatch: Dispatch) -> OutgoingMessage:
    plan = dispatch.plan
    language = dispatch.language
    unpaid = plan.installments.filter(
        status__in=[Installment.Status.DEFAULTED, Installment.Status.CANCELLED]
    )
    context = {
        "plan": plan,
        "merchant": plan.merchant,
        "payment_request": plan.request,
        "participant": plan.participant,
        "unpaid": format_money(sum(i.amount for i in unpaid), plan.currency, language),
        "page_url": settings.PUBLIC_BASE_URL
        + reverse("backoffice:request_detail", args=[plan.request.public_id]),
    }
    with translation.override(language):
        subject = render_to_string("emails/installment_default_subject.txt", context).strip()
        text = render_to_string("emails/installment_default_body.txt", context)
    return OutgoingMessage(
        message_id=dispatch.public_id,
        merchant_id=plan.merchant_id,
        to=dispatch.recipient,
        subject=subject,
        text=text,
        html="",
        reply_to="",
        livemode=dispatch.livemode,
    )


def register() -> None:
    outbox_kind_register(OutboxKind(name=KIND, prepare=_prepare, build=_build))
