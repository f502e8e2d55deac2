"""Back office: the merchant's own Stripe account, per mode (owners only).

Thin: the form reads what the owner typed and the credential services do the rest. Secrets
are never put back into the page: only their last four characters are shown.
"""

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views import View

from pushpay.errors import DomainError
from pushpay.tenancy import MerchantViewMixin, require

from . import selectors
from .services import credentials as credential_services

STRIPE = "stripe"


class StripeCredentialsForm(forms.Form):
    secret_key = forms.CharField(
        label=_("Secret key"),
        max_length=255,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    webhook_secret = forms.CharField(
        label=_("Webhook signing secret"),
        max_length=255,
        required=False,
        help_text=_("whsec_…; leave empty to keep the one stored."),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )


class StripeCredentialsView(MerchantViewMixin, View):
    template_name = "payments/providercredential_form.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        require(request, "credentials.manage")
        return self._render(request, StripeCredentialsForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, "credentials.manage")
        action = request.POST.get("action", "save")
        merchant, livemode = request.merchant, request.livemode
        form = StripeCredentialsForm(request.POST if action == "save" else None)
        try:
            if action == "save":
                if not form.is_valid():
                    return self._render(request, form, status=422)
                secret = form.cleaned_data["webhook_secret"]
                credential_services.provider_credentials_save(
                    merchant=merchant,
                    livemode=livemode,
                    provider=STRIPE,
                    secret_key=form.cleaned_data["secret_key"],
                    webhook_secret=secret or None,
                )
            elif action == "test":
                credential_services.provider_credentials_test(
                    merchant=merchant, livemode=livemode, provider=STRIPE
                )
            elif action == "delete":
                credential_services.provider_credentials_delete(
                    merchant=merchant, livemode=livemode, provider=STRIPE
                )
            else:
                return self._render(request, form, error=_("Unknown action."), status=422)
        except DomainError as exc:
            status = 409 if exc.http_status == 409 else 422
            if exc.field in ("secret_key", "webhook_secret") and form.is_bound:
                form.add_error(exc.field, exc.localized)
                return self._render(request, form, status=status)
            return self._render(request, form, error=exc.localized, status=status)
        return redirect(reverse("providers:stripe") + f"?done={action}")

    def _render(self, request, form, *, error: str = "", status: int = 200) -> HttpResponse:
        credential = selectors.provider_credential_get(
            merchant=request.merchant, livemode=request.livemode, provider=STRIPE
        )
        webhook_url = ""
        if credential is not None:
            path = reverse("stripe_webhook", args=[credential.webhook_id])
            webhook_url = f"{settings.PUBLIC_BASE_URL}{path}"
        context = {
            "form": form,
            "credential": credential,
            "webhook_url": webhook_url,
            "error": error,
            "done": request.GET.get("done", "")[:10],
            "livemode": request.livemode,
        }
        return render(request, self.template_name, context, status=status)
