"""The payer's page for their installment plan, reached from their link (and from the
failure notice): the schedule with each installment's state, paying a failed installment
with another card, and paying off what is left early.

The link's token is the credential, as on the main payer page: a plan id is only looked
for among the link's own participant's plans, so anybody else's is a 404. Every change goes
through the installment services, which hold the rows; this module only reads the post."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views import View

from payments import selectors as payment_selectors
from payments import services as payment_services
from payments.installments import selectors as installment_selectors
from payments.installments import services as installment_services
from payments.installments.models import Installment, InstallmentPlan
from payments.models import Checkout
from pushpay.errors import DomainError
from pushpay.i18n import other_languages
from pushpay.money import format_money

from . import selectors
from .payer_views import (
    CARD_TOKEN_FIELD,
    LANGUAGE_PARAM,
    PROVIDER_CANCELLED_PARAM,
    _action_url,
    _language,
    _participant_or_404,
    _payer_error,
    _waiting_for_payer,
    card_fields_template,
    card_source,
    checkout_failure_message,
    failure_message,
)

PAID_PARAM = "paid"


def _plan_error(exc: DomainError) -> str:
    messages = {
        "installment_not_failed": _("This installment is not waiting for a payment any more."),
        "installment_processing": _(
            "An installment of this plan is being charged; try again later."
        ),
        "plan_not_active": _("This plan is no longer running: nothing can be paid here."),
        "nothing_left": _("Nothing is left to pay on this plan."),
        "payoff_refused": _("The payment could not be started. Nothing was charged."),
        "unknown_installment": _("This installment is not part of your plan."),
    }
    return messages.get(exc.code) or _payer_error(exc)


def installment_state(status: str) -> str:
    """An installment's state as the payer reads it."""
    return {
        Installment.Status.SCHEDULED: pgettext("installment", "Scheduled"),
        Installment.Status.PROCESSING: pgettext("installment", "Being charged"),
        Installment.Status.PAID: pgettext("installment", "Paid"),
        Installment.Status.FAILED: pgettext("installment", "Payment failed"),
        Installment.Status.DEFAULTED: pgettext("installment", "Unpaid"),
        Installment.Status.CANCELLED: pgettext("installment", "Cancelled"),
    }.get(status, status)


def plan_state(plan: InstallmentPlan) -> str:
    """Where the plan stands, in one sentence for the payer."""
    return {
        InstallmentPlan.Status.PENDING: _("Your plan is waiting for its first payment."),
        InstallmentPlan.Status.ACTIVE: _(
            "Your plan is running: each installment is charged on its date."
        ),
        InstallmentPlan.Status.COMPLETED: _("Every installment is paid. Thank you."),
        InstallmentPlan.Status.DEFAULTED: _(
            "Your plan was stopped after several failed charges: no further charge will be made."
        ),
        InstallmentPlan.Status.CANCELLED: _(
            "This plan was cancelled: no further charge will be made."
        ),
    }.get(plan.status, plan.status)


def _plan_or_404(participant, plan_id: str) -> InstallmentPlan:
    plan = installment_selectors.installment_plan_for_participant(
        participant=participant, public_id=plan_id
    )
    if plan is None:
        raise Http404("No such plan.")
    return plan


def _plan_url(token: str, plan: InstallmentPlan, language: str, **query) -> str:
    url = reverse("payer:plan", args=[token, plan.public_id]) + f"?{LANGUAGE_PARAM}={language}"
    return url + "".join(f"&{key}={value}" for key, value in query.items())


def _return_url(request: HttpRequest, token: str, plan: InstallmentPlan):
    return lambda checkout: request.build_absolute_uri(
        reverse("payer:plan_return", args=[token, plan.public_id, checkout.public_id])
    )


class PlanPageView(View):
    template_name = "requests_app/payer_plan.html"

    def get(self, request: HttpRequest, token: str, plan_id: str) -> HttpResponse:
        participant = _participant_or_404(token)
        plan = _plan_or_404(participant, plan_id)
        with translation.override(_language(request, participant)):
            notice = ""
            paid = request.GET.get(PAID_PARAM, "")[:40]
            if paid:
                checkout = payment_selectors.checkout_for_participant(
                    participant=participant, public_id=paid
                )
                if checkout is not None and checkout.status == Checkout.Status.SUCCEEDED:
                    notice = _("Thank you: %(amount)s was paid.") % {
                        "amount": format_money(
                            checkout.amount, checkout.currency, translation.get_language()
                        )
                    }
            return _render(request, participant, plan, notice=notice)

    def post(self, request: HttpRequest, token: str, plan_id: str) -> HttpResponse:
        participant = _participant_or_404(token)
        plan = _plan_or_404(participant, plan_id)
        language = _language(request, participant)
        with translation.override(language):
            action = request.POST.get("action", "")
            if action == "pay_installment":
                return self._pay_installment(request, participant, plan, language)
            if action == "payoff":
                return self._payoff(request, participant, plan, language)
            return _render(
                request, participant, plan, errors={"form": _("Choose what to pay.")}, status=422
            )

    def _pay_installment(self, request, participant, plan, language) -> HttpResponse:
        installment_id = request.POST.get("installment", "")[:40]
        source = card_source(request, participant)[:80]
        if not source:
            errors = {"form": _("Enter your card details."), "installment": installment_id}
            return _render(request, participant, plan, errors=errors, status=422)
        try:
            checkout = installment_services.installment_pay_now(
                plan=plan,
                installment_public_id=installment_id,
                source=source,
                return_url=_return_url(request, participant.link_token, plan),
            )
        except DomainError as exc:
            status = 409 if exc.http_status == 409 else 422
            errors = {"form": _plan_error(exc), "installment": installment_id}
            return _render(request, participant, plan, errors=errors, status=status)
        return _after(request, participant, plan, checkout, language, installment_id)

    def _payoff(self, request, participant, plan, language) -> HttpResponse:
        left = _left(plan)
        if request.POST.get("confirmed") != "1":
            # First press: show exactly what will be charged, and ask again.
            return _render(request, participant, plan, confirm_payoff=True)
        if request.POST.get("amount") != str(left):
            # The schedule changed between the confirmation and the click (a charge went
            # through): the payer confirms the new amount, never one they did not see.
            errors = {"form": _("What is left to pay has changed; please check it again.")}
            return _render(
                request, participant, plan, errors=errors, confirm_payoff=True, status=409
            )
        try:
            checkout = installment_services.installment_plan_pay_off(
                plan=plan, return_url=_return_url(request, participant.link_token, plan)
            )
        except DomainError as exc:
            status = 409 if exc.http_status == 409 else 422
            return _render(
                request, participant, plan, errors={"form": _plan_error(exc)}, status=status
            )
        return _after(request, participant, plan, checkout, language)


def plan_checkout_return(
    request: HttpRequest, token: str, plan_id: str, checkout_id: str
) -> HttpResponse:
    """Back from 3-D Secure after paying an installment (or the balance) of the plan."""
    participant = _participant_or_404(token)
    plan = _plan_or_404(participant, plan_id)
    checkout = payment_selectors.checkout_for_participant(
        participant=participant, public_id=checkout_id
    )
    if checkout is None or not installment_selectors.installment_plan_of_checkout(
        plan=plan, checkout=checkout
    ):
        raise Http404("No such payment.")
    checkout = payment_services.checkout_resume(checkout=checkout)
    if request.GET.get(PROVIDER_CANCELLED_PARAM) and _waiting_for_payer(checkout):
        # "Back" on the provider's page: nothing is held, and sending the payer there again
        # would trap them.
        checkout = payment_services.checkout_abandon(checkout=checkout)
    if checkout.installment == plan.public_id:
        # Back from a pay-off left unpaid on the provider's page: the schedule goes on.
        installment_services.installment_payoff_release(plan=plan, checkout=checkout)
    language = checkout.language or participant.language
    with translation.override(language):
        plan = _plan_or_404(participant, plan_id)  # as the outcome left it
        return _after(request, participant, plan, checkout, language, checkout.installment)


def _after(request, participant, plan, checkout: Checkout, language: str, installment_id=""):
    token = participant.link_token
    if _waiting_for_payer(checkout):
        return redirect(_action_url(checkout, language))
    if checkout.status == Checkout.Status.SUCCEEDED:
        return redirect(_plan_url(token, plan, language, **{PAID_PARAM: checkout.public_id}))
    if checkout.status in Checkout.IN_FLIGHT:
        return redirect(_plan_url(token, plan, language))
    plan = _plan_or_404(participant, plan.public_id)
    errors = {"form": checkout_failure_message(checkout), "installment": installment_id}
    return _render(request, participant, plan, errors=errors, status=402)


def _left(plan: InstallmentPlan) -> int:
    return sum(
        item.amount
        for item in plan.installments.all()
        if item.status in installment_selectors.STILL_TO_CHARGE
    )


def _render(
    request,
    participant,
    plan: InstallmentPlan,
    *,
    errors: dict | None = None,
    notice: str = "",
    confirm_payoff: bool = False,
    status: int = 200,
) -> HttpResponse:
    payment_request = participant.request
    language = translation.get_language()
    items = list(plan.installments.all())
    active = plan.status == InstallmentPlan.Status.ACTIVE
    left = _left(plan)
    # One card form on the page (its fields have fixed ids): the earliest failed one.
    payable = next(
        (item.pk for item in items if active and item.status == Installment.Status.FAILED), None
    )
    rows = [
        {
            "item": item,
            "state": installment_state(item.status),
            "payable": item.pk == payable,
            "reason": (
                failure_message(item.failure_reason)
                if item.failure_reason
                and item.status in (Installment.Status.FAILED, Installment.Status.DEFAULTED)
                else ""
            ),
        }
        for item in items
        # A re-split cancels what it replaced: a running plan shows its schedule as it is.
        if not (active and item.status == Installment.Status.CANCELLED)
    ]
    upcoming = [
        item.due_date for item in items if item.status in installment_selectors.STILL_TO_CHARGE
    ]
    context = {
        "participant": participant,
        "payment_request": payment_request,
        "merchant": payment_request.merchant,
        "plan": plan,
        "plan_state": plan_state(plan),
        "rows": rows,
        "left": left,
        "active": active,
        "can_pay_off": active
        and left > 0
        and not any(item.status == Installment.Status.PROCESSING for item in items),
        "confirm_payoff": confirm_payoff and active and left > 0,
        "card_on_file": installment_selectors.plan_card_label(plan=plan) if active else "",
        "card_expires_before": (
            installment_selectors.plan_card_expires_before(plan=plan, day=max(upcoming))
            if active and upcoming
            else None
        ),
        "balance_url": (
            reverse("payer:pay", args=[participant.link_token]) + f"?{LANGUAGE_PARAM}={language}"
            if plan.status == InstallmentPlan.Status.DEFAULTED
            and selectors.participant_can_pay(participant=participant)
            else ""
        ),
        "errors": errors or {},
        "notice": notice,
        "language": language,
        "other_language": other_languages(language)[0],
        "token_field": CARD_TOKEN_FIELD,
        "card_template": card_fields_template(participant) if payable else "",
    }
    return render(request, "requests_app/payer_plan.html", context, status=status)
