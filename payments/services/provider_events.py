"""Provider webhooks: Stripe and PayPal telling us of outcomes we did not see ourselves.

A capture that succeeded after our timeout, a payer who paid on Stripe's page and closed the
browser before coming back, a refund made in Stripe's dashboard, a payer's bank disputing a
payment (Stripe's ``charge.dispute.*``, PayPal's ``CUSTOMER.DISPUTE.*``, both recorded by
``disputes.dispute_record``): each arrives as a signed event, addressed to the merchant's own
endpoint (``ProviderCredential.webhook_id``) and verified with that account's signing secret
(the SDK's check, 300 s tolerance).

An event is a hint, not the truth: what it names is read back from Stripe (the saga's
``retrieve``) and goes through the same services as a payer's return, recovery or a refund,
so a forged-but-signed or stale event can never book more than Stripe holds. Each event id
is handled once per account; unknown types and replays are acknowledged and change nothing.

PayPal signs with its certificate and offers no local check that covers every case: a
delivery is verified by asking PayPal (``POST /v1/notifications/verify-webhook-signature``,
with the merchant's app and the webhook id it stored), and only ``SUCCESS`` goes on.
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
PAYPAL = ProviderCredential.Provider.PAYPAL

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
    # Stripe: metadata.leg; PayPal: the purchase unit's custom_id, which its
    # authorizations, captures and refunds carry.
    leg_id = _field(_field(obj, "metadata"), "leg") or _field(obj, "custom_id")
    legs = Leg.objects.select_related("checkout", "merchant").filter(
        merchant=credential.merchant, livemode=credential.livemode, provider=credential.provider
    )
    if isinstance(leg_id, str) and leg_id:
        found = legs.filter(public_id=leg_id[:40]).first()
        if found is not None:
            return found
    related = _field(_field(obj, "supplementary_data"), "related_ids")
    references = [
        ref
        for ref in (
            _field(obj, "id"),
            _field(obj, "payment_intent"),
            _field(related, "order_id"),  # PayPal: an authorization's or capture's order
        )
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
            "The provider did not answer; deliver the event again later.",
            code="provider_unreachable",
            field=None,
        ) from None
    if result.status != PaymentStatus.REFUNDED:
        return "up_to_date"
    booked = refund_record_at_provider(
        leg=leg,
        total_refunded=result.amount,
        reference=result.operation_reference,
        note=f"Refunded at {credential.get_provider_display()} (event {event_id[:60]}).",
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


# --- PayPal ------------------------------------------------------------------------------

_PAYPAL_HEADERS = {
    "transmission_id": "PAYPAL-TRANSMISSION-ID",
    "transmission_time": "PAYPAL-TRANSMISSION-TIME",
    "transmission_sig": "PAYPAL-TRANSMISSION-SIG",
    "cert_url": "PAYPAL-CERT-URL",
    "auth_algo": "PAYPAL-AUTH-ALGO",
}
# What an order, authorization or capture event names is re-read as the leg's order.
_PAYPAL_LEG_EVENTS = {
    "CHECKOUT.ORDER.APPROVED",
    "PAYMENT.AUTHORIZATION.CREATED",
    "PAYMENT.AUTHORIZATION.VOIDED",
    "PAYMENT.CAPTURE.COMPLETED",
    "PAYMENT.CAPTURE.DENIED",
}
# A refund (ours or the dashboard's) or a reversal: the resource is the refund.
_PAYPAL_REFUND_EVENTS = {"PAYMENT.CAPTURE.REFUNDED", "PAYMENT.CAPTURE.REVERSED"}
# The resource is the dispute: re-read from the Disputes API, recorded by dispute_record.
_PAYPAL_DISPUTE_EVENTS = {
    "CUSTOMER.DISPUTE.CREATED",
    "CUSTOMER.DISPUTE.UPDATED",
    "CUSTOMER.DISPUTE.RESOLVED",
}


def _paypal_invalid(message: str, field: str = "PAYPAL-TRANSMISSION-SIG") -> InvalidSignature:
    return InvalidSignature(message, code="invalid_signature", field=field)


def paypal_event_receive(*, webhook_id: str, payload: bytes, headers) -> str:
    """Verify (by asking PayPal) and handle one PayPal delivery; returns what came of it.
    Refuses an unknown endpoint (``DoesNotExist``), missing headers, a body that is not an
    event and a verification PayPal does not answer ``SUCCESS`` (``invalid_signature``,
    400); no answer from PayPal is 409, and PayPal delivers again later."""
    from ..adapters.paypal_rest import PayPalAPIError, PayPalCredentialsRejected, paypal_client_of

    credential = provider_credential_by_webhook_id(provider=PAYPAL, webhook_id=webhook_id)
    if credential is None:
        raise DoesNotExist("No such webhook endpoint.", code="not_found")
    transmission = {}
    for name, header in _PAYPAL_HEADERS.items():
        value = headers.get(header)
        if not value or len(value) > 2048:
            raise _paypal_invalid(f"The {header} header is missing.", field=header)
        transmission[name] = value
    if not credential.webhook_secret_encrypted:
        raise _paypal_invalid("No PayPal webhook id is stored for this endpoint.")
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise _paypal_invalid("The body is not a PayPal event.", field=None) from None
    event_id, event_type = _field(event, "id"), _field(event, "event_type")
    if (
        not isinstance(event, dict)
        or not isinstance(event_id, str)
        or not isinstance(event_type, str)
        or not isinstance(_field(event, "resource"), dict)
    ):
        raise _paypal_invalid("The body is not a PayPal event.", field=None)
    try:
        client = paypal_client_of(credential)
        answer = client.call(
            "POST",
            "/v1/notifications/verify-webhook-signature",
            {
                **transmission,
                "webhook_id": decrypt(credential.webhook_secret_encrypted),
                "webhook_event": event,
            },
        )
    except InvalidToken:
        logger.error("PayPal credentials of %s cannot be decrypted", credential.webhook_id)
        raise _paypal_invalid("The credentials of this endpoint cannot be read.") from None
    except (PayPalAPIError, PayPalCredentialsRejected):
        raise _paypal_invalid("PayPal refused to verify this delivery.") from None
    except ProviderError:
        raise StateConflict(
            "PayPal did not answer the verification; deliver the event again later.",
            code="provider_unreachable",
            field=None,
        ) from None
    if answer.get("verification_status") != "SUCCESS":
        raise _paypal_invalid("PayPal did not verify this delivery's signature.")
    if ProviderEvent.objects.filter(
        merchant=credential.merchant,
        provider=PAYPAL,
        livemode=credential.livemode,
        event_id=event_id[:80],
    ).exists():
        return "replayed"
    resource = event["resource"]
    if event_type in _PAYPAL_LEG_EVENTS:
        outcome = _reconcile_leg(credential, resource)
    elif event_type in _PAYPAL_REFUND_EVENTS:
        outcome = _reconcile_refund(credential, _paypal_capture_of(client, resource), event_id)
    elif event_type in _PAYPAL_DISPUTE_EVENTS:
        outcome = _reconcile_paypal_dispute(credential, client, resource)
    else:
        outcome = "ignored"
    return _record(credential, event_id, event_type, outcome)


def _paypal_capture_of(client, refund: dict) -> dict:
    """The capture a refund event is about, re-read from PayPal (the event is a hint): its
    ``custom_id`` and order id name our leg. A refund made in PayPal's dashboard carries no
    id of ours, only its ``up`` link to the capture."""
    from ..adapters.paypal_rest import PayPalAPIError, _link

    up = _link(refund, "up")
    capture_id = up.rstrip("/").rsplit("/", 1)[-1] if "/v2/payments/captures/" in up else ""
    if not capture_id or not capture_id.isalnum() or len(capture_id) > 40:
        return refund
    try:
        return client.call("GET", f"/v2/payments/captures/{capture_id}")
    except PayPalAPIError:
        return refund
    except ProviderError:
        raise StateConflict(
            "PayPal did not answer; deliver the event again later.",
            code="provider_unreachable",
            field=None,
        ) from None


def _reconcile_paypal_dispute(credential: ProviderCredential, client, resource: dict) -> str:
    """Any of the three dispute events: read the dispute back from PayPal with the account's
    own app and record its whole state, as Stripe's are. PayPal's ``update_time`` is when
    that state became PayPal's, so ``dispute_record``'s monotonic rule orders reports by
    PayPal's own clock (the time of our read when PayPal gives none)."""
    from ..adapters.paypal_disputes import paypal_dispute_read, valid_dispute_id

    dispute_id = _field(resource, "dispute_id")
    if not valid_dispute_id(dispute_id):
        return "unknown_object"
    read_at = timezone.now()
    try:
        found = paypal_dispute_read(client=client, dispute_id=dispute_id)
        if found is None:
            return "unknown_object"
        if found.status is None:
            return "ignored_status"
        leg = _paypal_leg_of_captures(credential, client, found.captures)
    except ProviderError:
        raise StateConflict(
            "PayPal did not answer; deliver the event again later.",
            code="provider_unreachable",
            field=None,
        ) from None
    if leg is None:
        return "unknown_object"  # a payment not made through us (or not this merchant's)
    try:
        outcome = dispute_record(
            provider=PAYPAL,
            provider_reference=found.id,
            leg=leg,
            amount=found.amount,
            currency=found.currency,
            reason=found.reason,
            raw_reason=found.raw_reason,
            status=found.status,
            evidence_due_by=found.evidence_due_by,
            occurred_at=found.updated_at or read_at,
            funds_withdrawn=found.funds_withdrawn,
        )
    except InvalidInput as refused:
        logger.warning("PayPal dispute %s not recorded: %s", found.id, refused.message)
        return "invalid_dispute"
    if outcome.event is None:
        return "up_to_date"
    return outcome.event.replace(".", "_")


def _paypal_leg_of_captures(credential: ProviderCredential, client, captures) -> Leg | None:
    """The leg a PayPal dispute is about, from the capture ids it names, in this account's
    merchant and mode only. A PayPal leg's reference is its order id; the capture id is the
    ``operation_reference`` of the capture we made (or of the retrieve that found it after a
    lost answer). A capture we never wrote down is re-read from PayPal, whose answer names
    the leg (``custom_id``) and its order (``related_ids.order_id``)."""
    from ..adapters.paypal_rest import PayPalAPIError
    from ..models import LegOperation

    for capture_id in captures:
        if not capture_id.isascii() or not capture_id.isalnum() or len(capture_id) > 40:
            continue
        operation = (
            LegOperation.objects.filter(
                merchant=credential.merchant,
                livemode=credential.livemode,
                leg__merchant=credential.merchant,
                leg__livemode=credential.livemode,
                leg__provider=PAYPAL,
                operation_reference=capture_id,
            )
            .select_related("leg__checkout", "leg__merchant")
            .first()
        )
        if operation is not None:
            return operation.leg
        try:
            capture = client.call("GET", f"/v2/payments/captures/{capture_id}")
        except PayPalAPIError:
            continue  # not this account's capture
        leg = _leg_of(credential, capture)
        if leg is not None:
            return leg
    return None


def _record(credential: ProviderCredential, event_id: str, event_type: str, outcome: str) -> str:
    try:
        with transaction.atomic():
            ProviderEvent.objects.create(
                merchant=credential.merchant,
                livemode=credential.livemode,
                provider=credential.provider,
                event_id=event_id[:80],
                type=event_type[:80],
                outcome=outcome,
            )
    except IntegrityError:
        return "replayed"  # delivered twice at once: the other delivery recorded it
    return outcome
