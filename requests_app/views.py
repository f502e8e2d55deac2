"""Back office (operators) pages for payment requests."""

import csv
import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from django import forms as django_forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.timesince import timesince
from django.utils.translation import get_language, gettext_lazy, pgettext
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.http import require_POST

from merchants import services as merchant_services
from merchants.selectors import merchants_for_user
from notifications.selectors import dispatch_dashboard
from payments import selectors as payment_selectors
from payments import services as payment_services
from payments.dispute_models import Dispute
from payments.installments.selectors import installment_plans
from payments.selectors import collected_by_day_and_method, payment_method_label
from pushpay.errors import DomainError, InvalidFields
from pushpay.i18n import is_supported_language
from pushpay.money import currency_exponent, format_money, is_currency
from pushpay.qr import qr_png
from pushpay.tenancy import (
    MODE_SESSION_KEY,
    SESSION_KEY,
    MerchantViewMixin,
    can,
    operator_language_remember,
    require,
)
from scenarios.models import Dispatch
from scenarios.selectors import dispatch_get, dispatch_list, scenario_list
from scenarios.services import dispatch_resend
from smartforms.selectors import form_get, form_list, latest_answers_by_participant

from . import dashboard, selectors, services
from .filters import BackOfficeRequestFilter
from .forms import (
    INSTALLMENT_FIELDS,
    CancelForm,
    DeadlineForm,
    ParticipantAddForm,
    ParticipantFormSet,
    PaymentRequestForm,
    RefundForm,
    amount_in_minor_units,
    style_fields,
)
from .links import payment_url
from .models import Participant, PaymentRequest, RequestEvent

PAGE_SIZE = 25


def _scenario_choices(merchant) -> list[tuple[str, str]]:
    return [(s.public_id, s.name) for s in scenario_list(merchant=merchant)]


def _method_choices(merchant) -> list[tuple[str, str]]:
    return [
        (code, pgettext("payment method", payment_selectors.payment_method_label(code)))
        for code in payment_selectors.payment_methods_enabled(merchant=merchant)
    ]


# Sortable columns: (query value, label); the filter's ``sort`` accepts these and "-" + these.
SORTABLE = {
    "reference": gettext_lazy("Reference"),
    "status": gettext_lazy("Status"),
    "collected": gettext_lazy("Collected"),
    "total": gettext_lazy("Total"),
    "deadline": gettext_lazy("Deadline"),
    "created": gettext_lazy("Created"),
}


class PaymentRequestListView(MerchantViewMixin, View):
    """Search, filters, sortable columns and pages; a fixed number of queries per page
    (the selector prefetches participants; the search is an EXISTS, not a join)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        filterset = BackOfficeRequestFilter(
            request.GET,
            queryset=selectors.payment_request_list(
                merchant=request.merchant, livemode=request.livemode
            ),
            currency=request.merchant.default_currency,
            scenario_choices=_scenario_choices(request.merchant),
            method_choices=_method_choices(request.merchant),
        )
        page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
        current = request.GET.get("sort", "")
        columns = [
            {
                "label": label,
                "sort": f"-{key}" if current == key else key,
                "state": "ascending"
                if current == key
                else "descending"
                if current == f"-{key}"
                else "",
            }
            for key, label in SORTABLE.items()
        ]
        return render(
            request,
            "requests_app/paymentrequest_list.html",
            {
                "page": page,
                "filterset": filterset,
                "columns": dict(zip(SORTABLE, columns, strict=True)),
                "can_create": can(request.membership, "requests.create"),
            },
        )


class ConfigurationView(MerchantViewMixin, View):
    """Where the "Configuration" menu leads when JavaScript does not open it."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "requests_app/configuration.html")


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The back office's language switch: remembered for the user (every browser they log in
    from), in the session (no query per page) and in Django's language cookie (the login page
    after logging out)."""
    language = request.POST.get("language")
    if not is_supported_language(language):
        return HttpResponse(
            "Choose fr or en.", status=400, content_type="text/plain; charset=utf-8"
        )
    if request.user.is_authenticated:
        merchant_services.operator_language_set(user=request.user, language=language)
        operator_language_remember(request, language)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("backoffice:request_list")
    response = HttpResponseRedirect(target)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
    )
    return response


EVENT_LABELS = {
    RequestEvent.Type.REQUEST_CREATED: gettext_lazy("Request created"),
    RequestEvent.Type.REQUEST_UPDATED: gettext_lazy("Request changed"),
    RequestEvent.Type.PAYMENT_SUCCEEDED: gettext_lazy("Payment received"),
    RequestEvent.Type.PAYMENT_FAILED: gettext_lazy("Payment failed"),
    RequestEvent.Type.PAYMENT_REFUNDED: gettext_lazy("Refund"),
    RequestEvent.Type.PARTICIPANT_PAID: gettext_lazy("Share paid in full"),
    RequestEvent.Type.REQUEST_COMPLETED: gettext_lazy("Request paid in full"),
    RequestEvent.Type.REQUEST_EXPIRED: gettext_lazy("Request expired"),
    RequestEvent.Type.REQUEST_CANCELLED: gettext_lazy("Request cancelled"),
    RequestEvent.Type.INSTALLMENT_PLAN_CONFIRMED: gettext_lazy("Installment plan started"),
    RequestEvent.Type.INSTALLMENT_DUE: gettext_lazy("Installment due soon"),
    RequestEvent.Type.INSTALLMENT_SUCCEEDED: gettext_lazy("Installment paid"),
    RequestEvent.Type.INSTALLMENT_FAILED: gettext_lazy("Installment failed"),
    RequestEvent.Type.INSTALLMENT_PLAN_COMPLETED: gettext_lazy("Installment plan completed"),
    RequestEvent.Type.INSTALLMENT_PLAN_DEFAULTED: gettext_lazy("Installment plan defaulted"),
    RequestEvent.Type.INSTALLMENT_PLAN_CANCELLED: gettext_lazy("Installment plan cancelled"),
    RequestEvent.Type.RECONCILIATION_READY: gettext_lazy("Reconciliation statement ready"),
    RequestEvent.Type.DISPUTE_CREATED: gettext_lazy("Payment disputed"),
    RequestEvent.Type.DISPUTE_UPDATED: gettext_lazy("Dispute updated"),
    RequestEvent.Type.DISPUTE_CLOSED: gettext_lazy("Dispute closed"),
}
_DISPUTE_EVENTS = (
    RequestEvent.Type.DISPUTE_CREATED,
    RequestEvent.Type.DISPUTE_UPDATED,
    RequestEvent.Type.DISPUTE_CLOSED,
)


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a request's timeline: an event, a status change or a message sent."""

    at: datetime
    kind: str  # "event", "status" or "message": the template's icon and colour
    title: str
    detail: str = ""
    who: str = ""


def _amount_detail(payload: dict, currency: str) -> str:
    amount = payload.get("amount")
    if isinstance(amount, int) and not isinstance(amount, bool):
        return format_money(amount, currency, (get_language() or "en")[:2])
    return ""


_STATUS_LABELS = {
    **dict(Dispatch.Status.choices),
    **dict(Participant.Status.choices),
    **dict(PaymentRequest.Status.choices),
}


def status_label(value: str) -> str:
    """A status in the operator's language (the choices' English labels are the msgids)."""
    return _(_STATUS_LABELS.get(value, value))


def _dispute_status(payload: dict) -> str:
    """A dispute event's status in the operator's language (Dispute.Status labels)."""
    labels = dict(Dispute.Status.choices)
    status = payload.get("status")
    return _(labels[status]) if status in labels else ""


def request_timeline(payment_request: PaymentRequest, dispatches: list) -> list[TimelineEntry]:
    """Everything that happened to a request, oldest first: its events (payments, refunds,
    changes), its status changes and the messages that left (or were skipped or failed).
    Messages still planned are the page's other table, not history."""
    entries = []
    for event in selectors.request_events(payment_request=payment_request):
        detail = _amount_detail(event.payload or {}, payment_request.currency)
        if event.type in _DISPUTE_EVENTS:
            detail = " · ".join(filter(None, [detail, _dispute_status(event.payload or {})]))
        entries.append(
            TimelineEntry(
                at=event.created_at,
                kind="event",
                title=str(EVENT_LABELS.get(event.type, event.type.replace("_", " "))),
                detail=detail,
                who=event.participant.name if event.participant else "",
            )
        )
    for change in selectors.status_history(payment_request=payment_request):
        entries.append(
            TimelineEntry(
                at=change.created_at,
                kind="status",
                title=f"{status_label(change.from_status)} → {status_label(change.to_status)}",
                detail=change.reason,
                who=change.participant.name if change.participant else "",
            )
        )
    for dispatch in dispatches:
        if dispatch.status in Dispatch.PENDING:
            continue
        entries.append(
            TimelineEntry(
                at=dispatch.sent_at or dispatch.updated_at,
                kind="message",
                title=f"{dispatch.get_channel_display()} · {status_label(dispatch.status)}",
                detail=dispatch.subject or dispatch.skip_reason or "",
                who=dispatch.recipient,
            )
        )
    return sorted(entries, key=lambda entry: entry.at)


def _request_or_404(request: HttpRequest, public_id: str) -> PaymentRequest:
    payment_request = selectors.payment_request_get(
        merchant=request.merchant, livemode=request.livemode, public_id=public_id
    )
    if payment_request is None:
        raise Http404("No such payment request.")
    return payment_request


def _refundable(participant: Participant, disputed: dict[int, int] | None = None) -> int:
    """What may still be given back to ``participant``: paid, not refunded, and not taken
    back by an open or lost chargeback (``disputed``, per participant pk)."""
    held = (disputed or {}).get(participant.pk, 0)
    return max(participant.amount_paid - participant.amount_refunded - held, 0)


def _disputes(request: HttpRequest, payment_request: PaymentRequest) -> list:
    return payment_selectors.disputes_of_requests(
        merchant=request.merchant, livemode=request.livemode, request_ids=[payment_request.pk]
    )


class PaymentRequestDetailView(MerchantViewMixin, View):
    """The request page: participants, planned messages, the timeline, and the actions its
    status allows for the operator's role (each one a POST the view checks again)."""

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        payment_request = _request_or_404(request, public_id)
        participants = list(payment_request.participants.all())
        cards = payment_selectors.cards_paid_by_participant(payment_request=payment_request)
        for participant in participants:
            participant.cards_paid = cards.get(participant.pk, [])
        answers = latest_answers_by_participant(
            merchant=request.merchant, participant_ids=[p.public_id for p in participants]
        )
        dispatches = list(
            dispatch_list(merchant=request.merchant, payment_request=payment_request).order_by(
                "due_at", "id"
            )
        )
        last_sent = {}
        for dispatch in dispatches:
            if dispatch.participant_id and dispatch.status not in Dispatch.PENDING:
                last_sent[dispatch.participant_id] = dispatch
        collecting = payment_request.is_collecting
        membership = request.membership
        disputes = _disputes(request, payment_request)
        disputed = payment_selectors.disputed_by_participant(disputes=disputes)
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
                "dispatches": dispatches,
                "timeline": request_timeline(payment_request, dispatches),
                "disputes": disputes,
                "disputes_lost": sum(d.amount for d in disputes if d.status == "lost"),
                "progress": {
                    status: sum(p.status == status for p in participants)
                    for status in Participant.Status.values
                },
                "percent": payment_request.collected_percent,
                # Every plan of the request, oldest first, its installments prefetched.
                "installment_plans": list(
                    installment_plans(merchant=request.merchant, livemode=request.livemode)
                    .filter(request=payment_request)
                    .order_by("created_at", "id")
                ),
                "actions": {
                    "edit": collecting and can(membership, "requests.edit"),
                    "reminders": collecting and can(membership, "requests.pause_reminders"),
                    "cancel": collecting and can(membership, "requests.cancel"),
                    "refund": can(membership, "requests.refund")
                    and any(_refundable(p, disputed) for p in participants),
                    "resend": can(membership, "requests.resend"),
                },
                "deadline_form": DeadlineForm(initial={"deadline": payment_request.deadline}),
                "participant_form": ParticipantAddForm(auto_id="add_%s"),
            },
        )


# --- Creating a request -------------------------------------------------------------------------

_PARTICIPANT_PATH = re.compile(r"^participants\[(\d+)\]\.(\w+)$")
# Service field names that are a field of the request form under another name.
_FORM_FIELD_OF = {"form_version": "form", "split": "split_equally"}


def _put_error(form, formset, rows: list[int], field: str | None, message: str) -> None:
    """Show a service's refusal at its field: ``participants[1].email`` on the second row
    kept (blank and removed rows are not sent), ``total_amount`` on the request form, and
    anything else above the form."""
    match = _PARTICIPANT_PATH.match(field or "")
    if match and int(match[1]) < len(rows):
        row = formset.forms[rows[int(match[1])]]
        name = match[2] if match[2] in row.fields else None
        row.add_error(name, message)
        return
    if field == "participants":
        formset._non_form_errors = formset.error_class(
            [*formset.non_form_errors(), message], error_class="nonform"
        )
        return
    field = _FORM_FIELD_OF.get(field or "", field)
    if field and field.startswith("installments."):
        field = INSTALLMENT_FIELDS.get(field.removeprefix("installments."), "installments")
    form.add_error(field if field in form.fields else None, message)


class PaymentRequestCreateView(MerchantViewMixin, View):
    """The "New request" form: the same service as ``POST /api/v1/payment-requests``, so a
    request made here is refused or accepted exactly as the API would; every error the form
    and the participant rules can see is shown at its field in one round trip."""

    template_name = "requests_app/paymentrequest_form.html"

    def _forms(self, request: HttpRequest, data=None):
        merchant = request.merchant
        form = PaymentRequestForm(
            data,
            initial={"currency": merchant.default_currency, "language": merchant.default_language},
            scenario_choices=_scenario_choices(merchant),
            form_choices=[
                (f.public_id, f.name) for f in form_list(merchant=merchant, status="active")
            ],
            method_choices=_method_choices(merchant),
        )
        formset = ParticipantFormSet(
            data, prefix="participants", initial=None if data else [{}, {}]
        )
        return form, formset

    def get(self, request: HttpRequest) -> HttpResponse:
        require(request, "requests.create")
        form, formset = self._forms(request)
        return self._render(request, form, formset)

    def _render(self, request, form, formset, status: int = 200, show_errors: bool = True):
        style_fields(form, show_errors=show_errors)
        empty_row = formset.empty_form  # a new form at each access: styled once, passed on
        for row in [*formset.forms, empty_row]:
            style_fields(row, show_errors=show_errors, small=True)
        currency = (form.data.get("currency") or request.merchant.default_currency).upper()
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "formset": formset,
                "empty_row": empty_row,
                "show_errors": show_errors,
                "currency_exponent": currency_exponent(currency) if is_currency(currency) else 2,
            },
            status=status,
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, "requests.create")
        if "add_row" in request.POST:
            return self._add_row(request)
        form, formset = self._forms(request, request.POST)
        try:
            form_ok, formset_ok = form.is_valid(), formset.is_valid()
        except django_forms.ValidationError:  # a tampered management form
            return HttpResponse(
                "The participant rows of this form are damaged; reload the page.",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        if not (form_ok and formset_ok):
            return self._render(request, form, formset, status=422)
        data = form.cleaned_data
        currency = data["currency"]
        rows = [index for index, _row in formset.rows()]
        participants = []
        for index in rows:
            row = formset.forms[index]
            amount = None
            if not data["split_equally"] and data["amount_mode"] == PaymentRequest.AmountMode.FIXED:
                amount = amount_in_minor_units(row, "amount", currency)
            participants.append(
                services.ParticipantData(
                    name=row.cleaned_data["name"],
                    email=row.cleaned_data.get("email", ""),
                    phone=row.cleaned_data.get("phone", ""),
                    amount=amount,
                )
            )
        for refusal in services.participants_refusals(participants, data["amount_mode"]):
            _put_error(form, formset, rows, refusal.field, refusal.localized)
        if not rows:
            _put_error(form, formset, rows, "participants", _("Add at least one participant."))
        if form.errors or any(f.errors for f in formset.forms) or formset.non_form_errors():
            return self._render(request, form, formset, status=422)
        try:
            payment_request = services.payment_request_create(
                merchant=request.merchant,
                livemode=request.livemode,
                participants=participants,
                **self._create_kwargs(request, data),
            )
        except InvalidFields as refused:
            for refusal in refused.refusals:
                _put_error(form, formset, rows, refusal.field, refusal.localized)
            return self._render(request, form, formset, status=422)
        except DomainError as refused:
            _put_error(form, formset, rows, refused.field, refused.localized)
            return self._render(request, form, formset, status=422)
        messages.success(
            request,
            _("Payment request %(reference)s created.") % {"reference": payment_request.reference},
        )
        return redirect("backoffice:request_detail", public_id=payment_request.public_id)

    def _create_kwargs(self, request: HttpRequest, data: dict) -> dict:
        """The service's keywords from the cleaned form; ``installments`` only when the
        operator ticked "Offer payment in installments"."""
        fixed = data["amount_mode"] == PaymentRequest.AmountMode.FIXED
        smart_form = (
            form_get(merchant=request.merchant, public_id=data["form"]) if data["form"] else None
        )
        return {
            "reference": data["reference"],
            "description": data["description"],
            "currency": data["currency"],
            "amount_mode": data["amount_mode"],
            "total_amount": data["total_amount_minor"],
            "split": "equal" if fixed and data["split_equally"] else None,
            "min_amount": data["min_amount_minor"],
            "max_amount": data["max_amount_minor"],
            "deadline": data["deadline"],
            "expires_at": data["expires_at"],
            "language": data["language"],
            "allowed_payment_methods": data["allowed_payment_methods"] or None,
            "form_version": smart_form.current_version if smart_form else None,
            "capture_mode": data["capture_mode"],
            "scenario": data["scenario"] or None,
            "installments": data["installments_settings"],
        }

    def _add_row(self, request: HttpRequest) -> HttpResponse:
        """Without JavaScript, "Add a participant" posts the form: it comes back as typed,
        with one more empty row and no error yet (nothing was submitted)."""
        data = request.POST.copy()
        try:
            total = int(data.get("participants-TOTAL_FORMS", "0"))
        except ValueError:
            total = 0
        data["participants-TOTAL_FORMS"] = str(min(max(total, 0) + 1, services.MAX_PARTICIPANTS))
        form, formset = self._forms(request, data)
        return self._render(request, form, formset, show_errors=False)


# --- Acting on a request ------------------------------------------------------------------------


def _back(public_id: str) -> HttpResponse:
    return redirect("backoffice:request_detail", public_id=public_id)


def _form_errors(form) -> str:
    return " ".join(str(message) for errors in form.errors.values() for message in errors)


class RequestDeadlineView(MerchantViewMixin, View):
    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "requests.edit")
        payment_request = _request_or_404(request, public_id)
        form = DeadlineForm(request.POST)
        if not form.is_valid():
            messages.error(request, _form_errors(form))
            return _back(public_id)
        try:
            services.payment_request_update(
                payment_request=payment_request, deadline=form.cleaned_data["deadline"]
            )
        except DomainError as refused:
            messages.error(request, refused.localized)
        else:
            messages.success(request, _("The deadline is changed; reminders follow it."))
        return _back(public_id)


class RequestRemindersView(MerchantViewMixin, View):
    """Pause (``paused=1``) or resume (``paused=0``) the request's reminders."""

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "requests.pause_reminders")
        payment_request = _request_or_404(request, public_id)
        paused = request.POST.get("paused")
        if paused not in ("0", "1"):
            return HttpResponse(
                "paused must be 0 or 1.", status=400, content_type="text/plain; charset=utf-8"
            )
        if not payment_request.is_collecting:
            messages.error(request, _("This request no longer collects: it has no reminders."))
            return _back(public_id)
        services.payment_request_set_notifications_paused(
            payment_request=payment_request, paused=paused == "1"
        )
        if paused == "1":
            messages.success(request, _("Reminders are paused: those falling due are skipped."))
        else:
            messages.success(request, _("Reminders are back on."))
        return _back(public_id)


class ParticipantAddView(MerchantViewMixin, View):
    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "requests.edit")
        payment_request = _request_or_404(request, public_id)
        form = ParticipantAddForm(request.POST)
        if not form.is_valid():
            messages.error(request, _form_errors(form))
            return _back(public_id)
        amount = amount_in_minor_units(form, "amount", payment_request.currency)
        if form.errors:
            messages.error(request, _form_errors(form))
            return _back(public_id)
        try:
            participant = services.participant_add(
                payment_request=payment_request,
                data=services.ParticipantData(
                    name=form.cleaned_data["name"],
                    email=form.cleaned_data.get("email", ""),
                    phone=form.cleaned_data.get("phone", ""),
                    amount=amount,
                ),
            )
        except DomainError as refused:
            messages.error(request, refused.localized)
        else:
            messages.success(request, _("%(name)s is added.") % {"name": participant.name})
        return _back(public_id)


class ParticipantRemoveView(MerchantViewMixin, View):
    """GET asks for confirmation (a held payment is released); POST removes."""

    def _participant(self, request, payment_request, participant_id) -> Participant:
        participant = selectors.participant_get(
            merchant=request.merchant, payment_request=payment_request, public_id=participant_id
        )
        if participant is None:
            raise Http404("No such participant.")
        return participant

    def get(self, request: HttpRequest, public_id: str, participant_id: str) -> HttpResponse:
        require(request, "requests.edit")
        payment_request = _request_or_404(request, public_id)
        participant = self._participant(request, payment_request, participant_id)
        return render(
            request,
            "requests_app/confirm.html",
            {
                "payment_request": payment_request,
                "title": _("Remove %(name)s?") % {"name": participant.name},
                "explanation": _(
                    "They get no more messages and their payment link stops working; a "
                    "payment of theirs still on hold is released. In fixed mode the total "
                    "drops by their share."
                ),
                "action": reverse(
                    "backoffice:participant_remove", args=[public_id, participant_id]
                ),
                "button": _("Remove the participant"),
            },
        )

    def post(self, request: HttpRequest, public_id: str, participant_id: str) -> HttpResponse:
        require(request, "requests.edit")
        payment_request = _request_or_404(request, public_id)
        participant = self._participant(request, payment_request, participant_id)
        try:
            services.participant_remove(payment_request=payment_request, participant=participant)
        except DomainError as refused:
            messages.error(request, refused.localized)
        else:
            messages.success(request, _("%(name)s is removed.") % {"name": participant.name})
        return _back(public_id)


class RequestCancelView(MerchantViewMixin, View):
    """GET asks for confirmation (and a reason); POST cancels."""

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "requests.cancel")
        payment_request = _request_or_404(request, public_id)
        return render(
            request,
            "requests_app/confirm.html",
            {
                "payment_request": payment_request,
                "title": _("Cancel %(reference)s?") % {"reference": payment_request.reference},
                "explanation": _(
                    "Payers who have not paid are cancelled and get no more reminders; payments "
                    "on hold are released. What was already paid stays paid: refund it "
                    "afterwards if you need to."
                ),
                "form": CancelForm(),
                "action": reverse("backoffice:request_cancel", args=[public_id]),
                "button": _("Cancel the request"),
                "danger": True,
            },
        )

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "requests.cancel")
        payment_request = _request_or_404(request, public_id)
        form = CancelForm(request.POST)
        if not form.is_valid():
            messages.error(request, _form_errors(form))
            return _back(public_id)
        try:
            services.payment_request_cancel(
                payment_request=payment_request, reason=form.cleaned_data["reason"]
            )
        except DomainError as refused:
            messages.error(request, refused.localized)
        else:
            messages.success(request, _("The request is cancelled."))
        return _back(public_id)


_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class RequestRefundView(MerchantViewMixin, View):
    """Three steps, each a plain form (no JavaScript needed): choose what to refund, see it
    spelt out and confirm, then the refund. The confirmation carries a one-time token,
    claimed before the provider is asked, so a double click or a resubmitted page refunds
    once."""

    template_name = "requests_app/paymentrequest_refund.html"

    def _form(self, request, payment_request, data=None) -> RefundForm:
        self.disputed = payment_selectors.disputed_by_participant(
            disputes=_disputes(request, payment_request)
        )
        refundable = [
            p for p in payment_request.participants.all() if _refundable(p, self.disputed)
        ]
        return RefundForm(data, participants=refundable, currency=payment_request.currency)

    def _render(self, request, payment_request, form, *, confirm=None, status=200):
        return render(
            request,
            self.template_name,
            {
                "payment_request": payment_request,
                "form": form,
                "confirm": confirm,
            },
            status=status,
        )

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "requests.refund")
        payment_request = _request_or_404(request, public_id)
        return self._render(request, payment_request, self._form(request, payment_request))

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "requests.refund")
        payment_request = _request_or_404(request, public_id)
        form = self._form(request, payment_request, request.POST)
        if not form.is_valid():
            return self._render(request, payment_request, form, status=422)
        lines = form.cleaned_data["lines"]
        if "confirmed" not in request.POST:
            shown = [
                (
                    p,
                    _refundable(p, self.disputed) if amount is None else amount,
                    request.POST.get(f"amount_{p.public_id}", ""),
                )
                for p, amount in lines
            ]
            return self._render(
                request,
                payment_request,
                form,
                confirm={
                    "token": secrets.token_urlsafe(24),
                    "lines": shown,
                    "total": sum(amount for _p, amount, _raw in shown)
                    if lines
                    else sum(_refundable(p, self.disputed) for p in form.participants),
                },
            )
        token = request.POST.get("token", "")
        if not _TOKEN.match(token):
            return HttpResponse(
                "The confirmation is missing or damaged; start the refund again.",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        if not self._claim(request, payment_request, token):
            messages.warning(request, _("This refund was already sent: nothing more was refunded."))
            return _back(public_id)
        try:
            payment_services.payment_request_refund(
                payment_request=payment_request,
                lines=[payment_services.RefundLine(p, amount) for p, amount in lines] or None,
            )
        except DomainError as refused:
            messages.error(request, refused.localized)
        else:
            messages.success(request, _("The refund is done."))
        return _back(public_id)

    def _claim(self, request: HttpRequest, payment_request: PaymentRequest, token: str) -> bool:
        """Take the confirmation's token for good (committed before any provider call), or
        learn that another submission of the same page took it."""
        fingerprint = hashlib.sha256(f"refund:{payment_request.public_id}".encode()).hexdigest()
        with transaction.atomic():
            record = merchant_services.idempotency_claim(
                merchant=request.merchant,
                livemode=request.livemode,
                key=f"backoffice-refund:{token}",
                fingerprint=fingerprint,
            )
        return record is not None


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
        messages.warning(request, _("Live mode: these requests move real money."))
    else:
        messages.info(request, _("Test mode: nothing here moves real money."))
    return redirect("backoffice:request_list")


@require_POST
def switch_merchant(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    merchant = merchants_for_user(user=request.user).filter(slug=request.POST.get("slug")).first()
    if merchant is None:
        raise Http404("No such merchant.")
    request.session[SESSION_KEY] = merchant.pk
    messages.info(request, _("You are now working for %(name)s.") % {"name": merchant.name})
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
            messages.error(request, exc.localized)
        else:
            messages.success(
                request,
                _("The notification to %(recipient)s is queued.")
                % {"recipient": dispatch.recipient},
            )
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
                {
                    "code": code,
                    "label": pgettext("payment method", payment_method_label(code)),
                    **totals,
                }
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
