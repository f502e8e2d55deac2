"""The merchant's alert when a payer's bank disputes a payment: the ``dispute_alert`` outbox
kind. Planned in the transaction that records the dispute (once per dispute, by its dedupe
key), sent to the merchant's contact address in the merchant's language with the amount,
the reason, the date evidence is due in the merchant's zone and a link to the request: a
dispute left unanswered past that date is lost, so the merchant must hear of it even when
nobody watches the back office."""

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from notifications.channels import OutgoingMessage
from notifications.kinds import OutboxKind, outbox_kind_register
from notifications.models import Dispatch
from notifications.rendering import format_deadline
from notifications.services import outbox_enqueue
from pushpay.money import format_money

from .dispute_models import Dispute

KIND = "dispute_alert"


def dispute_alert_plan(*, dispute: Dispute, payment_request) -> bool:
    """Call inside the transaction that records ``dispute``; a merchant without a contact
    address sees disputes in the back office and the API only."""
    merchant = payment_request.merchant
    if not merchant.contact_email:
        return False
    return outbox_enqueue(
        kind=KIND,
        merchant_id=merchant.pk,
        livemode=dispute.livemode,
        channel="email",
        recipient=merchant.contact_email,
        language=merchant.default_language,
        request_id=payment_request.pk,
        source_id=dispute.public_id,
        dedupe_key=f"dispute-alert:{dispute.public_id}",
    )


def _prepare(dispatch: Dispatch) -> str:
    dispute = (
        Dispute.objects.select_related(
            "merchant", "leg__checkout__request", "leg__checkout__participant"
        )
        .filter(merchant_id=dispatch.merchant_id, public_id=dispatch.source_id)
        .first()
    )
    dispatch.dispute = dispute
    return "" if dispute is not None else "dispute_not_found"


def _build(dispatch: Dispatch) -> OutgoingMessage:
    dispute = dispatch.dispute
    merchant = dispute.merchant
    language = dispatch.language
    payment_request = dispute.leg.checkout.request
    context = {
        "dispute": dispute,
        "merchant": merchant,
        "payment_request": payment_request,
        "participant": dispute.leg.checkout.participant,
        "amount": format_money(dispute.amount, dispute.currency, language),
        "evidence_due_by": format_deadline(
            dispute.evidence_due_by, language=language, time_zone=merchant.time_zone
        )
        if dispute.evidence_due_by
        else "",
        "page_url": settings.PUBLIC_BASE_URL
        + reverse("backoffice:request_detail", args=[payment_request.public_id]),
    }
    with translation.override(language):
        context["reason"] = translation.pgettext("dispute reason", dispute.get_reason_display())
        context["status"] = translation.gettext(dispute.get_status_display())
        subject = render_to_string("emails/dispute_alert_subject.txt", context).strip()
        text = render_to_string("emails/dispute_alert_body.txt", context)
        html = render_to_string("emails/dispute_alert_body.html", context)
    return OutgoingMessage(
        message_id=dispatch.public_id,
        merchant_id=merchant.pk,
        to=dispatch.recipient,
        subject=subject,
        text=text,
        html=html,
        reply_to="",
        livemode=dispatch.livemode,
    )


def register() -> None:
    outbox_kind_register(OutboxKind(name=KIND, prepare=_prepare, build=_build))
