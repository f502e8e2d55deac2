"""Payer pages: what someone who clicked their payment link sees. No login: the link's
unguessable token is the credential, and it only ever shows that one participant's share.

One form offers every method of the request: the payer ticks those they use and gives an
amount per method (balance methods first, with "Use my balance"). The server checks it all
again, so the page works without JavaScript and a tampered post is refused, not obeyed."""

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views import View
from django.views.decorators.http import require_GET, require_POST

from payments import selectors as payment_selectors
from payments import services as payment_services
from payments.adapters.base import ProviderError
from payments.installments import selectors as installment_selectors
from payments.installments import services as installment_services
from payments.installments.models import Installment, InstallmentPlan
from payments.models import Checkout, Leg
from payments.selectors import PayerMethod
from pushpay.api.errors import error_body
from pushpay.errors import DomainError, InvalidFields, InvalidInput
from pushpay.i18n import language_or_default, other_languages
from pushpay.money import AmountSyntaxError, currency_exponent, format_money, parse_major_amount
from pushpay.ratelimit import rate_exceeded
from smartforms.fieldtypes import FIELD_TYPES
from smartforms.rendering import form_version_render
from smartforms.selectors import submission_get

from . import selectors
from .models import Participant

LANGUAGE_PARAM = "lang"
# The field that carried the card token before payments were combined; links and tests
# that post a card payment still use it.
CARD_TOKEN_FIELD = "card_token"
# Posted with the card token when the payer goes on with a card flagged as expiring before
# the plan's last charge.
KEEP_CARD_FIELD = "keep_card"
# Set on the page's address after "Cancel this payment", to say that nothing was charged.
CANCELLED_PARAM = "cancelled"
# Set by a provider's "back" link (Stripe Checkout's cancel_url) on the return page.
PROVIDER_CANCELLED_PARAM = "provider_cancelled"
CARD = "card"
PAYER_CANCELLED = payment_services.PAYER_CANCELLED


def method_label(code: str) -> str:
    """A method's name in the payer's language (the registry names it in English)."""
    return _(payment_selectors.payment_method_label(code))


def failure_message(reason: str, method: str = CARD) -> str:
    """Why a payment did not go through, naming the method that refused it: a payer who
    cancelled at PayPal must not read about their bank or 3-D Secure."""
    if method != CARD:
        label = method_label(method)
        messages = {
            "declined": _("%(method)s declined the payment. Nothing was charged."),
            "insufficient_funds": _(
                "Your %(method)s balance does not cover this amount. Nothing was charged."
            ),
            "authentication_failed": _("You cancelled at %(method)s. Nothing was charged."),
            "fraud": _("The payment was refused for security reasons. Nothing was charged."),
            "not_accepted": _("%(method)s cannot be used for this payment. Nothing was charged."),
            "provider_error": _(
                "%(method)s did not answer in time. Nothing was charged; please try again."
            ),
            PAYER_CANCELLED: _("You cancelled this payment. Nothing was charged."),
            "abandoned": _("This payment was not completed in time. Nothing was charged."),
        }
        message = messages.get(reason, _("The payment did not go through. Nothing was charged."))
        return message % {"method": label} if "%(method)s" in message else message
    messages = {
        "declined": _("Your bank declined the payment. Nothing was charged."),
        "insufficient_funds": _("The card has insufficient funds. Nothing was charged."),
        "authentication_failed": _(
            "The security check (3-D Secure) was not completed. Nothing was charged."
        ),
        "fraud": _("The payment was refused for security reasons. Nothing was charged."),
        "not_accepted": _("This card cannot be used for this payment. Nothing was charged."),
        "expired_card": _("This card has expired. Nothing was charged; please use another card."),
        "authentication_required": _(
            "Your bank wants you to confirm this payment yourself. Nothing was charged; pay "
            "it here, where your bank may ask you to authenticate."
        ),
        "provider_error": _(
            "The bank did not answer in time. Nothing was charged; please try again."
        ),
        PAYER_CANCELLED: _("You cancelled this payment. Nothing was charged."),
        "abandoned": _("This payment was not completed in time. Nothing was charged."),
    }
    return messages.get(reason, _("The payment did not go through. Nothing was charged."))


def checkout_failure_message(checkout: Checkout) -> str:
    """The message for a failed checkout, from the leg that failed it."""
    legs = list(checkout.legs.all())
    culprit = next((leg for leg in legs if leg.failure_reason), None)
    culprit = culprit or next((leg for leg in legs if leg.status == Leg.Status.FAILED), None)
    return failure_message(checkout.failure_reason, culprit.method if culprit else CARD)


def _leg(state: str) -> str:
    return pgettext("payment leg", state)


def leg_state(leg: Leg) -> str:
    """One leg's state as the payer reads it ("released", "declined" …)."""
    if leg.status == Leg.Status.FAILED and leg.failure_reason:
        reasons = {
            "declined": _leg("declined"),
            "insufficient_funds": _leg("insufficient balance"),
            "authentication_failed": _leg("not confirmed"),
            "not_accepted": _leg("not accepted"),
            "provider_error": _leg("no answer"),
            "fraud": _leg("refused"),
        }
        return reasons.get(leg.failure_reason, _leg("refused"))
    states = {
        Leg.Status.CREATED: _leg("not used"),
        Leg.Status.REQUIRES_ACTION: _leg("waiting for your confirmation"),
        Leg.Status.AUTHORISED: _leg("held"),
        Leg.Status.CAPTURED: _leg("paid"),
        Leg.Status.FAILED: _leg("released"),
        Leg.Status.VOIDED: _leg("released"),
        Leg.Status.REFUNDED: _leg("refunded"),
        Leg.Status.PARTIALLY_REFUNDED: _leg("partly refunded"),
        Leg.Status.UNKNOWN: _leg("being checked"),
    }
    return states.get(leg.status, leg.status)


def legs_shown(checkout: Checkout | None) -> list[dict]:
    if checkout is None:
        return []
    return [
        {
            "label": method_label(leg.method),
            "amount": leg.amount,
            "currency": leg.currency,
            "state": leg_state(leg),
            "status": leg.status,
            "method": leg.method,
        }
        for leg in checkout.legs.all()
    ]


def _participant_or_404(token: str) -> Participant:
    participant = selectors.participant_by_link_token(token=token)
    if participant is None:
        raise Http404("This payment link is not valid.")
    return participant


def _chosen_language(request: HttpRequest, default: str) -> str:
    """The ``lang`` the link asks for when we speak it: anything else (``xx``, ``../../etc``)
    would reach babel's locale parser, which raises on it."""
    chosen = request.GET.get(LANGUAGE_PARAM) or request.POST.get(LANGUAGE_PARAM)
    return language_or_default(chosen, default)


def _language(request: HttpRequest, participant: Participant) -> str:
    return _chosen_language(request, participant.language)


def _source_field(code: str) -> str:
    return CARD_TOKEN_FIELD if code == CARD else f"source_{code}"


def _source_key(code: str) -> str:
    """The errors key of a method's details; the card's is "card", which its template shows."""
    return CARD if code == CARD else f"source_{code}"


def _source_missing(code: str) -> str:
    missing = {
        CARD: _("Enter your card details."),
        "holiday_voucher": _("Enter your beneficiary number."),
    }
    return missing.get(code, _("Enter your payment details."))


@dataclass
class _Choice:
    """What the payer posted for one method."""

    method: PayerMethod
    amount: int | None = None
    source: str = ""


def _offered(participant: Participant) -> list[PayerMethod]:
    return payment_selectors.payer_methods_for_participant(participant=participant)


def card_fields_template(participant: Participant) -> str:
    """What the page includes to collect a card; "" when the provider's own page does
    (Stripe Checkout): the payer then types nothing here."""
    card = next((m for m in _offered(participant) if m.code == CARD), None)
    return card.fields_template if card is not None else ""


def card_source(request: HttpRequest, participant: Participant) -> str:
    """The card the payer gives: the token their browser made with the provider's fields,
    or, when the provider's page collects the card (Stripe Checkout), the method itself."""
    card = next((m for m in _offered(participant) if m.code == CARD), None)
    if card is not None and not card.fields_template:
        return payment_selectors.payer_method_source(participant=participant, method=card)
    return request.POST.get(CARD_TOKEN_FIELD, "").strip()


def _posted_methods(request: HttpRequest, offered: list[PayerMethod]) -> tuple[list[str], str]:
    """The codes the payer ticked, and an error when none (or an unoffered one) was."""
    codes = {m.code for m in offered}
    posted = request.POST.getlist("methods") or [c for c in [request.POST.get("method", "")] if c]
    if any(code not in codes for code in posted):
        return [], _("This payment method is not available.")
    chosen = list(dict.fromkeys(posted))
    if not chosen and len(offered) == 1:
        chosen = [offered[0].code]  # the only method: nothing to tick
    if not chosen:
        return [], _("Choose how you pay.")
    return chosen, ""


def _parse_amount(raw: str, currency: str) -> tuple[int | None, str]:
    # Not stripped: the amount grammar refuses what is not a plain decimal, spaces included.
    if not raw:
        return None, ""
    try:
        amount = parse_major_amount(raw, currency)
    except AmountSyntaxError:
        return None, _("Enter an amount such as 25 or 25.50.")
    if amount == 0:
        return None, _("The amount must be greater than zero.")
    return amount, ""


def _read_legs(request: HttpRequest, participant: Participant, errors: dict) -> list[_Choice]:
    """The legs the payer asked for, checked as far as they can be without moving money;
    every problem found goes into ``errors`` under the field it belongs to."""
    payment_request = participant.request
    currency = payment_request.currency
    offered = _offered(participant)
    by_code = {m.code: m for m in offered}
    total = None
    if participant.amount is None:
        total, message = _parse_amount(request.POST.get("amount", ""), currency)
        if message:
            errors["amount"] = message
        elif total is None and len(offered) == 1:
            errors["amount"] = _("Enter an amount such as 25 or 25.50.")
    codes, message = _posted_methods(request, offered)
    if message:
        errors["methods"] = message
        return []
    choices = [_Choice(method=by_code[code]) for code in codes]
    for choice in choices:
        code = choice.method.code
        choice.amount, message = _parse_amount(request.POST.get(f"amount_{code}", ""), currency)
        if message:
            errors[f"amount_{code}"] = message
        if choice.method.fields_template:
            choice.source = request.POST.get(_source_field(code), "").strip()
            if not choice.source:
                errors[_source_key(code)] = _source_missing(code)
        else:
            choice.source = payment_selectors.payer_method_source(
                participant=participant, method=choice.method
            )
            if not choice.source:
                errors["methods"] = _("%(method)s is not available for you.") % {
                    "method": method_label(code)
                }
    if len(choices) == 1:
        only = choices[0]
        if only.amount is None:
            only.amount = total  # None in fixed mode: the whole share
        elif participant.amount is not None and only.amount != participant.amount_due:
            # A share is settled in one go: one method pays all of it, or it is combined.
            errors["legs"] = _legs_do_not_sum(only.amount, participant.amount_due, currency)
    elif not any(key.startswith("amount_") for key in errors):
        for choice in choices:
            if choice.amount is None:
                errors[f"amount_{choice.method.code}"] = _(
                    "Enter the amount you pay with %(method)s."
                ) % {"method": method_label(choice.method.code)}
        if not any(key.startswith("amount_") for key in errors):
            given = sum(choice.amount for choice in choices)
            due = participant.amount_due if participant.amount is not None else total
            if due is not None and given != due:
                errors["legs"] = _legs_do_not_sum(given, due, currency)
    for choice in choices:
        _check_balance(payment_request, choice, errors)
    return choices


def _legs_do_not_sum(given: int, due: int, currency: str) -> str:
    language = _lang()
    return _(
        "The amounts add up to %(given)s; they must add up to exactly %(due)s. Nothing was charged."
    ) % {
        "given": format_money(given, currency, language),
        "due": format_money(due, currency, language),
    }


def _check_balance(payment_request, choice: _Choice, errors: dict) -> None:
    """A typed account number is checked before anything is stored, so an unknown number
    or a balance that does not cover the amount is a field error in the payer's language."""
    key = _source_key(choice.method.code)
    if not choice.method.has_balance or not choice.source or key in errors:
        return
    try:
        available = payment_selectors.payment_source_balance(
            payment_request=payment_request, method=choice.method.code, source=choice.source
        )
    except DomainError as exc:
        errors[key] = _payer_error(exc)
        return
    except ProviderError:
        return  # the checkout asks again, and says so if it still gets no answer
    if choice.amount is not None and choice.amount > available:
        errors[key] = _("Your balance is %(balance)s: it does not cover %(amount)s.") % {
            "balance": format_money(available, payment_request.currency, _lang()),
            "amount": format_money(choice.amount, payment_request.currency, _lang()),
        }


def _lang() -> str:
    return (translation.get_language() or "en")[:2]


class PayerPageView(View):
    template_name = "requests_app/payer_page.html"

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        page = payment_selectors.payer_page_participant(token=token)
        if page is None:
            raise Http404("This payment link is not valid.")
        participant = page.participant
        with translation.override(_language(request, participant)):
            errors = {}
            cancelled = request.GET.get(CANCELLED_PARAM)
            if cancelled:
                checkout = payment_selectors.checkout_for_participant(
                    participant=participant, public_id=cancelled[:40]
                )
                if checkout is not None and checkout.status == Checkout.Status.CANCELLED:
                    errors["notice"] = failure_message(PAYER_CANCELLED)
            return self._render(request, participant, errors=errors, page=page)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        participant = _participant_or_404(token)
        language = _language(request, participant)
        with translation.override(language):
            if not _can_pay(participant):
                return self._render(request, participant)
            errors: dict[str, str] = {}
            choices = _read_legs(request, participant, errors)
            form_version = participant.request.form_version
            answers = None if form_version is None else _posted_answers(request, form_version)
            if errors:
                # Still flag every wrong answer: the payer fixes everything in one go.
                refusals = payment_services.pay_answers_refusals(
                    participant=participant, answers=answers, language=language
                )
                errors.update(_answer_errors(refusals))
                return self._render(
                    request, participant, errors=errors, status=422, posted=request.POST
                )
            try:
                checkout = payment_services.checkout_pay(
                    participant=participant,
                    legs=[
                        {"method": c.method.code, "source": c.source, "amount": c.amount}
                        for c in choices
                    ],
                    answers=answers,
                    language=language,
                    return_url=lambda co: request.build_absolute_uri(
                        reverse("payer:checkout_return", args=[token, co.public_id])
                    ),
                )
            except InvalidFields as exc:
                errors = _answer_errors(exc.refusals)
                return self._render(
                    request, participant, errors=errors, status=422, posted=request.POST
                )
            except DomainError as exc:
                return self._render(
                    request,
                    participant,
                    errors={_error_key(exc, participant, choices): _payer_error(exc)},
                    status=409 if exc.http_status == 409 else 422,
                    posted=request.POST,
                )
            return _after_checkout(request, participant, checkout, language)

    def _render(
        self,
        request,
        participant,
        *,
        errors=None,
        status=200,
        posted=None,
        answers: dict | None = None,
        checkout: Checkout | None = None,
        page: payment_selectors.PayerPage | None = None,
    ) -> HttpResponse:
        """``page``, when the view read the participant with ``payer_page_participant``,
        says which of the checkouts and plan reads can be skipped (nothing there to read)."""
        payment_request = participant.request
        errors = errors or {}
        posted = posted or {}
        form_fields = []
        if payment_request.form_version is not None:
            if answers is None and posted:
                answers = _posted_answers(request, payment_request.form_version)
            form_fields = form_version_render(
                form_version=payment_request.form_version,
                language=translation.get_language(),
                answers=answers,
                errors={
                    k.split(":", 1)[1]: v for k, v in errors.items() if k.startswith("answers:")
                },
            )
        shown = (
            payment_selectors.payer_page_checkouts(participant=participant)
            if page is None or page.has_shown_checkouts
            else payment_selectors.NO_PAYER_PAGE_CHECKOUTS
        )
        held = shown.held
        waiting = None if checkout is not None else shown.waiting
        offered = _offered(participant)
        can_pay = selectors.participant_can_pay(participant=participant) and held is None
        plan = (
            installment_selectors.installment_plan_latest(participant=participant)
            if page is None or page.has_plan
            else None
        )
        running = (
            plan if plan is not None and plan.status == InstallmentPlan.Status.ACTIVE else None
        )
        offer = _plan_offer(participant, offered) if can_pay and running is None else None
        context = {
            "running_plan": running,
            "plan_lines": _plan_lines(running) if running else [],
            "plan_offer": offer,
            "plan_url": _plan_url(participant) if offer else "",
            # The whole share at once stays offered unless the merchant's plan is the only way.
            "pay_at_once": offer is None or offer.offer.pay_at_once_allowed,
            "form_fields": form_fields,
            "participant": participant,
            "payment_request": payment_request,
            "merchant": payment_request.merchant,
            "can_pay": can_pay,
            "held_checkout": held,
            "waiting_checkout": waiting if can_pay else None,
            "waiting_legs": legs_shown(waiting) if can_pay else [],
            "methods": _methods_context(participant, offered, posted, errors),
            "combined": len(offered) > 1,
            "offers_card": any(m.code == CARD for m in offered),
            "errors": errors,
            "posted": posted,
            "failed_checkout": checkout,
            "failed_legs": legs_shown(checkout) if checkout and checkout.legs.count() > 1 else [],
            "last_success": shown.first_succeeded,
            "language": translation.get_language(),
            "other_language": other_languages(translation.get_language())[0],
            "exponent": currency_exponent(payment_request.currency),
            # Only the combined form's script asks balances: no URL to build for one method.
            "balance_url": (
                reverse("payer:balance", args=[participant.link_token]) if len(offered) > 1 else ""
            ),
            "left_to_pay": _left_to_pay(participant, offered, posted),
            "continue_url": (
                _action_url(waiting, translation.get_language())
                if can_pay and waiting is not None and _waiting_for_payer(waiting)
                else ""
            ),
        }
        return render(request, self.template_name, context, status=status)


def _plan_offer(participant, offered) -> "installment_selectors.PayerOffer | None":
    """The plan this payer may choose on their page: offered, fitting today, and payable by
    card here (``payer_installment_offer`` says when not)."""
    if not any(m.code == CARD for m in offered):
        return None
    return installment_selectors.payer_installment_offer(participant=participant)


def _plan_url(participant: Participant) -> str:
    return reverse("payer:installments", args=[participant.link_token]) + (
        f"?{LANGUAGE_PARAM}={_lang()}"
    )


def _offer_lines(offer) -> list[dict]:
    """The schedule as the payer reads it, before paying: what, when, how much, and the part
    of it that is the plan's fee."""
    lines = []
    for index, line in enumerate(offer.lines):
        is_deposit = offer.schedule.deposit is not None and index == 0
        number = index if offer.schedule.deposit is not None else index + 1
        fee = offer.schedule.fee_amount if index == (1 if offer.schedule.deposit else 0) else 0
        lines.append(
            {
                "label": _("Deposit")
                if is_deposit
                else _("Installment %(number)s") % {"number": number},
                "due_date": line.due_date,
                "amount": line.amount,
                "fee": fee,
                "now": index == 0,
            }
        )
    return lines


def _installment_state(item: Installment) -> str:
    states = {
        Installment.Status.SCHEDULED: pgettext("installment", "scheduled"),
        Installment.Status.PROCESSING: pgettext("installment", "being charged"),
        Installment.Status.PAID: pgettext("installment", "paid"),
        Installment.Status.FAILED: pgettext("installment", "failed, will be retried"),
        Installment.Status.DEFAULTED: pgettext("installment", "unpaid"),
        Installment.Status.CANCELLED: pgettext("installment", "cancelled"),
    }
    return states.get(item.status, item.status)


def _plan_lines(plan: InstallmentPlan) -> list[dict]:
    """A plan's installments for the payer: the label, date, amount, fee and state."""
    lines = []
    number = 0
    for item in plan.installments.all():
        if item.status == Installment.Status.CANCELLED and plan.status != "cancelled":
            continue  # replaced by a re-split: not part of what the payer owes
        if not item.is_deposit:
            number += 1
        lines.append(
            {
                "label": _("Deposit")
                if item.is_deposit
                else _("Installment %(number)s") % {"number": number},
                "due_date": item.due_date,
                "amount": item.amount,
                "fee": item.fee_amount,
                "state": _installment_state(item),
                "status": item.status,
            }
        )
    return lines


def _left_to_pay(participant, offered, posted) -> int | None:
    """What the amounts posted so far leave to pay (the page's "Left to pay" before any
    script runs); None when nothing is due up front (free amount, none typed yet)."""
    currency = participant.request.currency
    due = participant.amount_due
    if participant.amount is None:
        due, _message = _parse_amount(posted.get("amount", ""), currency)
    if due is None:
        return None
    ticked = posted.getlist("methods") if hasattr(posted, "getlist") else []
    given = 0
    for method in offered:
        if method.code in ticked:
            amount, _message = _parse_amount(posted.get(f"amount_{method.code}", ""), currency)
            given += amount or 0
    return due - given


def _methods_context(participant, offered, posted, errors) -> list[dict]:
    ticked = posted.getlist("methods") if hasattr(posted, "getlist") else []
    single = len(offered) == 1
    methods = []
    for method in offered:
        code = method.code
        methods.append(
            {
                "code": code,
                "label": method_label(code),
                "fields_template": method.fields_template,
                "has_balance": method.has_balance,
                "source_from_participant": method.source_from_participant,
                "checked": single or code in ticked,
                "amount_value": posted.get(f"amount_{code}", ""),
                "amount_error": errors.get(f"amount_{code}", ""),
                "source_field": _source_field(code),
                # A card token is single-use: never put it back into the form.
                "source_value": "" if code == CARD else posted.get(_source_field(code), ""),
                "source_error": errors.get(_source_key(code), ""),
                # The card's fields show their own error (the tokeniser writes there too).
                "shows_own_error": code == CARD,
                "held_balance": _held_balance(participant, method),
            }
        )
    return methods


def _held_balance(participant, method: PayerMethod) -> str:
    """What a payer found by their own email or phone holds there (a cashback wallet),
    formatted for the page; "" for methods whose payer types their details."""
    if not (method.source_from_participant and method.has_balance):
        return ""
    source = payment_selectors.payer_method_source(participant=participant, method=method)
    try:
        balance = payment_selectors.payment_source_balance(
            payment_request=participant.request, method=method.code, source=source
        )
    except (DomainError, ProviderError):
        return ""
    return format_money(balance, participant.request.currency, translation.get_language())


def _error_key(exc: DomainError, participant, choices: list[_Choice]) -> str:
    """Where on the page a refusal of the pay service is shown."""
    if exc.field == "legs":
        return "legs"
    if exc.field == "amount" and participant.amount is None and len(choices) == 1:
        return "amount"
    if exc.field == "source" and len(choices) == 1:
        return _source_key(choices[0].method.code)
    return "form"


def _answer_errors(refusals: list[InvalidInput]) -> dict[str, str]:
    """The page's keys for wrong answers (``answers:<field key>``); a refusal of the answers
    as a whole (not a dict, none expected) is shown at the top of the form."""
    errors = {}
    for refusal in refusals:
        field = refusal.field or ""
        if field.startswith("answers."):
            errors[f"answers:{field.removeprefix('answers.')}"] = refusal.localized
        else:
            errors.setdefault("form", refusal.localized)
    return errors


def _can_pay(participant: Participant) -> bool:
    """Whether the page offers to pay: not while the payer's share is already held, which
    would take it twice."""
    return (
        selectors.participant_can_pay(participant=participant)
        and payment_selectors.checkout_held(participant=participant) is None
    )


def _after_checkout(request, participant, checkout: Checkout, language: str) -> HttpResponse:
    token = participant.link_token
    if _waiting_for_payer(checkout):
        return redirect(_action_url(checkout, language))
    if checkout.status == Checkout.Status.REQUIRES_ACTION:
        # Back from the provider with no answer yet: the page shows where it stands.
        return redirect(reverse("payer:pay", args=[token]) + f"?{LANGUAGE_PARAM}={language}")
    if checkout.status == Checkout.Status.SUCCEEDED:
        return redirect(
            reverse("payer:receipt", args=[token, checkout.public_id])
            + f"?{LANGUAGE_PARAM}={language}"
        )
    if checkout.status == Checkout.Status.AUTHORISED:
        # on_completion: the hold is the payer's success; the money moves when the
        # collection completes, so this is no failure to retry.
        return redirect(
            reverse("payer:held", args=[token, checkout.public_id])
            + f"?{LANGUAGE_PARAM}={language}"
        )
    participant.refresh_from_db()
    view = PayerPageView()
    if checkout.status == Checkout.Status.PENDING:
        # The provider's answer was lost (a capture timed out): neither paid nor refused
        # yet. Recovery asks the provider; the amount stays reserved meanwhile.
        return view._render(
            request,
            participant,
            errors={
                "notice": _(
                    "Your payment is being confirmed with your bank. You will receive a "
                    "receipt once it is; there is no need to pay again."
                )
            },
            status=202,
        )
    message = checkout_failure_message(checkout)
    if checkout.installment and checkout.installment.startswith("in_"):
        # A refused first charge of a plan: back to the schedule the payer agreed to, with
        # the reason; the plan was cancelled, so paying again starts it afresh.
        return InstallmentPlanPayView()._render(
            request, participant, errors={"form": message}, status=402
        )
    view = PayerPageView()
    if checkout.status == Checkout.Status.REFUNDED:
        message = _("This request closed while you were paying; your payment was refunded.")
    # A refused card is no reason to make the payer type their answers (and amount) again:
    # they come from the form just posted, or, back from 3-D Secure, from the checkout.
    posted, answers = request.POST, None
    if request.method != "POST":
        posted, answers = _given_with(participant, checkout)
    return view._render(
        request,
        participant,
        errors={"form": message},
        status=402,
        checkout=checkout,
        posted=posted,
        answers=answers,
    )


def _given_with(participant, checkout: Checkout) -> tuple[dict, dict | None]:
    """The amount (in free mode) and the answers the payer gave for ``checkout``."""
    payment_request = participant.request
    posted = {}
    if participant.amount is None:
        exponent = currency_exponent(payment_request.currency)
        posted["amount"] = str(Decimal(checkout.amount).scaleb(-exponent))
    answers = None
    if checkout.form_submission:
        submission = submission_get(
            merchant=payment_request.merchant, public_id=checkout.form_submission
        )
        answers = submission.answers if submission else None
    return posted, answers


def _action_url(checkout: Checkout, language: str) -> str:
    """Where the payer authenticates (the leg waiting for them: 3-D Secure, PayPal), asked
    to speak the payer's language: a provider's page cannot know it otherwise, and a French
    payer must not meet an English bank check."""
    leg = next(
        leg
        for leg in checkout.legs.all()
        if leg.status == Leg.Status.REQUIRES_ACTION and leg.action_url
    )
    url = leg.action_url
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode({LANGUAGE_PARAM: language})}"


def _waiting_for_payer(checkout: Checkout) -> bool:
    return checkout.status == Checkout.Status.REQUIRES_ACTION and any(
        leg.status == Leg.Status.REQUIRES_ACTION and leg.action_url for leg in checkout.legs.all()
    )


ANSWER_PREFIX = "sf_"


def _posted_answers(request: HttpRequest, form_version) -> dict:
    """Read the smart form's inputs (prefixed so they never collide with ours)."""
    answers = {}
    for field in form_version.fields:
        name = ANSWER_PREFIX + field["key"]
        widget = FIELD_TYPES[field["type"]].widget
        if widget == "checkboxes":
            answers[field["key"]] = request.POST.getlist(name)
        elif widget == "checkbox":
            answers[field["key"]] = name in request.POST
        else:
            value = request.POST.get(name, "").strip()
            answers[field["key"]] = value or None
    return answers


def _payer_error(exc: DomainError) -> str:
    known = {
        "payment_in_progress": _("A payment for this share is already in progress."),
        "payment_not_expected": _("This payment is no longer expected."),
        "amount_above_due": _("The amount is more than what is due."),
        "amount_below_minimum": _("The amount is below the minimum."),
        "amount_above_maximum": _("The amount is above the maximum."),
        "amount_above_remaining": _("The amount is more than what remains to be collected."),
        "amount_not_positive": _("The amount must be greater than zero."),
        "source_required": _("Enter your card details."),
        "payment_method_unavailable": _("This payment method is not available."),
        "payment_method_not_allowed": _("This payment method is not available."),
        "unknown_payment_method": _("This payment method is not available."),
        "payment_held": _("Your payment is already held until the collection is complete."),
        "test_source_in_live_mode": _(
            "Test cards cannot pay this request. Nothing was charged; use a real card."
        ),
        "source_invalid": _("This card cannot be used for this payment. Nothing was charged."),
        "legs_do_not_sum": _(
            "The amounts must add up to exactly what is due. Nothing was charged."
        ),
        "legs_invalid": _("Choose how you pay."),
        "required": _("Enter the amount you pay with each method."),
        "duplicate_payment_method": _("Use each payment method once."),
        "too_many_methods": _("Too many payment methods for one payment."),
        "combination_not_allowed": _("These payment methods cannot be combined for this payment."),
        "leg_below_minimum": _("One of the amounts is below the minimum for a combined payment."),
        "unknown_beneficiary": _("No holiday-voucher account has this beneficiary number."),
        "invalid_beneficiary_number": _("A beneficiary number has 10 digits."),
        "no_balance": _("This payment method keeps no balance."),
        "request_expired": _("This payment request has expired."),
        "source_not_yours": _("Only the balance of your own email or phone can pay."),
        "plan_running": _("This share is being paid in installments; nothing more is due now."),
        "plan_already_running": _(
            "This share is being paid in installments; nothing more is due now."
        ),
        "pay_at_once_not_allowed": _("This share is paid in installments only."),
    }
    return known.get(exc.code, exc.localized)


def checkout_return(request: HttpRequest, token: str, checkout_id: str) -> HttpResponse:
    """The payer is back from 3-D Secure or PayPal: go on with the checkout, which may send
    them to the next leg's page (a card's 3-D Secure after PayPal)."""
    participant = _participant_or_404(token)
    checkout = payment_selectors.checkout_for_participant(
        participant=participant, public_id=checkout_id
    )
    if checkout is None:
        raise Http404("No such payment.")
    # The provider's answer is read server-side (the session and its payment at the
    # provider), never taken from this URL's query.
    checkout = payment_services.checkout_resume(checkout=checkout)
    language = checkout.language
    if request.GET.get(PROVIDER_CANCELLED_PARAM) and _waiting_for_payer(checkout):
        # The payer chose "back" on the provider's page (Stripe Checkout's cancel_url):
        # nothing is held, and sending them to that page again would trap them there.
        checkout = payment_services.checkout_abandon(checkout=checkout)
        query = {LANGUAGE_PARAM: language}
        if checkout.status == Checkout.Status.CANCELLED:
            query[CANCELLED_PARAM] = checkout.public_id
        return redirect(reverse("payer:pay", args=[token]) + f"?{urlencode(query)}")
    with translation.override(language):
        return _after_checkout(request, participant, checkout, language)


@require_POST
def checkout_cancel(request: HttpRequest, token: str, checkout_id: str) -> HttpResponse:
    """ "Cancel this payment" while a checkout waits for the payer: every hold is released."""
    participant = _participant_or_404(token)
    checkout = payment_selectors.checkout_for_participant(
        participant=participant, public_id=checkout_id
    )
    if checkout is None:
        raise Http404("No such payment.")
    language = _language(request, participant)
    checkout = payment_services.checkout_abandon(checkout=checkout)
    query = {LANGUAGE_PARAM: language}
    if checkout.status == Checkout.Status.CANCELLED:
        query[CANCELLED_PARAM] = checkout.public_id
    # Back to the page itself, so that paying again posts to it and a reload cancels nothing.
    return redirect(reverse("payer:pay", args=[token]) + f"?{urlencode(query)}")


def _json_error(status: int, code: str, message: str, field: str | None = None) -> JsonResponse:
    return JsonResponse(error_body(status, code, message, field), status=status)


@require_GET
def balance(request: HttpRequest, token: str) -> JsonResponse:
    """What the payer holds with a balance method ("Use my balance"), for their own link
    only. Each answer tells whether an account number exists, so a link gets a small budget
    of lookups (``PAYER_BALANCE_RATE_LIMIT``)."""
    participant = _participant_or_404(token)
    with translation.override(_language(request, participant)):
        retry_after = rate_exceeded(
            f"payer-balance:{participant.public_id}", settings.PAYER_BALANCE_RATE_LIMIT
        )
        if retry_after is not None:
            response = _json_error(
                429, "rate_limited", _("Too many tries. Please wait a minute and try again.")
            )
            response["Retry-After"] = str(retry_after)
            return response
        payment_request = participant.request
        method = request.GET.get("method", "")
        offered = {m.code: m for m in _offered(participant)}
        if method not in offered or not offered[method].has_balance:
            return _json_error(
                422,
                "payment_method_not_allowed",
                _("This payment method is not available."),
                "method",
            )
        source = request.GET.get("source", "")
        if offered[method].source_from_participant:
            source = payment_selectors.payer_method_source(
                participant=participant, method=offered[method]
            )
        if not source or len(source) > Leg._meta.get_field("source").max_length:
            return _json_error(422, "source_required", _source_missing(method), "source")
        try:
            available = payment_selectors.payment_source_balance(
                payment_request=payment_request, method=method, source=source
            )
        except DomainError as exc:
            return _json_error(422, exc.code, _payer_error(exc), "source")
        except ProviderError:
            return _json_error(
                503,
                "provider_error",
                _("%(method)s did not answer in time; please try again.")
                % {"method": method_label(method)},
            )
        due = participant.amount_due if participant.amount is not None else None
        usable = available if due is None else max(min(available, due), 0)
        currency = payment_request.currency
        return JsonResponse(
            {
                "method": method,
                "available": available,
                "usable": usable,
                "currency": currency,
                "formatted": format_money(available, currency, _lang()),
                "usable_formatted": format_money(usable, currency, _lang()),
            }
        )


def receipt(request: HttpRequest, token: str, checkout_id: str) -> HttpResponse:
    participant = _participant_or_404(token)
    checkout = payment_selectors.checkout_for_participant(
        participant=participant, public_id=checkout_id
    )
    if checkout is None or checkout.status != Checkout.Status.SUCCEEDED:
        raise Http404("No such receipt.")
    plan = installment_selectors.installment_plan_for_checkout(checkout=checkout)
    with translation.override(_language(request, participant)):
        return render(
            request,
            "requests_app/payer_receipt.html",
            {
                "participant": participant,
                "payment_request": participant.request,
                "merchant": participant.request.merchant,
                "checkout": checkout,
                "legs": _receipt_lines(checkout),
                "plan": plan,
                "plan_lines": _plan_lines(plan) if plan else [],
                "language": translation.get_language(),
            },
        )


def _receipt_lines(checkout: Checkout) -> list[dict]:
    """One line per leg that took money: the method, the card or account as the payer
    knows it (last four digits), and the amount."""
    lines = []
    for leg in payment_selectors.legs_paid(checkout=checkout):
        shown = payment_selectors.leg_description(leg) if leg.method == CARD else ""
        if leg.method != CARD and leg.source_last4:
            shown = f"•••• {leg.source_last4}"
        lines.append({"label": method_label(leg.method), "source": shown, "amount": leg.amount})
    return lines


def held(request: HttpRequest, token: str, checkout_id: str) -> HttpResponse:
    """The payer's share is held until the collection completes (capture on completion)."""
    participant = _participant_or_404(token)
    checkout = payment_selectors.checkout_for_participant(
        participant=participant, public_id=checkout_id
    )
    language = _language(request, participant)
    if checkout is not None and checkout.status == Checkout.Status.SUCCEEDED:
        # The collection completed since: what the payer holds now is a receipt.
        return redirect(
            reverse("payer:receipt", args=[token, checkout.public_id])
            + f"?{LANGUAGE_PARAM}={language}"
        )
    if checkout is None or checkout.status != Checkout.Status.AUTHORISED:
        raise Http404("No such payment.")
    with translation.override(language):
        return render(
            request,
            "requests_app/payer_held.html",
            {
                "participant": participant,
                "payment_request": participant.request,
                "merchant": participant.request.merchant,
                "checkout": checkout,
                "leg": checkout.legs.all()[0],
                "language": translation.get_language(),
            },
        )


def public_progress(request: HttpRequest, token: str) -> HttpResponse:
    """A collection's progress for everyone with the link, when the merchant turned it on.

    Shows only names of participants who agreed to it, never contact details or amounts
    per person.
    """
    payment_request = selectors.payment_request_by_progress_token(token=token)
    if payment_request is None or not payment_request.public_progress:
        raise Http404("No such page.")
    participants = list(payment_request.participants.all())
    with translation.override(_chosen_language(request, payment_request.language)):
        return render(
            request,
            "requests_app/public_progress.html",
            {
                "payment_request": payment_request,
                "merchant": payment_request.merchant,
                "shown": [p for p in participants if p.show_name],
                "paid_count": sum(p.status == Participant.Status.PAID for p in participants),
                "participant_count": sum(
                    p.status != Participant.Status.CANCELLED for p in participants
                ),
                "percent": payment_request.collected_percent,
                "language": translation.get_language(),
            },
        )


PLAN_FINGERPRINT = "schedule"


class InstallmentPlanPayView(View):
    """Paying in installments: the exact schedule first (every date and amount, the deposit
    and the fee, in the payer's language and the merchant's time zone), then the card, and
    the first charge taken at once by ``installment_plan_start``. The payer agrees to the
    schedule they saw: if it changed since (a new day moves the dates), they see the new
    one before anything is charged."""

    template_name = "requests_app/payer_installments.html"

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        participant = _participant_or_404(token)
        with translation.override(_language(request, participant)):
            return self._render(request, participant)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        participant = _participant_or_404(token)
        language = _language(request, participant)
        with translation.override(language):
            offer = self._offer(participant)
            if offer is None:
                return self._render(request, participant, status=409)
            if request.POST.get(PLAN_FINGERPRINT, "") != offer.fingerprint():
                return self._render(
                    request,
                    participant,
                    errors={"form": _("The schedule has changed; please check it again.")},
                    status=409,
                )
            source = card_source(request, participant)
            if not source:
                return self._render(
                    request, participant, errors={"card": _source_missing(CARD)}, status=422
                )
            last_charge = offer.lines[-1].due_date
            if request.POST.get(KEEP_CARD_FIELD) != source and (
                installment_selectors.card_expires_before(
                    merchant=participant.request.merchant,
                    livemode=participant.livemode,
                    source=source,
                    day=last_charge,
                )
            ):
                # Flagged before anything is charged: another card, or this one knowingly
                # (a charge it can no longer pay then takes the failure path).
                return self._render(request, participant, expiring_source=source)
            try:
                plan = installment_services.installment_plan_start(
                    participant=participant,
                    source=source,
                    language=language,
                    return_url=lambda co: request.build_absolute_uri(
                        reverse("payer:checkout_return", args=[token, co.public_id])
                    ),
                    **offer.offer.plan_settings(),
                )
            except DomainError as exc:
                key = "card" if exc.field == "source" else "form"
                return self._render(
                    request,
                    participant,
                    errors={key: _payer_error(exc)},
                    status=409 if exc.http_status == 409 else 422,
                )
            first = plan.installments.order_by("position").first()
            checkout = (
                payment_selectors.checkout_for_installment(
                    participant=participant, installment=first.public_id
                )
                if first
                else None
            )
            if checkout is None:  # refused before any checkout existed
                return self._render(
                    request,
                    participant,
                    errors={"form": failure_message("declined")},
                    status=402,
                )
            return _after_checkout(request, participant, checkout, language)

    @staticmethod
    def _offer(participant: Participant):
        if not _can_pay(participant) or installment_selectors.participant_on_running_plan(
            participant_id=participant.pk
        ):
            return None
        return _plan_offer(participant, _offered(participant))

    def _render(
        self, request, participant, *, errors=None, status=200, expiring_source: str = ""
    ) -> HttpResponse:
        payment_request = participant.request
        offer = self._offer(participant)
        if offer is None and not errors and request.method == "GET":
            # Nothing to choose here (paid, plan running, no offer): the payer's page says why.
            return redirect(
                reverse("payer:pay", args=[participant.link_token]) + f"?{LANGUAGE_PARAM}={_lang()}"
            )
        card = next((m for m in _offered(participant) if m.code == CARD), None)
        context = {
            "participant": participant,
            "payment_request": payment_request,
            "merchant": payment_request.merchant,
            "offer": offer,
            "lines": _offer_lines(offer) if offer else [],
            "fingerprint": offer.fingerprint() if offer else "",
            "card_template": card.fields_template if card else "",
            "pay_at_once": offer is not None and offer.offer.pay_at_once_allowed,
            "errors": errors or {},
            "language": translation.get_language(),
            "other_language": other_languages(translation.get_language())[0],
            "time_zone": payment_request.merchant.time_zone,
            "expiring_source": expiring_source,
            "keep_card_field": KEEP_CARD_FIELD,
        }
        return render(request, self.template_name, context, status=status)
