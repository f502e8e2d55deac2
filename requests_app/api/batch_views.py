"""``POST /api/v1/payment-requests/batch``: up to 1,000 creations in one call.

Each item is accepted or refused on its own, exactly as the same body sent alone to
``POST /api/v1/payment-requests`` would be; a refused item never undoes the others. The batch
semantics are the service's (``services.payment_request_create_batch``, shared with the back
office's CSV import): each item in its own savepoint inside one transaction for the batch, a
refusal rolling back that item only, a crash the whole batch. With an ``Idempotency-Key`` the
recorded answer is written in an enclosing transaction, so a replay returns the same results
and creates nothing.
"""

from functools import partial

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pushpay.api.errors import ApiError, exception_handler
from pushpay.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from requests_app import selectors, services

from . import examples
from .serializers import PaymentRequestCreateSerializer, PaymentRequestSerializer
from .views import _context, create_from_body

MAX_BATCH_SIZE = services.MAX_BATCH_SIZE


class PaymentRequestBatchInputSerializer(serializers.Serializer):
    """The schema of the body; items are validated one by one by the view, not here, so that
    one bad item is refused alone rather than failing the whole batch."""

    requests = PaymentRequestCreateSerializer(
        many=True,
        help_text=f"1 to {MAX_BATCH_SIZE} bodies, each as POST /api/v1/payment-requests takes.",
    )


class BatchErrorSerializer(serializers.Serializer):
    type = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(
        allow_null=True, help_text="Path inside the item, as for a single creation."
    )
    details = serializers.ListField(child=serializers.DictField(), required=False)


class BatchItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in `requests`, from 0.")
    status = serializers.ChoiceField(choices=["created", "refused"])
    request = PaymentRequestSerializer(allow_null=True)
    error = BatchErrorSerializer(
        allow_null=True, help_text="Why the item was refused, in the API's one error shape."
    )


class PaymentRequestBatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    refused = serializers.IntegerField()
    results = BatchItemResultSerializer(many=True, help_text="One result per item, in order.")


def _items(body) -> list:
    if not isinstance(body, dict):
        raise ApiError("Expected a JSON object.", code="not_an_object")
    unknown = sorted(set(body) - {"requests"})
    if unknown:
        raise ApiError(f"Unknown field '{unknown[0]}'.", code="unknown_field", field=unknown[0])
    if "requests" not in body:
        raise ApiError("requests is required.", code="required", status_code=422, field="requests")
    items = body["requests"]
    if not isinstance(items, list):
        raise ApiError("requests must be a JSON list.", code="not_a_list", field="requests")
    if not items:
        raise ApiError(
            "requests needs at least one item.",
            code="empty_batch",
            status_code=422,
            field="requests",
        )
    if len(items) > MAX_BATCH_SIZE:
        raise ApiError(
            f"A batch holds at most {MAX_BATCH_SIZE} requests; this one has {len(items)}.",
            code="batch_too_large",
            status_code=422,
            field="requests",
        )
    return items


def _refusal(exc: Exception) -> dict:
    """The error body a single creation would have answered, without its envelope."""
    response = exception_handler(exc, {})
    if response is None or response.status_code >= 500:
        raise exc
    return response.data["error"]


class PaymentRequestBatchView(APIView):
    @extend_schema(
        operation_id="payment_requests_batch_create",
        request=PaymentRequestBatchInputSerializer,
        responses={200: PaymentRequestBatchResultSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        description=(
            "Creates up to 1,000 payment requests, each accepted or refused on its own. The "
            "answer is 200 whenever the batch itself is well formed, with one result per "
            "item in order; a refused item carries the error a single creation would give."
        ),
        examples=[
            OpenApiExample(
                "One created, one refused",
                response_only=True,
                value={
                    "created": 1,
                    "refused": 1,
                    "results": [
                        {
                            "index": 0,
                            "status": "created",
                            "request": examples.PAYMENT_REQUEST,
                            "error": None,
                        },
                        {
                            "index": 1,
                            "status": "refused",
                            "request": None,
                            "error": {
                                "type": "conflict_error",
                                "code": "duplicate_reference",
                                "message": "A payment request with reference 'INV-1' already "
                                "exists.",
                                "field": "reference",
                            },
                        },
                    ],
                },
            )
        ],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        items = _items(request.data)
        batch = services.payment_request_create_batch(
            creations=[partial(create_from_body, request, body) for body in items],
            refused=(APIException,),
        )
        outcomes = [
            (
                outcome.index,
                outcome.created.public_id if outcome.created else None,
                None if outcome.created else _refusal(outcome.refusal),
            )
            for outcome in batch
        ]
        return Response(self._results(request, outcomes))

    def _results(self, request: Request, outcomes: list) -> dict:
        # Read the created requests back in one go, as the list endpoint does: the query
        # count of the answer does not grow with the batch.
        ids = [public_id for _, public_id, _ in outcomes if public_id]
        fresh = list(
            selectors.payment_request_list(
                merchant=request.auth.merchant, livemode=request.auth.livemode
            ).filter(public_id__in=ids)
        )
        by_id = {pr.public_id: pr for pr in fresh}
        context = _context(request.auth.merchant, fresh)
        results = []
        for index, public_id, error in outcomes:
            if public_id:
                body = PaymentRequestSerializer(by_id[public_id], context=context).data
                results.append(
                    {"index": index, "status": "created", "request": body, "error": None}
                )
            else:
                results.append(
                    {"index": index, "status": "refused", "request": None, "error": error}
                )
        return {"created": len(ids), "refused": len(outcomes) - len(ids), "results": results}
