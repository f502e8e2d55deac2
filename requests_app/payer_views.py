"""Payer pages: what someone who clicked their payment link sees. No login: the link's
unguessable token is the credential, and it only ever shows that one participant's share."""

from decimal import Decimal
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views import View

from payments import selectors as payment_selectors
from payments import services as payment_services
from payments.models import Checkout
from payments.registry import payment_method_get
from pushpay.errors import DomainError, InvalidFields, InvalidInput
from pushpay.i18n import language_or_default, other_languages
from pushpay.money import AmountSyntaxError, currency_exponent, parse_major_amount
from smartforms.fieldtypes import FIELD_TYPES
from smartforms.rendering import form_version_render
from smartforms.selectors import submission_get

from . import selectors
from .models import Participant

LANGUAGE_PARAM = "lang"
# The page's only form is the card form: a POST that names no method pays by card.
DEFAULT_METHOD = "card"


def failure_message(reason: str) -> str:
    messages = {
        "declined": _("Your bank declined the payment. Nothing was charged."),
        "insufficient_funds": _("The card has insufficient funds. Nothing was charged."),
        "authentication_failed": _(
            "The security check (3-D Secure) was not completed. Nothing was charged."
        ),
        "fraud": _("The payment was refused for security reasons. Nothing was charged."),
        "not_accepted": _("This card cannot be used for this payment. Nothing was charged."),
        "provider_error": _(
            "The bank did not answer in time. Nothing was charged; please try again."
        ),
    }
    return messages.get(reason, _("The payment did not go through. Nothing was charged."))


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


class PayerPageView(View):
    template_name = "requests_app/payer_page.html"

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        participant = _participant_or_404(token)
        with translation.override(_language(request, participant)):
            return self._render(request, participant)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        participant = _participant_or_404(token)
        language = _language(request, participant)
        with translation.override(language):
            if not _can_pay(participant):
                return self._render(request, participant)
            errors: dict[str, str] = {}
            amount = None
            if participant.amount is None:
                try:
                    amount = parse_major_amount(
                        request.POST.get("amount", ""), participant.request.currency
                    )
                except AmountSyntaxError:
                    errors["amount"] = _("Enter an amount such as 25 or 25.50.")
                else:
                    if amount == 0:
                        errors["amount"] = _("The amount must be greater than zero.")
            token_value = request.POST.get("card_token", "")
            if not token_value:
                errors["card"] = _("Enter your card details.")
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
                        {
                            "method": request.POST.get("method") or DEFAULT_METHOD,
                            "source": token_value,
                            "amount": amount,
                        }
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
                field = "amount" if exc.field == "amount" else "form"
                return self._render(
                    request,
                    participant,
                    errors={field: _payer_error(exc)},
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
    ) -> HttpResponse:
        payment_request = participant.request
        errors = errors or {}
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
        held = payment_selectors.checkout_held(participant=participant)
        context = {
            "form_fields": form_fields,
            "participant": participant,
            "payment_request": payment_request,
            "merchant": payment_request.merchant,
            "can_pay": selectors.participant_can_pay(participant=participant) and held is None,
            "held_checkout": held,
            "card_fields_template": _card_fields_template(payment_request),
            "errors": errors,
            "posted": posted or {},
            "failed_checkout": checkout,
            "last_success": payment_selectors.checkout_last_succeeded(participant=participant),
            "language": translation.get_language(),
            "other_language": other_languages(translation.get_language())[0],
        }
        return render(request, self.template_name, context, status=status)


def _answer_errors(refusals: list[InvalidInput]) -> dict[str, str]:
    """The page's keys for wrong answers (``answers:<field key>``); a refusal of the answers
    as a whole (not a dict, none expected) is shown at the top of the form."""
    errors = {}
    for refusal in refusals:
        field = refusal.field or ""
        if field.startswith("answers."):
            errors[f"answers:{field.removeprefix('answers.')}"] = refusal.message
        else:
            errors.setdefault("form", refusal.message)
    return errors


def _can_pay(participant: Participant) -> bool:
    """Whether the page offers to pay: not while the payer's share is already held, which
    would take it twice."""
    return (
        selectors.participant_can_pay(participant=participant)
        and payment_selectors.checkout_held(participant=participant) is None
    )


def _card_fields_template(payment_request) -> str:
    """The card fields of the adapter serving this request's mode, or "" when cards are not
    available (a live request with no live card provider): the page then offers no form, and
    a live page never loads a sandbox's tokeniser."""
    if "card" not in payment_selectors.payment_methods_for_request(payment_request=payment_request):
        return ""
    adapter_class = payment_method_get("card").adapter_class_for(livemode=payment_request.livemode)
    return adapter_class.payer_fields_template if adapter_class else ""


def _after_checkout(request, participant, checkout: Checkout, language: str) -> HttpResponse:
    token = participant.link_token
    if checkout.status == Checkout.Status.REQUIRES_ACTION:
        return redirect(_action_url(checkout, language))
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
    message = failure_message(checkout.failure_reason)
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
    """Where the payer authenticates, asked to speak the payer's language: a provider's page
    cannot know it otherwise, and a French payer must not meet an English bank check."""
    url = checkout.legs.get().action_url
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode({LANGUAGE_PARAM: language})}"


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
    }
    return known.get(exc.code, exc.message)


def checkout_return(request: HttpRequest, token: str, checkout_id: str) -> HttpResponse:
    """The payer is back from 3-D Secure."""
    participant = _participant_or_404(token)
    checkout = payment_selectors.checkout_for_participant(
        participant=participant, public_id=checkout_id
    )
    if checkout is None:
        raise Http404("No such payment.")
    checkout = payment_services.checkout_resume(checkout=checkout)
    language = checkout.language
    with translation.override(language):
        if checkout.status == Checkout.Status.REQUIRES_ACTION:
            return redirect(_action_url(checkout, language))
        return _after_checkout(request, participant, checkout, language)


def receipt(request: HttpRequest, token: str, checkout_id: str) -> HttpResponse:
    participant = _participant_or_404(token)
    checkout = payment_selectors.checkout_for_participant(
        participant=participant, public_id=checkout_id
    )
    if checkout is None or checkout.status != Checkout.Status.SUCCEEDED:
        raise Http404("No such receipt.")
    with translation.override(_language(request, participant)):
        return render(
            request,
            "requests_app/payer_receipt.html",
            {
                "participant": participant,
                "payment_request": participant.request,
                "merchant": participant.request.merchant,
                "checkout": checkout,
                "leg": checkout.legs.first(),
                "language": translation.get_language(),
            },
        )


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
