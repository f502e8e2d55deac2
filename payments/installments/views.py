"""Back office pages for installment plans: what falls due this week, the defaulted plans,
and one plan with the merchant's changes (cancel, move a date, re-split). Thin: reads go
through the merchant- and mode-scoped selectors, every change through the services."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.views import View

from pushpay.errors import DomainError, InvalidInput
from pushpay.tenancy import MerchantViewMixin, require
from requests_app.links import plan_url

from . import selectors, services
from .models import Installment, InstallmentPlan
from .schedule import INTERVAL_UNITS

PAGE_SIZE = 50
CAPABILITY = "installments.manage"


def _plan(request: HttpRequest, public_id: str) -> InstallmentPlan:
    plan = selectors.installment_plan_get(
        merchant=request.merchant, livemode=request.livemode, public_id=public_id
    )
    if plan is None:
        raise Http404("No such installment plan.")
    return plan


def _week(request: HttpRequest) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday, in the merchant's time zone."""
    zone = ZoneInfo(request.merchant.time_zone)
    today = timezone.localdate(timezone=zone)
    monday = today - timedelta(days=today.weekday())
    start = datetime.combine(monday, time(0, 0), tzinfo=zone)
    return start, datetime.combine(monday + timedelta(days=7), time(0, 0), tzinfo=zone)


class InstallmentsDueView(MerchantViewMixin, View):
    """Every installment whose next charge (first try or retry) falls this week."""

    def get(self, request: HttpRequest) -> HttpResponse:
        start, end = _week(request)
        due = selectors.installments_due_between(
            merchant=request.merchant, livemode=request.livemode, start=start, end=end
        )
        page = Paginator(due, PAGE_SIZE).get_page(request.GET.get("page"))
        return render(
            request,
            "payments/installments_due.html",
            {
                "page": page,
                "week_start": start.date(),
                "week_end": (end - timedelta(days=1)).date(),
                "time_zone": request.merchant.time_zone,
            },
        )


class PlansDefaultedView(MerchantViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        plans = selectors.installment_plans_defaulted(
            merchant=request.merchant, livemode=request.livemode
        )
        page = Paginator(plans, PAGE_SIZE).get_page(request.GET.get("page"))
        for plan in page:
            plan.left = plan.amount - plan.collected
        return render(request, "payments/installments_defaulted.html", {"page": page})


class PlanDetailView(MerchantViewMixin, View):
    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        plan = _plan(request, public_id)
        items = list(plan.installments.all())
        running = plan.status == InstallmentPlan.Status.ACTIVE
        return render(
            request,
            "payments/installmentplan_detail.html",
            {
                "plan": plan,
                "items": items,
                "movable": [item for item in items if running and item.status in Installment.DUE],
                "collected": sum(i.amount for i in items if i.status == Installment.Status.PAID),
                "left": sum(i.amount for i in items if i.status in selectors.STILL_TO_CHARGE),
                "cancellable": plan.status in selectors.RUNNING,
                "running": running,
                "card": selectors.plan_card_label(plan=plan),
                "payer_url": plan_url(plan.participant, plan.public_id),
                "interval_units": INTERVAL_UNITS,
            },
        )


def _confirmed(request: HttpRequest) -> None:
    if request.POST.get("confirm") != "on":
        raise InvalidInput(
            "Tick the confirmation box: this change is sent to the payer.",
            code="confirmation_required",
            field="confirm",
        )


def _date(request: HttpRequest, field: str, *, required: bool) -> object:
    raw = request.POST.get(field, "").strip()[:20]
    if not raw and not required:
        return None
    try:
        day = parse_date(raw)
    except ValueError:
        day = None
    if day is None:
        raise InvalidInput("Give a date (YYYY-MM-DD).", code="invalid_date", field=field)
    return day


def _whole(request: HttpRequest, field: str, default: int | None = None) -> int:
    raw = request.POST.get(field, "").strip()
    if not raw and default is not None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 3:
        raise InvalidInput("Give a whole number.", code="invalid_integer", field=field)
    return int(raw)


class PlanChangeView(MerchantViewMixin, View):
    """One of the merchant's changes, posted from the plan page; refusals come back as a
    message on that page, never half-done."""

    action = ""

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, CAPABILITY)
        plan = _plan(request, public_id)
        try:
            _confirmed(request)
            done = self.change(request, plan)
        except DomainError as refusal:
            messages.error(request, refusal.localized)
        else:
            messages.success(request, done)
        return redirect("installments:plan_detail", public_id=plan.public_id)

    def change(self, request: HttpRequest, plan: InstallmentPlan) -> str:
        raise NotImplementedError


class PlanCancelView(PlanChangeView):
    def change(self, request: HttpRequest, plan: InstallmentPlan) -> str:
        services.installment_plan_cancel(plan=plan)
        return "The plan is cancelled: nothing more will be charged."


class PlanRescheduleView(PlanChangeView):
    def change(self, request: HttpRequest, plan: InstallmentPlan) -> str:
        installment = request.POST.get("installment", "")[:40]
        due_date = _date(request, "due_date", required=True)
        services.installment_reschedule(
            plan=plan, installment_public_id=installment, due_date=due_date
        )
        return f"The installment is moved to {due_date.isoformat()}; the payer is told."


class PlanResplitView(PlanChangeView):
    def change(self, request: HttpRequest, plan: InstallmentPlan) -> str:
        services.installment_plan_resplit(
            plan=plan,
            count=_whole(request, "count"),
            interval_unit=request.POST.get("interval_unit", "")[:10],
            interval_count=_whole(request, "interval_count", default=1),
            start_date=_date(request, "start_date", required=False),
        )
        return "What is left is spread over the new schedule; the payer is told."
