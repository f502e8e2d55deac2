"""Back office: the merchant's own accounts at real providers (Stripe, PayPal), per mode
(owners only).

Thin: the form reads what the owner typed and the credential services do the rest. Secrets
are never put back into the page: only their last four characters are shown. One view serves
every provider; each provider names its form, its labels and its webhook route.
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


def _secret(label, **kwargs) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=255,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        **kwargs,
    )


class StripeCredentialsForm(forms.Form):
    secret_key = _secret(_("Secret key"))
    webhook_secret = _secret(
        _("Webhook signing secret"),
        required=False,
        help_text=_("whsec_…; leave empty to keep the one stored."),
    )


class PayPalCredentialsForm(forms.Form):
    client_id = _secret(_("Client ID"))
    secret_key = _secret(_("Client secret"))
    webhook_secret = forms.CharField(
        label=_("Webhook ID"),
        max_length=64,
        required=False,
        help_text=_("As PayPal shows it for the webhook; leave empty to keep the one stored."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class ProviderCredentialsView(MerchantViewMixin, View):
    """Save, test the connection, remove: the same three actions for every provider."""

    template_name = "payments/providercredential_form.html"
    provider: str = ""
    form_class: type[forms.Form] = forms.Form
    url_name: str = ""
    webhook_url_name: str = ""
    title = ""
    intro = ""
    tested = ""
    webhook_label = ""

    def get(self, request: HttpRequest) -> HttpResponse:
        require(request, "credentials.manage")
        return self._render(request, self.form_class())

    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, "credentials.manage")
        action = request.POST.get("action", "save")
        merchant, livemode = request.merchant, request.livemode
        form = self.form_class(request.POST if action == "save" else None)
        try:
            if action == "save":
                if not form.is_valid():
                    return self._render(request, form, status=422)
                data = form.cleaned_data
                extra = {"client_id": data["client_id"]} if "client_id" in data else {}
                credential_services.provider_credentials_save(
                    merchant=merchant,
                    livemode=livemode,
                    provider=self.provider,
                    secret_key=data["secret_key"],
                    webhook_secret=data["webhook_secret"] or None,
                    **extra,
                )
            elif action == "test":
                credential_services.provider_credentials_test(
                    merchant=merchant, livemode=livemode, provider=self.provider
                )
            elif action == "delete":
                credential_services.provider_credentials_delete(
                    merchant=merchant, livemode=livemode, provider=self.provider
                )
            else:
                return self._render(request, form, error=_("Unknown action."), status=422)
        except DomainError as exc:
            status = 409 if exc.http_status == 409 else 422
            if exc.field in form.fields and form.is_bound:
                form.add_error(exc.field, exc.localized)
                return self._render(request, form, status=status)
            return self._render(request, form, error=exc.localized, status=status)
        return redirect(reverse(self.url_name) + f"?done={action}")

    def _render(self, request, form, *, error: str = "", status: int = 200) -> HttpResponse:
        credential = selectors.provider_credential_get(
            merchant=request.merchant, livemode=request.livemode, provider=self.provider
        )
        webhook_url = ""
        if credential is not None:
            path = reverse(self.webhook_url_name, args=[credential.webhook_id])
            webhook_url = f"{settings.PUBLIC_BASE_URL}{path}"
        context = {
            "form": form,
            "credential": credential,
            "stored": self.stored(credential) if credential is not None else [],
            "webhook_url": webhook_url,
            "error": error,
            "done": request.GET.get("done", "")[:10],
            "livemode": request.livemode,
            "title": self.title,
            "intro": self.intro,
            "tested": self.tested,
        }
        return render(request, self.template_name, context, status=status)

    def stored(self, credential) -> list[tuple[str, str]]:
        """(label, what is shown of it): never more than the last four characters."""
        return []


def _last4(value: str, missing) -> str:
    return f"•••• {value}" if value else str(missing)


class StripeCredentialsView(ProviderCredentialsView):
    provider = "stripe"
    form_class = StripeCredentialsForm
    url_name = "providers:stripe"
    webhook_url_name = "stripe_webhook"
    title = _("Stripe account")
    intro = _(
        "Cards are paid on Stripe's own page, with your Stripe account. Enter the secret key "
        "of this mode; it is stored encrypted and never shown again."
    )
    tested = _("Stripe accepted the key.")

    def stored(self, credential) -> list[tuple[str, str]]:
        return [
            (_("Secret key"), _last4(credential.secret_key_last4, "")),
            (
                _("Webhook signing secret"),
                _last4(credential.webhook_secret_last4, _("none: webhooks are refused")),
            ),
        ]


class PayPalCredentialsView(ProviderCredentialsView):
    provider = "paypal"
    form_class = PayPalCredentialsForm
    url_name = "providers:paypal"
    webhook_url_name = "paypal_webhook"
    title = _("PayPal account")
    intro = _(
        "Payers approve PayPal payments on PayPal's own page, with your PayPal app. Enter the "
        "client ID and secret of this mode (a sandbox app in test mode, a live app in live "
        "mode); they are stored encrypted and never shown again."
    )
    tested = _("PayPal accepted the client ID and secret.")

    def stored(self, credential) -> list[tuple[str, str]]:
        return [
            (_("Client ID"), _last4(credential.client_id_last4, "")),
            (_("Client secret"), _last4(credential.secret_key_last4, "")),
            (
                _("Webhook ID"),
                _last4(credential.webhook_secret_last4, _("none: webhooks are refused")),
            ),
        ]
