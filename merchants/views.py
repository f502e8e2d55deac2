"""Back-office pages for the merchant itself: its API keys and its settings.

Thin: reads through ``merchants.selectors`` for the session's merchant (and mode, for keys),
changes through ``merchants.services``. Every member may read; creating and revoking keys
needs ``api_keys.manage`` (owners), changing the settings ``branding.manage`` (admins and
owners), as in the roles table of docs/operations.md.
"""

import zoneinfo
from functools import cache
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from pushpay.errors import DomainError
from pushpay.i18n import LANGUAGES
from pushpay.money import active_currencies
from pushpay.tenancy import MerchantViewMixin, can, require

from . import selectors, services
from .models import ApiKey, Merchant

# The secret of the key just created, for the next page only: read once, then deleted.
SECRET_SESSION_KEY = "api_key_secret_once"


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=ApiKey._meta.get_field("name").max_length,
        strip=True,
        help_text=gettext_lazy("What uses this key, such as “shop server”."),
    )


class ApiKeyListView(MerchantViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        keys = selectors.api_key_list(merchant=request.merchant, livemode=request.livemode)
        created = None
        shown = request.session.pop(SECRET_SESSION_KEY, None)
        if isinstance(shown, list) and len(shown) == 2:
            key = keys.filter(public_id=shown[0]).first()
            created = (key, shown[1]) if key is not None else None
        return render(
            request,
            "merchants/api_key_list.html",
            {
                "keys": keys.select_related("created_by"),
                "created": created,
                "can_manage": can(request.membership, "api_keys.manage"),
                "form": ApiKeyForm(),
            },
        )


class ApiKeyCreateView(MerchantViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        require(request, "api_keys.manage")
        return self._render(ApiKeyForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, "api_keys.manage")
        form = ApiKeyForm(request.POST)
        if form.is_valid():
            try:
                created = services.api_key_create(
                    merchant=request.merchant,
                    name=form.cleaned_data["name"],
                    # The key is made for the mode the operator is looking at, never the other.
                    mode=ApiKey.Mode.LIVE if request.livemode else ApiKey.Mode.TEST,
                    created_by=request.user,
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                request.session[SECRET_SESSION_KEY] = [created.api_key.public_id, created.secret]
                messages.success(request, _("API key created."))
                return redirect("merchants:api_key_list")
        return self._render(form, status=422)

    def _render(self, form: ApiKeyForm, status: int = 200) -> HttpResponse:
        return render(self.request, "merchants/api_key_form.html", {"form": form}, status=status)


class ApiKeyRevokeView(MerchantViewMixin, View):
    """GET asks for confirmation, POST revokes: an integration stops at once."""

    def _key_or_404(self, public_id: str) -> ApiKey:
        key = selectors.api_key_get(
            merchant=self.request.merchant, livemode=self.request.livemode, public_id=public_id
        )
        if key is None:
            raise Http404("No such API key.")
        return key

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "api_keys.manage")
        key = self._key_or_404(public_id)
        if not key.is_active:
            return redirect("merchants:api_key_list")
        return render(
            request,
            "merchants/confirm.html",
            {
                "title": _("Revoke the key %(name)s?") % {"name": key.name},
                "explanation": _(
                    "Every call made with this key (%(prefix)s…) is refused from now on. "
                    "This cannot be undone."
                )
                % {"prefix": key.prefix},
                "action": reverse("merchants:api_key_revoke", args=[key.public_id]),
                "button": _("Revoke"),
                "back": reverse("merchants:api_key_list"),
                "danger": True,
            },
        )

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        require(request, "api_keys.manage")
        key = services.api_key_revoke(api_key=self._key_or_404(public_id))
        messages.success(request, _("API key %(name)s revoked.") % {"name": key.name})
        return redirect("merchants:api_key_list")


# --- Settings -------------------------------------------------------------------------------


@cache
def _zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


def _currency_choices() -> list[tuple[str, str]]:
    return [(code, code) for code in sorted(active_currencies())]


class MerchantSettingsForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200, strip=True)
    brand_color = forms.RegexField(
        label=gettext_lazy("Brand colour"),
        regex=r"^#[0-9a-fA-F]{6}$",
        error_messages={"invalid": gettext_lazy("Use a colour such as #0d6efd.")},
        widget=forms.TextInput(attrs={"type": "color"}),
    )
    contact_email = forms.EmailField(
        label=gettext_lazy("Contact email"),
        required=False,
        help_text=gettext_lazy("Shown to payers who need help."),
    )
    sender_name = forms.CharField(
        label=gettext_lazy("Sender name"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("The name payers see as the sender of your emails."),
    )
    reply_to_email = forms.EmailField(
        label=gettext_lazy("Reply-to address"),
        required=False,
        help_text=gettext_lazy("Where payers' replies go; the contact email when empty."),
    )
    default_language = forms.ChoiceField(label=gettext_lazy("Default language"), choices=LANGUAGES)
    time_zone = forms.ChoiceField(label=gettext_lazy("Time zone"), choices=_zone_choices)
    default_currency = forms.ChoiceField(
        label=gettext_lazy("Default currency"), choices=_currency_choices
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            css = "form-select" if isinstance(field, forms.ChoiceField) else "form-control"
            if name == "brand_color":
                css = "form-control form-control-color"
            if self.is_bound and self.errors.get(name):
                css += " is-invalid"
            field.widget.attrs.setdefault("class", css)


SETTINGS_FIELDS = tuple(MerchantSettingsForm.base_fields)


class MerchantSettingsView(MerchantViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        merchant: Merchant = request.merchant
        form = MerchantSettingsForm(
            initial={name: getattr(merchant, name) for name in SETTINGS_FIELDS}
        )
        return self._render(form)

    def post(self, request: HttpRequest) -> HttpResponse:
        require(request, "branding.manage")
        form = MerchantSettingsForm(request.POST)
        if form.is_valid():
            try:
                services.merchant_update(merchant=request.merchant, **form.cleaned_data)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, _("Settings saved."))
                return redirect("merchants:settings")
        return self._render(form, status=422)

    def _render(self, form: MerchantSettingsForm, status: int = 200) -> HttpResponse:
        can_edit = can(self.request.membership, "branding.manage")
        if not can_edit:
            for field in form.fields.values():
                field.disabled = True
        return render(
            self.request,
            "merchants/settings.html",
            {"form": form, "can_edit": can_edit},
            status=status,
        )
