"""The sandbox PayPal's approval page: what PayPal's approval link shows the payer.

It stands for a page on PayPal's domain; the product's views only ever send the payer here
and read the outcome back through the adapter.
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from pushpay.i18n import language_or_default
from pushpay.money import format_money

from . import paypal, paypal_selectors
from .paypal_models import SandboxPayPalOrder
from .views import _with_reference

Status = SandboxPayPalOrder.Status


@require_http_methods(["GET", "POST"])
def approve(request: HttpRequest, public_id: str) -> HttpResponse:
    """Approve or Cancel, then back to the merchant's ``return_url`` with the order id.

    A normal Django form with a CSRF token: it acts on the payer's behalf, so another site
    must not be able to post an approval for them.
    """
    order = paypal_selectors.sandbox_paypal_approval_get(public_id=public_id)
    if order is None:
        raise Http404("No such PayPal order.")
    # The merchant's page passes the payer's language as ``lang``, as one passes ``locale``
    # to PayPal; an unknown value falls back to what the browser asks for.
    language = language_or_default(request.GET.get("lang"), translation.get_language())
    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision not in ("approve", "cancel"):
            with translation.override(language):
                message = _("Choose Approve or Cancel.")
            return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
        order = paypal.sandbox_paypal_order_decide(
            public_id=public_id, approve=decision == "approve"
        )
        if order.return_url:
            # The order id only, never the outcome: the merchant must ask PayPal (``retrieve``),
            # as a URL can be forged.
            return redirect(_with_reference(order.return_url, order.public_id))
    with translation.override(language):
        context = {
            "order": order,
            "amount": format_money(order.amount, order.currency, language),
            "pending": order.status == Status.CREATED,
            "status_label": _status_label(order.status),
        }
        return render(request, "payments/sandbox_paypal.html", context)


def _status_label(status: str) -> str:
    labels = {
        Status.CREATED: _("waiting for you"),
        Status.APPROVED: _("approved"),
        Status.COMPLETED: _("approved"),
        Status.CAPTURED: _("approved"),
        Status.REFUNDED: _("refunded"),
        Status.VOIDED: _("cancelled"),
        Status.PAYER_CANCELLED: _("cancelled"),
        Status.DENIED: _("refused"),
    }
    return labels.get(status, status)
