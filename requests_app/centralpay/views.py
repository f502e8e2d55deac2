"""CentralPay's Push & Pay REST API (``/v2/rest/…``) over our own services.

Thin views: ``parsing`` turns a CentralPay call into the body of our own creation endpoint,
which the same serializer and service handle (``requests_app.api.views.create_from_body``);
``representation`` shows the result in CentralPay's words. Errors are our one error shape,
with the CentralPay field names and CentralPay's flat ``errors`` list added
(``pushpay.api.errors.compat_error_body``).
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments import selectors as payment_selectors
from payments.installments.schedule import schedule_build
from payments.models import Leg
from pushpay.api.errors import ApiError, NotFound, compat_error_body, exception_handler
from pushpay.api.idempotency import HEADER, idempotent
from pushpay.errors import InvalidInput
from pushpay.qr import qr_png
from requests_app import selectors, services
from requests_app.api.serializers import CancelSerializer
from requests_app.api.views import create_from_body
from requests_app.links import payment_url
from requests_app.models import PaymentRequest

from . import parsing, representation
from .auth import BasicApiKeyAuthentication

# CentralPay's spelling first; ours works too, and both at once must agree.
IDEMPOTENCY_HEADERS = ("Idempotence-Key", HEADER)

# (transactionStatus, captureStatus) of a leg whose outcome is known. A leg still waiting for
# its provider or its payer is not a transaction yet.
TRANSACTION_STATUSES = {
    Leg.Status.CAPTURED: ("SUCCESS", "CAPTURED"),
    Leg.Status.PARTIALLY_REFUNDED: ("SUCCESS", "CAPTURED"),
    Leg.Status.REFUNDED: ("REFUNDED", "CAPTURED"),
    Leg.Status.AUTHORISED: ("SUCCESS", "UNCAPTURED"),
    Leg.Status.FAILED: ("FAILURE", "UNCAPTURED"),
    Leg.Status.VOIDED: ("CANCELED", "CANCELED"),
}


def centralpay_exception_handler(exc, context) -> Response | None:
    """Our error, with the fields named as the client named them."""
    response = exception_handler(exc, context)
    if response is None or not isinstance(response.data, dict) or "error" not in response.data:
        return response
    error = response.data["error"]
    details = [
        {**item, "field": parsing.centralpay_field(item.get("field"))}
        for item in error.get("details", [])
    ]
    response.data = compat_error_body(
        response.status_code,
        error["code"],
        error["message"],
        parsing.centralpay_field(error.get("field")),
        details,
    )
    return response


class _AlwaysJson(BaseContentNegotiation):
    """Answers are JSON whatever ``Accept`` says: CentralPay clients send all sorts."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class CentralPayView(APIView):
    authentication_classes = [BasicApiKeyAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes: list = []  # bodies are read by parsing.read_form, whatever they say
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _AlwaysJson
    schema = None  # CentralPay's API is documented in docs/migrating-from-centralpay.md

    def get_exception_handler(self):
        return centralpay_exception_handler


def _pairs(request: Request) -> parsing.Pairs:
    if not hasattr(request, "_centralpay_pairs"):
        request._centralpay_pairs = parsing.read_form(request._request)
    return request._centralpay_pairs


def _fingerprint_body(request: Request) -> dict:
    """What a replay must repeat: the fields and the query string (urlRedirect …)."""
    return {"form": _pairs(request), "query": sorted(request.query_params.lists())}


def _get_request(request: Request, public_id: str) -> PaymentRequest:
    payment_request = selectors.payment_request_get(
        merchant=request.auth.merchant, livemode=request.auth.livemode, public_id=public_id
    )
    if payment_request is None:
        raise NotFound(f"No such paymentRequest: '{public_id[:60]}'.")
    return payment_request


def _render(payment_request: PaymentRequest) -> Response:
    fresh = _get_request_of(payment_request)
    ids = [participant.public_id for participant in fresh.participants.all()]
    checkouts = payment_selectors.checkouts_by_participant(
        merchant=fresh.merchant, livemode=fresh.livemode, participant_ids=ids
    )
    return Response(
        representation.payment_request(fresh, checkouts_by_participant=checkouts, taken=Leg.TAKEN)
    )


def _get_request_of(payment_request: PaymentRequest) -> PaymentRequest:
    # Re-read through the selector so the answer shows exactly what was committed.
    return selectors.payment_request_get(
        merchant=payment_request.merchant,
        livemode=payment_request.livemode,
        public_id=payment_request.public_id,
    )


def _check_installments(body: dict, installments: dict) -> None:
    """A SUBSCRIPTION's plan checked by the schedule's own rules first, so a wrong setting is
    named as CentralPay calls it (``subscription[iterationCount]``)."""
    schedule_settings = {k: v for k, v in installments.items() if k != "pay_at_once_allowed"}
    try:
        schedule_build(amount=body["total_amount"], currency=body["currency"], **schedule_settings)
    except InvalidInput as exc:
        raise ApiError(
            exc.message,
            code=exc.code,
            status_code=422,
            field=parsing.subscription_field(exc.field),
        ) from None


class PaymentRequestCreateView(CentralPayView):
    @idempotent(headers=IDEMPOTENCY_HEADERS, body=_fingerprint_body)
    def post(self, request: Request) -> Response:
        merchant = request.auth.merchant
        wanted = parsing.payment_request_input(
            _pairs(request),
            query=request.query_params,
            default_currency=merchant.default_currency,
            time_zone=merchant.time_zone,
        )
        body = dict(wanted.body)
        if wanted.installments is not None:
            _check_installments(body, wanted.installments)
            body["installments"] = wanted.installments
        return _render(create_from_body(request, body))


class PaymentRequestDetailView(CentralPayView):
    def get(self, request: Request, public_id: str) -> Response:
        return _render(_get_request(request, public_id))


class PaymentRequestCancelView(CentralPayView):
    @idempotent(headers=IDEMPOTENCY_HEADERS, body=_fingerprint_body)
    def post(self, request: Request, public_id: str) -> Response:
        payment_request = _get_request(request, public_id)
        comment = parsing.Form.of(_pairs(request)).scalar("closeComment") or ""
        serializer = CancelSerializer(data={"reason": comment})
        if not serializer.is_valid():
            raise ApiError(
                "closeComment is one line of at most 200 characters.",
                code="invalid",
                status_code=422,
                field="closeComment",
            )
        services.payment_request_cancel(
            payment_request=payment_request, reason=serializer.validated_data["reason"]
        )
        return _render(payment_request)


class TransactionView(CentralPayView):
    def get(self, request: Request, uuid: str) -> Response:
        leg = payment_selectors.leg_get(
            merchant=request.auth.merchant, livemode=request.auth.livemode, public_id=uuid
        )
        if leg is None or leg.status not in TRANSACTION_STATUSES:
            raise NotFound(f"No such transaction: '{uuid[:60]}'.")
        rules = payment_selectors.fee_rules_by_method(merchant_id=leg.merchant_id)
        commission, _ = payment_selectors.leg_fee(leg, rules)
        transaction_status, capture_status = TRANSACTION_STATUSES[leg.status]
        payment_request = leg.checkout.request
        return Response(
            {
                "paymentRequestTransactionId": leg.public_id,
                "paymentRequestId": payment_request.public_id,
                "paymentRequestBreakdownId": leg.checkout.participant.public_id,
                "creationDate": representation.centralpay_datetime(leg.created_at),
                # We add no fee to what the payer pays; what the provider or the merchant's
                # fee rule takes is the commission.
                "amount": leg.amount,
                "fee": 0,
                "totalAmount": leg.amount,
                "commission": commission,
                "payoutAmount": leg.amount - commission,
                "refundedAmount": leg.amount_refunded,
                "currency": leg.currency,
                "transactionStatus": transaction_status,
                "captureStatus": capture_status,
                "description": payment_request.description,
            }
        )


class BreakdownQrCodeView(CentralPayView):
    def post(self, request: Request, public_id: str) -> HttpResponse:
        participant = selectors.participant_find(
            merchant=request.auth.merchant, livemode=request.auth.livemode, public_id=public_id
        )
        if participant is None:
            raise NotFound(f"No such paymentRequestBreakdown: '{public_id[:60]}'.")
        parsing.requested_format(_pairs(request))
        response = HttpResponse(qr_png(payment_url(participant)), content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"
        return response


def not_found(request: HttpRequest, anything: str) -> JsonResponse:
    """Any other CentralPay route (customers, cards, subscription models …): not served."""
    body = compat_error_body(404, "not_found", "No such endpoint in the CentralPay-compatible API.")
    return JsonResponse(body, status=404)
