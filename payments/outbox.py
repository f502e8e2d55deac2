"""Receipts and refund notices: the payments app's kinds of outbox row.

A receipt is planned in the booking transaction (once per checkout, by its dedupe key), so
a lost task can no longer lose it, and it appears in the merchant's outbox like every other
message. Just before sending, the dispatcher asks ``_prepare`` whether the checkout is still
paid; ``_build`` renders it in the payer's language. A refund notice follows the same path:
planned in the refund's booking transaction, once per refund (its ``payment_refunded``
event), telling the payer how much was given back, by which merchant, for which request.
"""

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from notifications.channels import OutgoingMessage
from notifications.kinds import OutboxKind, outbox_kind_register
from notifications.models import Dispatch
from notifications.rendering import format_deadline
from notifications.services import outbox_enqueue
from requests_app.models import RequestEvent

from .models import Checkout
from .selectors import leg_description, legs_paid

KIND = "receipt"
REFUND_KIND = "refund_notice"


def receipt_plan(*, checkout: Checkout) -> bool:
    """Call inside the booking transaction; a payer without an email gets the page only."""
    participant = checkout.participant
    if not participant.email:
        return False
    return outbox_enqueue(
        kind=KIND,
        merchant_id=checkout.merchant_id,
        livemode=checkout.livemode,
        channel="email",
        recipient=participant.email,
        language=checkout.language,
        request_id=checkout.request_id,
        participant_id=participant.pk,
        source_id=checkout.public_id,
        dedupe_key=f"receipt:{checkout.public_id}",
    )


def _prepare(dispatch: Dispatch) -> str:
    checkout = (
        Checkout.objects.select_related("participant", "request", "request__merchant")
        .filter(public_id=dispatch.source_id, status=Checkout.Status.SUCCEEDED)
        .first()
    )
    dispatch.checkout = checkout
    return "" if checkout is not None else "not_paid"


def _build(dispatch: Dispatch) -> OutgoingMessage:
    checkout = dispatch.checkout
    merchant = checkout.request.merchant
    context = {
        "checkout": checkout,
        # Each leg that took money, named as the payer knows it (combined payments have more).
        "methods": [leg_description(leg) for leg in legs_paid(checkout=checkout)],
        # In the merchant's zone, not the server's: the payer compares it with their statement.
        "paid_at": format_deadline(
            checkout.updated_at, language=checkout.language, time_zone=merchant.time_zone
        ),
        "participant": checkout.participant,
        "payment_request": checkout.request,
        "merchant": merchant,
        "receipt_url": settings.PUBLIC_BASE_URL
        + reverse("payer:receipt", args=[checkout.participant.link_token, checkout.public_id]),
    }
    with translation.override(checkout.language):
        subject = render_to_string("emails/receipt_subject.txt", context).strip()
        text = render_to_string("emails/receipt_body.txt", context)
        html = render_to_string("emails/receipt_body.html", context)
    return OutgoingMessage(
        message_id=dispatch.public_id,
        merchant_id=merchant.pk,
        to=dispatch.recipient,
        subject=subject,
        text=text,
        html=html,
        reply_to=merchant.payer_reply_to,
        sender_name=merchant.sender_name,
        livemode=dispatch.livemode,
    )


def refund_notice_plan(*, event: RequestEvent) -> bool:
    """Call inside the refund's booking transaction, with its ``payment_refunded`` event;
    a payer without an email is told nothing by us (the merchant's scenario may)."""
    participant = event.participant
    if participant is None or not participant.email:
        return False
    return outbox_enqueue(
        kind=REFUND_KIND,
        merchant_id=event.merchant_id,
        livemode=event.livemode,
        channel="email",
        recipient=participant.email,
        language=participant.language,
        request_id=event.request_id,
        participant_id=participant.pk,
        source_id=str(event.pk),
        dedupe_key=f"refund:{event.pk}",
    )


def _refund_prepare(dispatch: Dispatch) -> str:
    event = (
        RequestEvent.objects.select_related("participant", "request", "request__merchant")
        .filter(
            pk=int(dispatch.source_id) if dispatch.source_id.isdigit() else None,
            merchant_id=dispatch.merchant_id,
            type=RequestEvent.Type.PAYMENT_REFUNDED,
        )
        .first()
    )
    dispatch.refund_event = event
    return "" if event is not None else "refund_not_found"


def _refund_build(dispatch: Dispatch) -> OutgoingMessage:
    event = dispatch.refund_event
    payment_request = event.request
    merchant = payment_request.merchant
    context = {
        "amount": event.payload["amount"],
        "amount_refunded": event.payload.get("amount_refunded", event.payload["amount"]),
        "participant": event.participant,
        "payment_request": payment_request,
        "merchant": merchant,
        "refunded_at": format_deadline(
            event.created_at, language=dispatch.language, time_zone=merchant.time_zone
        ),
    }
    with translation.override(dispatch.language):
        subject = render_to_string("emails/refund_subject.txt", context).strip()
        text = render_to_string("emails/refund_body.txt", context)
        html = render_to_string("emails/refund_body.html", context)
    return OutgoingMessage(
        message_id=dispatch.public_id,
        merchant_id=merchant.pk,
        to=dispatch.recipient,
        subject=subject,
        text=text,
        html=html,
        reply_to=merchant.payer_reply_to,
        sender_name=merchant.sender_name,
        livemode=dispatch.livemode,
    )


def register() -> None:
    outbox_kind_register(OutboxKind(name=KIND, prepare=_prepare, build=_build))
    outbox_kind_register(OutboxKind(name=REFUND_KIND, prepare=_refund_prepare, build=_refund_build))
