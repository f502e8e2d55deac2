"""Integrator API for a request's reconciliation: JSON and CSV, thin over selectors."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments import selectors, services
from pushpay.api.errors import NotFound
from requests_app import selectors as request_selectors
from requests_app.models import PaymentRequest

from .serializers import ReconciliationSerializer


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
