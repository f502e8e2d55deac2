"""Back office (operators) pages for payment requests."""

import csv
import unicodedata

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.timesince import timesince
from django.views import View
from django.views.decorators.http import require_POST

from merchants.selectors import merchants_for_user
from notifications.selectors import dispatch_dashboard
from payments.selectors import collected_by_day_and_method, payment_method_label
from pushpay.errors import DomainError
from pushpay.money import currency_exponent
from pushpay.qr import qr_png
from pushpay.tenancy import MODE_SESSION_KEY, SESSION_KEY, MerchantViewMixin, require
from scenarios.models import Dispatch
from scenarios.selectors import dispatch_get, dispatch_list
from scenarios.services import dispatch_resend
from smartforms.selectors import latest_answers_by_participant

from . import dashboard, selectors
from .filters import PaymentRequestFilter
from .links import payment_url
from .models import Participant, PaymentRequest

PAGE_SIZE = 25


class PaymentRequestListView(MerchantViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        filterset = PaymentRequestFilter(
            request.GET,
            queryset=selectors.payment_request_list(
                merchant=request.merchant, livemode=request.livemode
            ),
        )
        page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
        return render(
            request,
            "requests_app/paymentrequest_list.html",
            {
                "page": page,
                "filterset": filterset,
                "statuses": PaymentRequest.Status.choices,
                "selected_status": request.GET.getlist("status"),
            },
        )


class PaymentRequestDetailView(MerchantViewMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        payment_request = selectors.payment_request_get(
            merchant=request.merchant, livemode=request.livemode, public_id=public_id
        )
        if payment_request is None:
            raise Http404("No such payment request.")
        participants = list(payment_request.participants.all())
        answers = latest_answers_by_participant(
            merchant=request.merchant, participant_ids=[p.public_id for p in participants]
        )
        timeline = list(
            dispatch_list(merchant=request.merchant, payment_request=payment_request).order_by(
                "due_at", "id"
            )
        )
        last_sent = {}
        for dispatch in timeline:
            if dispatch.participant_id and dispatch.status not in Dispatch.PENDING:
                last_sent[dispatch.participant_id] = dispatch
        return render(
            request,
            "requests_app/paymentrequest_detail.html",
            {
                "payment_request": payment_request,
                "participants": participants,
                "answers": [
                    (p, answers.get(p.public_id), last_sent.get(p.pk), payment_url(p))
                    for p in participants
                ],
                "timeline": timeline,
                "progress": {
                    status: sum(p.status == status for p in participants)
                    for status in Participant.Status.values
                },
                "percent": payment_request.collected_percent,
                "history": selectors.status_history(payment_request=payment_request),
            },
        )


@require_POST
def switch_mode(request: HttpRequest) -> HttpResponse:
    """The mode toggle: every back-office page then shows and acts on that mode's objects."""
    if not request.user.is_authenticated:
        return redirect("login")
    mode = request.POST.get("mode")
    if mode not in ("test", "live"):
        return HttpResponse("Choose test or live.", status=400, content_type="text/plain")
    request.session[MODE_SESSION_KEY] = mode == "live"
    if mode == "live":
        messages.warning(request, "Live mode: these requests move real money.")
    else:
        messages.info(request, "Test mode: nothing here moves real money.")
    return redirect("backoffice:request_list")


@require_POST
def switch_merchant(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    merchant = merchants_for_user(user=request.user).filter(slug=request.POST.get("slug")).first()
    if merchant is None:
        raise Http404("No such merchant.")
    request.session[SESSION_KEY] = merchant.pk
    messages.info(request, f"You are now working for {merchant.name}.")
    return redirect("backoffice:request_list")


class ParticipantQrCodeView(MerchantViewMixin, View):
    def get(self, request: HttpRequest, public_id: str, participant_id: str) -> HttpResponse:
        payment_request = selectors.payment_request_get(
            merchant=request.merchant, livemode=request.livemode, public_id=public_id
        )
        participant = payment_request and selectors.participant_get(
            merchant=request.merchant, payment_request=payment_request, public_id=participant_id
        )
        if participant is None:
            raise Http404("No such participant.")
        return HttpResponse(qr_png(payment_url(participant)), content_type="image/png")


class PaymentRequestExportView(MerchantViewMixin, View):
    """CSV of a request's participants, amounts and smart-form answers, for spreadsheets."""

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        payment_request = selectors.payment_request_get(
            merchant=request.merchant, livemode=request.livemode, public_id=public_id
        )
        if payment_request is None:
            raise Http404("No such payment request.")
        participants = list(payment_request.participants.all())
        answers = latest_answers_by_participant(
            merchant=request.merchant, participant_ids=[p.public_id for p in participants]
        )
        keys = (
            [f["key"] for f in payment_request.form_version.fields]
            if (payment_request.form_version)
            else []
        )
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        # RFC 6266: an ASCII fallback plus filename* for references in any script; no quote,
        # backslash or control character (references stored before they were refused).
        filename = _header_safe(f"{payment_request.reference}-participants.csv")
        response["Content-Disposition"] = _attachment(filename)
        writer = csv.writer(response)
        writer.writerow(
            [
                "participant_id",
                "name",
                "email",
                "phone",
                "language",
                "status",
                "currency",
                "amount",
                "amount_paid",
                *keys,
            ]
        )
        for participant in participants:
            given = answers.get(participant.public_id) or {}
            writer.writerow(
                [
                    _cell(v)
                    for v in (
                        participant.public_id,
                        participant.name,
                        participant.email,
                        participant.phone,
                        participant.language,
                        participant.status,
                        payment_request.currency,
                        participant.amount,
                        participant.amount_paid,
                        *(given.get(key) for key in keys),
                    )
                ]
            )
        return response


def _header_safe(filename: str) -> str:
    """No quote, backslash or control character in a header value: a line break there is a
    BadHeaderError (a 500), and references stored before they were refused may hold one."""
    return "".join("_" if _unsafe_in_header(char) else char for char in filename)


def _unsafe_in_header(char: str) -> bool:
    return char in '"\\' or unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp")


def _attachment(filename: str) -> str:
    """``filename*`` carries the exact name; old clients read the ASCII ``filename``."""
    header = content_disposition_header(True, filename)
    if "filename*=" not in header:
        return header
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = fallback.replace("\\", "").replace('"', "") or "participants.csv"
    return f'attachment; filename="{fallback}"; {header.removeprefix("attachment; ")}'


def _cell(value) -> str:
    """Lists joined for spreadsheets; formula-looking text defused (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class DispatchResendView(MerchantViewMixin, View):
    """An operator sends one notification again (a copy, due now)."""

    def post(self, request: HttpRequest, public_id: str, dispatch_id: str) -> HttpResponse:
        require(request, "requests.resend")
        payment_request = selectors.payment_request_get(
            merchant=request.merchant, livemode=request.livemode, public_id=public_id
        )
        dispatch = payment_request and dispatch_get(
            merchant=request.merchant, payment_request=payment_request, public_id=dispatch_id
        )
        if dispatch is None:
            raise Http404("No such notification.")
        try:
            dispatch_resend(dispatch=dispatch)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"The notification to {dispatch.recipient} is queued.")
        return redirect("backoffice:request_detail", public_id=public_id)


class DashboardView(MerchantViewMixin, View):
    """Figures of one merchant's mode over a date range: every member may read them.

    The reads live with the apps that own the rows (requests here, legs in payments,
    messages in notifications); this view only puts them side by side and hands the chart
    series to static/requests_app/dashboard.js through a json_script tag (the CSP runs no
    inline script).
    """

    def get(self, request: HttpRequest) -> HttpResponse:
        form = dashboard.DashboardRangeForm(request.GET or None, merchant=request.merchant)
        if form.is_bound and form.is_valid():
            span, currency = form.cleaned_data["range"], form.cleaned_data["currency"]
        else:
            span = dashboard.default_range(merchant=request.merchant)
            currency = request.merchant.default_currency
        scope = {"merchant": request.merchant, "livemode": request.livemode}
        now = timezone.now()
        requested = dashboard.requested_by_day(**scope, span=span, currency=currency)
        legs = collected_by_day_and_method(
            **scope, start=span.start, end=span.end, tz=span.tz, currency=currency
        )
        collected: dict = {}
        methods: dict = {}
        for leg in legs:
            day = dashboard.as_local_date(leg["day"], span.tz)
            collected[day] = collected.get(day, 0) + leg["amount"]
            totals = methods.setdefault(leg["method"], {"amount": 0, "count": 0})
            totals["amount"] += leg["amount"]
            totals["count"] += leg["count"]
        days = [
            {
                "day": day,
                "requests": requested.get(day, {}).get("count", 0),
                "requested": requested.get(day, {}).get("amount", 0),
                "collected": collected.get(day, 0),
            }
            for day in span.days()
        ]
        by_method = sorted(
            (
                {"code": code, "label": payment_method_label(code), **totals}
                for code, totals in methods.items()
            ),
            key=lambda row: (-row["amount"], row["code"]),
        )
        conversion = dashboard.conversion(**scope, span=span, currency=currency)
        messages_ = dispatch_dashboard(**scope, start=span.start, end=span.end, now=now)
        median = conversion["median_time_to_pay"]
        chart = {
            "currency": currency,
            "exponent": currency_exponent(currency),
            "days": [row["day"].isoformat() for row in days],
            "requested": [row["requested"] for row in days],
            "collected": [row["collected"] for row in days],
            "methods": [row["label"] for row in by_method],
            "method_amounts": [row["amount"] for row in by_method],
            "paid": conversion["paid"],
            "unpaid": conversion["sent"] - conversion["paid"],
        }
        return render(
            request,
            "requests_app/dashboard.html",
            {
                "form": form,
                "span": span,
                "currency": currency,
                "days": days,
                "total_requested": sum(row["requested"] for row in days),
                "total_requests": sum(row["requests"] for row in days),
                "total_collected": sum(row["collected"] for row in days),
                "by_method": by_method,
                "conversion": conversion,
                "median": median and timesince(now - median, now),
                "overdue": dashboard.overdue(**scope, currency=currency),
                "messages_figures": messages_,
                "chart": chart,
            },
        )
