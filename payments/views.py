"""Back office (operators) pages for reconciliation: a request's statement and the daily
CSVs. Reading only, so every member may see them (``pushpay.tenancy``)."""

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from pushpay.tenancy import MerchantViewMixin
from requests_app import selectors as request_selectors

from . import selectors, services
from .models import Leg

PAGE_SIZE = 31


def _request_or_404(request: HttpRequest, public_id: str):
    payment_request = request_selectors.payment_request_get(
        merchant=request.merchant, livemode=request.livemode, public_id=public_id
    )
    if payment_request is None:
        raise Http404("No such payment request.")
    return payment_request


def _csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _leg_status_label(status: str) -> str:
    """A statement line's status as its badge reads it (the leg's, in the operator's
    language); a status the model no longer knows is shown as it is."""
    return Leg.Status(status).label if status in Leg.Status.values else status


class RequestReconciliationView(MerchantViewMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        payment_request = _request_or_404(request, public_id)
        reconciliation = selectors.reconciliation_current(payment_request=payment_request)
        methods = [
            (selectors.payment_method_label(code), sums)
            for code, sums in selectors.reconciliation_methods(
                lines=reconciliation["lines"], totals=reconciliation["totals"]
            )
        ]
        lines = [
            {
                **line,
                "label": selectors.payment_method_label(line["method"]),
                "status_label": _leg_status_label(line["status"]),
            }
            for line in reconciliation["lines"]
        ]
        return render(
            request,
            "payments/reconciliation_detail.html",
            {
                "payment_request": payment_request,
                "reconciliation": reconciliation,
                "lines": lines,
                "methods": methods,
                "currency": payment_request.currency,
            },
        )


class RequestReconciliationCsvView(MerchantViewMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        payment_request = _request_or_404(request, public_id)
        reconciliation = selectors.reconciliation_current(payment_request=payment_request)
        return _csv_response(
            services.reconciliation_csv(reconciliation=reconciliation),
            f"{payment_request.public_id}-reconciliation.csv",
        )


class DailyReconciliationListView(MerchantViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        statements = selectors.daily_reconciliation_list(
            merchant=request.merchant, livemode=request.livemode
        )
        page = Paginator(statements, PAGE_SIZE).get_page(request.GET.get("page"))
        return render(request, "payments/dailyreconciliation_list.html", {"page": page})


class DailyReconciliationCsvView(MerchantViewMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        daily = selectors.daily_reconciliation_get(
            merchant=request.merchant, livemode=request.livemode, public_id=public_id
        )
        if daily is None:
            raise Http404("No such statement.")
        mode = "live" if daily.livemode else "test"
        return _csv_response(daily.csv_text, f"reconciliation-{daily.day.isoformat()}-{mode}.csv")
