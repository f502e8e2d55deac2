"""The sandbox acquirer's own HTTP surface: card tokenisation and the 3-D Secure page.

Both stand for pages and endpoints that live on the provider's domain in real life; the
product's views never see card data, only the token these hand out.
"""

from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pushpay.api.errors import ApiError
from pushpay.api.fields import StrictSerializer
from pushpay.i18n import language_or_default
from pushpay.money import format_money

from . import selectors, services, vouchers


class StrictIntegerField(serializers.Field):
    """A JSON integer only: "12" or 12.0 for a month is a client bug worth a clear error."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError("Expected a JSON integer.", code="invalid_integer")
        return data

    def to_representation(self, value):
        return value


class TokenRequestSerializer(StrictSerializer):
    # Only shapes are checked here; Luhn, expiry and CVC rules live in the service.
    number = serializers.CharField(max_length=30, trim_whitespace=True)
    exp_month = StrictIntegerField()
    exp_year = StrictIntegerField()
    cvc = serializers.CharField(max_length=4, trim_whitespace=True)


@extend_schema(exclude=True)  # the sandbox stands for a provider: not part of our API
class TokenCreateView(APIView):
    """POST /sandbox/tokens: card details in, ``tok_…`` out.

    No authentication, hence no CSRF check either: DRF only enforces CSRF for session
    authentication, and this view uses none. That is deliberate, not an oversight. CSRF
    protects actions taken with a victim's cookies; this endpoint reads no cookie, acts for
    nobody, and only turns card details the caller already has into a token, exactly as a
    PSP's public tokenisation endpoint does when called cross-origin from a payer page.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    # The default throttle is per API key; a sandbox tokeniser needs none.
    throttle_classes: list = []

    @method_decorator(sensitive_variables("request", "serializer"))
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        card = services.sandbox_card_tokenise(**serializer.validated_data)
        body = {
            "token": card.token,
            "brand": card.brand,
            "last4": card.last4,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
        }
        return Response(body, status=status.HTTP_201_CREATED)


@require_http_methods(["GET", "POST"])
def challenge(request: HttpRequest, public_id: str) -> HttpResponse:
    """The payer's 3-D Secure page: Approve or Refuse, then back to the merchant.

    A normal Django form with a CSRF token: unlike tokenisation, this acts on the payer's
    behalf, so another site must not be able to post an approval for them.
    """
    authorisation = selectors.sandbox_challenge_get(public_id=public_id)
    if authorisation is None:
        raise Http404("No such 3-D Secure challenge.")
    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision not in ("approve", "refuse"):
            return HttpResponse("Choose Approve or Refuse.", status=400, content_type="text/plain")
        authorisation = services.sandbox_challenge_decide(
            public_id=public_id, approve=decision == "approve"
        )
        if authorisation.return_url:
            return redirect(_with_reference(authorisation.return_url, authorisation.public_id))
    # The merchant's page passes the payer's language as ``lang``, as one would to a real
    # acquirer's page; an unknown value falls back to what the browser asks for.
    language = language_or_default(request.GET.get("lang"), translation.get_language())
    with translation.override(language):
        context = {
            "authorisation": authorisation,
            "amount": format_money(authorisation.amount, authorisation.currency, language),
            "pending": authorisation.status == authorisation.Status.REQUIRES_ACTION,
            "status_label": _status_label(authorisation.status),
        }
        return render(request, "payments/sandbox_3ds.html", context)


def _status_label(status: str) -> str:
    labels = {
        "requires_action": _("waiting for you"),
        "authorised": _("approved"),
        "captured": _("approved"),
        "refunded": _("refunded"),
        "cancelled": _("cancelled"),
        "failed": _("refused"),
    }
    return labels.get(status, status)


def _with_reference(url: str, reference: str) -> str:
    # Like real acquirers, tell the merchant which authorisation came back, never its
    # outcome: the merchant must ask the acquirer (``retrieve``), as a URL can be forged.
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode({'reference': reference})}"


@extend_schema(exclude=True)  # the sandbox stands for a provider: not part of our API
class VoucherBalanceView(APIView):
    """GET /sandbox/holiday-vouchers/{number}: a test beneficiary's account, as the
    merchant's test key sees it (balances are kept per merchant and mode)."""

    def get(self, request: Request, number: str) -> Response:
        if request.auth.livemode:  # the sandbox's books belong to test mode
            raise ApiError(
                "The holiday-voucher sandbox only answers test-mode keys (sk_test_…).",
                code="sandbox_test_mode_only",
                status_code=403,
            )
        balance = vouchers.voucher_balance(
            merchant=request.auth.merchant, number=number, livemode=False
        )
        return Response(
            {
                "number": balance.number,
                "available": balance.available,
                "held": balance.held,
                "spent": balance.spent,
                "currency": balance.currency,
                "livemode": False,
            }
        )
