"""Integrator API for reconciliation: a request's statement (JSON and CSV) and the
merchant's daily statements (list, one, CSV download), thin over selectors."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments import selectors, services
from pushpay.api.errors import ApiError, NotFound
from pushpay.api.pagination import NewestFirstPagination
from requests_app import selectors as request_selectors
from requests_app.models import PaymentRequest

from .serializers import (
    DailyReconciliationSerializer,
    ReconciliationSerializer,
    RefundSerializer,
)


def _get_request(request: Request, public_id: str) -> PaymentRequest:
    payment_request = request_selectors.payment_request_get(
        merchant=request.auth.merchant, livemode=request.auth.livemode, public_id=public_id
    )
    if payment_request is None:
        raise NotFound(f"No such payment request: '{public_id}'.")
    return payment_request


class ReconciliationView(APIView):
    """Every leg that took money for the request, with its fee and net, and the totals."""

    @extend_schema(
        operation_id="payment_request_reconciliation", responses=ReconciliationSerializer
    )
    def get(self, request: Request, public_id: str) -> Response:
        payment_request = _get_request(request, public_id)
        return Response(selectors.reconciliation_current(payment_request=payment_request))


class ReconciliationCsvView(APIView):
    """The same statement as CSV, for spreadsheets and accounting imports."""

    def perform_content_negotiation(self, request: Request, force: bool = False):
        # A client asking for text/csv gets it (the body is ours, not a renderer's), and an
        # error still comes in the one JSON shape rather than as a 406.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="payment_request_reconciliation_csv",
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request: Request, public_id: str) -> HttpResponse:
        payment_request = _get_request(request, public_id)
        reconciliation = selectors.reconciliation_current(payment_request=payment_request)
        response = HttpResponse(
            services.reconciliation_csv(reconciliation=reconciliation),
            content_type="text/csv; charset=utf-8",
        )
        # The public id only: it is safe in a header, where a reference may not be.
        response["Content-Disposition"] = (
            f'attachment; filename="{payment_request.public_id}-reconciliation.csv"'
        )
        return response


class DayFirstPagination(NewestFirstPagination):
    ordering = ("-day", "-id")


_DAILY_EXAMPLE = {
    "id": "dr_8fJk2LmNoPqRsTuVwXyZab",
    "object": "daily_reconciliation",
    "livemode": False,
    "day": "2026-11-30",
    "row_count": 12,
    "created_at": "2026-12-01T01:00:00Z",
    "updated_at": "2026-12-01T01:00:00Z",
    "download": "/api/v1/reconciliations/dr_8fJk2LmNoPqRsTuVwXyZab/download",
}


def _get_daily(request: Request, public_id: str):
    daily = selectors.daily_reconciliation_get(
        merchant=request.auth.merchant, livemode=request.auth.livemode, public_id=public_id
    )
    if daily is None:
        raise NotFound(f"No such daily reconciliation: '{public_id}'.")
    return daily


class DailyReconciliationListView(APIView):
    """The merchant's daily statements in the key's mode, newest day first."""

    pagination_class = DayFirstPagination

    @extend_schema(
        operation_id="reconciliations_list",
        responses=DailyReconciliationSerializer(many=True),
        parameters=[
            OpenApiParameter("limit", int, description="Page size, at most 100."),
            OpenApiParameter("cursor", str),
        ],
    )
    def get(self, request: Request) -> Response:
        statements = selectors.daily_reconciliation_list(
            merchant=request.auth.merchant, livemode=request.auth.livemode
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(statements, request, view=self)
        return paginator.get_paginated_response(DailyReconciliationSerializer(page, many=True).data)


class DailyReconciliationDetailView(APIView):
    @extend_schema(
        operation_id="reconciliations_retrieve",
        responses=DailyReconciliationSerializer,
        examples=[OpenApiExample("A day", value=_DAILY_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, public_id: str) -> Response:
        return Response(DailyReconciliationSerializer(_get_daily(request, public_id)).data)


class DailyReconciliationDownloadView(APIView):
    """The day's CSV, as the back office downloads it."""

    def perform_content_negotiation(self, request: Request, force: bool = False):
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="reconciliations_download",
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request: Request, public_id: str) -> HttpResponse:
        daily = _get_daily(request, public_id)
        mode = "live" if daily.livemode else "test"
        response = HttpResponse(daily.csv_text, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="reconciliation-{daily.day.isoformat()}-{mode}.csv"'
        )
        return response


class RefundListView(APIView):
    """Refunds, newest first, in the key's mode; ``?request=pr_…`` for one request's."""

    pagination_class = NewestFirstPagination

    @extend_schema(
        operation_id="refunds_list",
        responses=RefundSerializer(many=True),
        parameters=[
            OpenApiParameter("request", str, description="Only this request's (pr_…)."),
            OpenApiParameter("limit", int, description="Page size, at most 100."),
            OpenApiParameter("cursor", str),
        ],
    )
    def get(self, request: Request) -> Response:
        request_id = request.query_params.get("request")
        if request_id is not None and not (0 < len(request_id) <= 40 and request_id.isascii()):
            raise ApiError(
                "request: give a payment request id (pr_…).", code="invalid_filter", field="request"
            )
        refunds = selectors.refund_list(
            merchant=request.auth.merchant,
            livemode=request.auth.livemode,
            request_public_id=request_id,
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(refunds, request, view=self)
        return paginator.get_paginated_response(RefundSerializer(page, many=True).data)
