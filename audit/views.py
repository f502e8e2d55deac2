"""The audit page: read-only for every member of the merchant (docs/operations.md)."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views import View

from pushpay.tenancy import MerchantViewMixin

from . import selectors
from .filters import AuditEntryFilter

PAGE_SIZE = 50


class AuditEntryListView(MerchantViewMixin, View):
    """One query for the page and one for the count, whatever the number of rows: each
    entry carries its own who, what and diff."""

    def get(self, request: HttpRequest) -> HttpResponse:
        filterset = AuditEntryFilter(
            request.GET,
            queryset=selectors.audit_entry_list(
                merchant=request.merchant, livemode=request.livemode
            ),
        )
        page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
        return render(
            request,
            "audit/auditentry_list.html",
            {"page": page, "filterset": filterset, "zone": timezone.get_current_timezone_name()},
        )
