"""Provider webhooks: Stripe telling us of outcomes we did not see ourselves.

A capture that succeeded after our timeout, a payer who paid on Stripe's page and closed the
browser before coming back, a refund made in Stripe's dashboard, a payer's bank disputing a
payment (``charge.dispute.*``, recorded by ``disputes.dispute_record``): each arrives as a
signed event, addressed to the merchant's own endpoint (``ProviderCredential.webhook_id``) and
verified with that account's signing secret (the SDK's check, 300 s tolerance).

An event is a hint, not the truth: what it names is read back from Stripe (the saga's
``retrieve``) and goes through the same services as a payer's return, recovery or a refund,
so a forged-but-signed or stale event can never book more than Stripe holds. Each event id
is handled once per account; unknown types and replays are acknowledged and change nothing.
"""

from __future__ import annotations

import json
import logging

import stripe
from django.db import IntegrityError, transaction
from django.utils import timezone

from pushpay.errors import DoesNotExist, InvalidInput, StateConflict

from ..adapters.base import PaymentStatus, ProviderError
from ..adapters.stripe_disputes import stripe_charge_intent, stripe_dispute_read
from ..credentials import InvalidToken, decrypt
from ..credentials_models import ProviderCredential, ProviderEvent
from ..models import Checkout, Leg
from ..selectors import provider_credential_by_webhook_id
from .disputes import dispute_record
from .recovery import _recover
from .refunds import refund_record_at_provider
from .saga import _adapter_of, _retrieve, checkout_resume

logger = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300
STRIPE = ProviderCredential.Provider.STRIPE

_INTENT_EVENTS = {
    "payment_intent.succeeded",
    "payment_intent.amount_capturable_updated",
    "payment_intent.canceled",
    "payment_intent.payment_failed",
    "checkout.session.completed",
    "checkout.session.expired",
}
_REFUND_EVENTS = {"charge.refunded", "charge.refund.updated"}
_DISPUTE_EVENTS = {
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
}


class InvalidSignature(InvalidInput):
    """The delivery is not provably Stripe's: 400, so Stripe (and the merchant, in its
    dashboard) see it refused, and it changes nothing."""

    http_status = 400


def _invalid_signature(message: str) -> InvalidSignature:
    return InvalidSignature(message, code="invalid_signature", field="Stripe-Signature")


def stripe_event_receive(*, webhook_id: str, payload: bytes, signature: str | None) -> str:
    """Verify and handle one Stripe delivery; returns what came of it (for the log and the
    response). Refuses an unknown endpoint (``DoesNotExist``) and a bad signature or body
    (``invalid_signature``, 400: Stripe shows it to the merchant and retries)."""
    credential = provider_credential_by_webhook_id(provider=STRIPE, webhook_id=webhook_id)
    if credential is None:
        raise DoesNotExist("No such webhook endpoint.", code="not_found")
    if not credential.webhook_secret_encrypted:
        raise _invalid_signature("No signing secret is stored for this endpoint.")
    try:
        secret = decrypt(credential.webhook_secret_encrypted)
    except InvalidToken:
        logger.error("Stripe webhook secret of %s cannot be decrypted", credential.webhook_id)
        raise _invalid_signature("The signing secret of this endpoint cannot be read.") from None
    try:
        # The SDK's check: HMAC-SHA256 of "<t>.<body>", any v1 of the header, |now - t| <= 300.
        stripe.WebhookSignature.verify_header(
            payload, signature or "", secret, tolerance=TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError:
        raise _invalid_signature("The Stripe-Signature does not match this body.") from None
    except (ValueError, UnicodeDecodeError):
        raise _invalid_signature("The body is not a Stripe event.") from None
    event_id, event_type = _field(event, "id"), _field(event, "type")
    if (
        not isinstance(event, dict)
        or not isinstance(event_id, str)
        or not isinstance(event_type, str)
    ):
        raise _invalid_signature("The body is not a Stripe event.")
    if bool(_field(event, "livemode")) != credential.livemode:
        return "ignored_other_mode"  # a test event sent to a live endpoint, or the reverse
    if ProviderEvent.objects.filter(
        merchant=credential.merchant,
        provider=STRIPE,
        livemode=credential.livemode,
        event_id=event_id[:80],
    ).exists():
        return "replayed"
    obj = _field(_field(event, "data"), "object")
    if event_type in _INTENT_EVENTS:
        outcome = _reconcile_leg(credential, obj)
    elif event_type in _REFUND_EVENTS:
        outcome = _reconcile_refund(credential, obj, event_id)
    elif event_type in _DISPUTE_EVENTS:
        outcome = _reconcile_dispute(credential, obj)
    else:
        outcome = "ignored"
    try:
        with transaction.atomic():
            ProviderEvent.objects.create(
                merchant=credential.merchant,
                livemode=credential.livemode,
                provider=STRIPE,
                event_id=event_id[:80],
                type=event_type[:80],
                outcome=outcome,
            )
    except IntegrityError:
        return "replayed"  # delivered twice at once: the other delivery recorded it
    return outcome


def _field(obj, name: str):
    if obj is None:
        return None
    try:
        return obj[name]
    except (KeyError, TypeError):
        return None


def _leg_of(credential: ProviderCredential, obj) -> Leg | None:
    """The leg an event's object belongs to, in this account's merchant and mode only."""
    metadata = _field(obj, "metadata")
    leg_id = _field(metadata, "leg")
    legs = Leg.objects.select_related("checkout", "merchant").filter(
        merchant=credential.merchant, livemode=credential.livemode, provider=STRIPE
    )
    if isinstance(leg_id, str) and leg_id:
        found = legs.filter(public_id=leg_id[:40]).first()
        if found is not None:
            return found
    references = [
        ref
        for ref in (_field(obj, "id"), _field(obj, "payment_intent"))
        if isinstance(ref, str) and ref
    ]
    return legs.filter(provider_reference__in=references).first() if references else None


def _reconcile_leg(credential: ProviderCredential, obj) -> str:
    leg = _leg_of(credential, obj)
    if leg is None:
        return "unknown_object"
    checkout = (
        Checkout.objects.select_related("merchant", "request")
        .prefetch_related("legs")
        .get(pk=leg.checkout_id)
    )
    if leg.status == Leg.Status.REQUIRES_ACTION:
        # The payer paid on Stripe's page but has not come back (yet): go on as if they had.
        checkout_resume(checkout=checkout)
        return "resumed"
    if leg.status == Leg.Status.UNKNOWN and leg.provider_reference:
        # Our call's answer was lost (a capture that timed out): ask Stripe and finish.
        _recover(checkout)
        return "recovered"
    return "up_to_date"


def _reconcile_refund(credential: ProviderCredential, obj, event_id: str) -> str:
    leg = _leg_of(credential, obj)
    if leg is None:
        return "unknown_object"
    adapter = _adapter_of(leg.checkout, leg)
    if adapter is None:
        return "no_adapter"
    try:
        result = _retrieve(adapter, leg)
    except ProviderError:
        raise StateConflict(
            "Stripe did not answer; deliver the event again later.",
            code="provider_unreachable",
            field=None,
        ) from None
    if result.status != PaymentStatus.REFUNDED:
        return "up_to_date"
    booked = refund_record_at_provider(
        leg=leg,
        total_refunded=result.amount,
        reference=result.operation_reference,
        note=f"Refunded at Stripe (event {event_id[:60]}).",
    )
    return "refund_booked" if booked else "up_to_date"


def _reconcile_dispute(credential: ProviderCredential, obj) -> str:
    """Any of the dispute events: read the dispute back from Stripe with the account's own
    key and record its whole state (``dispute_record`` ignores what it already holds, or
    what is older than it), so the five event types, replayed or out of order, agree."""
    dispute_id = _field(obj, "id")
    if not isinstance(dispute_id, str) or not dispute_id or len(dispute_id) > 80:
        return "unknown_object"
    read_at = timezone.now()
    try:
        secret_key = decrypt(credential.secret_key_encrypted)
        found = stripe_dispute_read(secret_key=secret_key, dispute_id=dispute_id)
        payment_intent = found.payment_intent if found is not None else ""
        if found is not None and not payment_intent and found.charge:
            # A dispute naming only its charge: the charge names the intent our leg holds.
            payment_intent = stripe_charge_intent(secret_key=secret_key, charge_id=found.charge)
    except (ProviderError, InvalidToken):
        raise StateConflict(
            "Stripe did not answer; deliver the event again later.",
            code="provider_unreachable",
            field=None,
        ) from None
    if found is None:
        return "unknown_object"
    if found.status is None:
        return "ignored_status"
    leg = _leg_of(credential, {"id": found.id, "payment_intent": payment_intent})
    if leg is None:
        return "unknown_object"  # a charge not made through us (or not this merchant's)
    try:
        outcome = dispute_record(
            provider=STRIPE,
            provider_reference=found.id,
            leg=leg,
            amount=found.amount,
            currency=found.currency,
            reason=found.reason,
            raw_reason=found.raw_reason,
            status=found.status,
            evidence_due_by=found.evidence_due_by,
            occurred_at=read_at,
            funds_withdrawn=found.funds_withdrawn,
            funds_reinstated=found.funds_reinstated,
            fee=found.fee,
        )
    except InvalidInput as refused:
        logger.warning("Stripe dispute %s not recorded: %s", found.id, refused.message)
        return "invalid_dispute"
    if outcome.event is None:
        return "up_to_date"
    return outcome.event.replace(".", "_")
