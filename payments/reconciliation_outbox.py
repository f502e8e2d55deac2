"""The merchant's reconciliation email: the payments app's ``reconciliation`` outbox kind.

Planned in the transaction that wrote the statement (once per request and version, by its
dedupe key), sent to the merchant's contact address in the merchant's language, with the
totals and a link to the statement's back-office page. It follows the receipt's path
(``payments.outbox``): ``_prepare`` re-reads the statement just before sending, ``_build``
renders it.
"""

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from merchants.models import Merchant
from notifications.channels import OutgoingMessage
from notifications.kinds import OutboxKind, outbox_kind_register
from notifications.models import Dispatch
from notifications.rendering import format_deadline
from notifications.services import outbox_enqueue

from .reconciliation_models import Reconciliation
from .selectors import payment_method_label, reconciliation_get, reconciliation_methods

KIND = "reconciliation"


def reconciliation_plan(*, reconciliation: Reconciliation, merchant: Merchant) -> bool:
    """Call in the statement's transaction; a merchant without a contact address reads it
    in the back office only."""
    if not merchant.contact_email:
        return False
    return outbox_enqueue(
        kind=KIND,
        merchant_id=merchant.pk,
        livemode=reconciliation.livemode,
        channel="email",
        recipient=merchant.contact_email,
        language=merchant.default_language,
        request_id=reconciliation.request_id,
        source_id=reconciliation.public_id,
        dedupe_key=f"reconciliation:{reconciliation.request.public_id}:v{reconciliation.version}",
    )


def _prepare(dispatch: Dispatch) -> str:
    reconciliation = reconciliation_get(
        merchant_id=dispatch.merchant_id, public_id=dispatch.source_id
    )
    dispatch.reconciliation = reconciliation
    return "" if reconciliation is not None else "reconciliation_not_found"


def _build(dispatch: Dispatch) -> OutgoingMessage:
    reconciliation = dispatch.reconciliation
    payment_request = reconciliation.request
    merchant = reconciliation.merchant
    totals = reconciliation.totals
    context = {
        "reconciliation": reconciliation,
        "payment_request": payment_request,
        "merchant": merchant,
        "currency": reconciliation.currency,
        "totals": totals,
        "methods": [
            (payment_method_label(code), sums)
            for code, sums in reconciliation_methods(lines=reconciliation.lines, totals=totals)
        ],
        "created_at": format_deadline(
            reconciliation.created_at, language=dispatch.language, time_zone=merchant.time_zone
        ),
        "page_url": settings.PUBLIC_BASE_URL
        + reverse("reconciliation:request", args=[payment_request.public_id]),
    }
    with translation.override(dispatch.language):
        subject = render_to_string("emails/reconciliation_subject.txt", context).strip()
        text = render_to_string("emails/reconciliation_body.txt", context)
        html = render_to_string("emails/reconciliation_body.html", context)
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
