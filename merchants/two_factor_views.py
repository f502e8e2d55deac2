"""Two-factor login pages: the operator's own security page under /app/account/security/
(turn the authenticator on with a QR code, see the recovery codes once, make new ones, turn
it off) and the code step after the password, /accounts/two-factor/.

Thin: django-otp's devices are changed through ``merchants.services`` only. Every page
here concerns the logged-in user alone, never another member, whatever their role.
"""

import base64
import io

import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_static.models import StaticDevice

from pushpay.errors import DomainError
from pushpay.tenancy import MerchantViewMixin

from . import services
from .middleware import PENDING_SESSION_KEY

# The recovery codes just made, for the next page only: read once, then deleted.
CODES_SESSION_KEY = "recovery_codes_once"


class CodeForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=64,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "text",
                "autocapitalize": "none",
                "spellcheck": "false",
                "class": "form-control",
            }
        ),
    )


class PasswordAndCodeForm(CodeForm):
    password = forms.CharField(
        label=gettext_lazy("Password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "current-password", "class": "form-control"}
        ),
    )
    field_order = ["password", "token"]


class PasswordForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "current-password", "class": "form-control"}
        ),
    )


def _qr_svg_data_uri(text: str) -> str:
    """The setup link as an SVG QR code, drawn here: the secret never leaves the server for
    an image service. A data: URI, which the Content-Security-Policy allows for images."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _text_key(device) -> str:
    """The secret in base32, in groups of four, for typing into an app without a camera."""
    raw = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _locked_message(retry_after: int) -> str:
    minutes = max(1, (retry_after + 59) // 60)
    return _("Too many wrong codes: try again in %(minutes)d minutes.") % {"minutes": minutes}


def _code_error(exc: Exception) -> str:
    if isinstance(exc, services.TwoFactorLocked):
        return _locked_message(exc.retry_after)
    if isinstance(exc, DomainError) and exc.code == "wrong_password":
        return _("The password is not correct.")
    if isinstance(exc, DomainError) and exc.code == "no_pending_device":
        return _("Start the setup again: no authenticator is waiting.")
    return _("This code is not valid. Check your authenticator's clock and try again.")


class SecurityView(MerchantViewMixin, View):
    """Open even where the merchant requires two-factor and the operator has none yet: this
    is where they are sent to set it up."""

    two_factor_setup_page = True

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_page()

    def render_page(self, *, confirm_form=None, disable_form=None, codes_form=None, status=200):
        user = self.request.user
        enabled = services.two_factor_enabled(user=user)
        pending = None if enabled else services.totp_device_pending(user=user)
        new_codes = self.request.session.pop(CODES_SESSION_KEY, None)
        if not (isinstance(new_codes, list) and all(isinstance(c, str) for c in new_codes)):
            new_codes = None
        context = {
            "enabled": enabled,
            "codes_left": services.recovery_codes_left(user=user) if enabled else 0,
            "new_codes": new_codes,
            "pending": pending,
            "qr_code": _qr_svg_data_uri(pending.config_url) if pending else None,
            "text_key": _text_key(pending) if pending else None,
            "confirm_form": confirm_form or CodeForm(),
            "disable_form": disable_form or PasswordAndCodeForm(),
            "codes_form": codes_form or PasswordForm(),
            "required_here": self.request.merchant.requires_two_factor(
                self.request.membership.role if self.request.membership else None
            ),
        }
        return render(self.request, "merchants/security.html", context, status=status)


class TotpStartView(SecurityView):
    def get(self, request: HttpRequest) -> HttpResponse:
        return redirect("merchants:security")

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            services.totp_device_start(user=request.user)
        except DomainError:
            messages.info(request, _("Two-factor login is already on."))
        return redirect("merchants:security")


class TotpConfirmView(SecurityView):
    def get(self, request: HttpRequest) -> HttpResponse:
        return redirect("merchants:security")

    def post(self, request: HttpRequest) -> HttpResponse:
        form = CodeForm(request.POST)
        if not form.is_valid():
            return self.render_page(confirm_form=form, status=422)
        try:
            device, codes = services.totp_device_confirm(
                user=request.user, token=form.cleaned_data["token"]
            )
        except (DomainError, services.TwoFactorLocked) as exc:
            if getattr(exc, "code", None) == "no_pending_device":
                messages.error(request, _code_error(exc))
                return redirect("merchants:security")
            form.add_error("token", _code_error(exc))
            return self.render_page(confirm_form=form, status=_status(exc))
        # This session has just proved the device: it counts as verified.
        otp_login(request, device)
        request.session[CODES_SESSION_KEY] = codes
        messages.success(request, _("Two-factor login is on."))
        return redirect("merchants:security")


class RecoveryCodesView(SecurityView):
    def get(self, request: HttpRequest) -> HttpResponse:
        return redirect("merchants:security")

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PasswordForm(request.POST)
        if not form.is_valid() or not request.user.check_password(form.cleaned_data["password"]):
            if form.is_valid():
                form.add_error("password", _("The password is not correct."))
            return self.render_page(codes_form=form, status=422)
        try:
            codes = services.recovery_codes_regenerate(user=request.user)
        except DomainError:
            messages.error(request, _("Turn two-factor login on first."))
            return redirect("merchants:security")
        request.session[CODES_SESSION_KEY] = codes
        messages.success(request, _("New recovery codes made: the previous ones no longer work."))
        return redirect("merchants:security")


class TwoFactorDisableView(SecurityView):
    def get(self, request: HttpRequest) -> HttpResponse:
        return redirect("merchants:security")

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PasswordAndCodeForm(request.POST)
        if not form.is_valid():
            return self.render_page(disable_form=form, status=422)
        if not services.two_factor_enabled(user=request.user):
            return redirect("merchants:security")
        try:
            services.two_factor_disable(
                user=request.user,
                password=form.cleaned_data["password"],
                token=form.cleaned_data["token"],
            )
        except (DomainError, services.TwoFactorLocked) as exc:
            field = "password" if getattr(exc, "field", None) == "password" else "token"
            form.add_error(field, _code_error(exc))
            return self.render_page(disable_form=form, status=_status(exc))
        messages.success(request, _("Two-factor login is off."))
        return redirect("merchants:security")


def _status(exc: Exception) -> int:
    return 429 if isinstance(exc, services.TwoFactorLocked) else 422


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return settings.LOGIN_REDIRECT_URL


class TwoFactorVerifyView(View):
    """The code step after the password, for a login with an authenticator."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect("login")
        if not request.session.get(PENDING_SESSION_KEY):
            return redirect(_safe_next(request))
        if not user_has_device(request.user, confirmed=True):
            # Turned off from another browser meanwhile: there is nothing left to prove.
            request.session.pop(PENDING_SESSION_KEY, None)
            return redirect(_safe_next(request))
        return super().dispatch(request, *args, **kwargs)

    def _render(self, form: CodeForm, status: int = 200) -> HttpResponse:
        locked = services.two_factor_locked_for(user=self.request.user)
        return render(
            self.request,
            "registration/two_factor.html",
            {
                "form": form,
                "next": _safe_next(self.request),
                "locked_message": _locked_message(locked) if locked else None,
            },
            status=429 if locked else status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(CodeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = CodeForm(request.POST)
        if not form.is_valid():
            return self._render(form, status=422)
        try:
            device = services.two_factor_verify(user=request.user, token=form.cleaned_data["token"])
        except services.TwoFactorLocked:
            return self._render(form, status=429)
        except DomainError as exc:
            form.add_error("token", _code_error(exc))
            return self._render(form, status=422)
        # A new session key once fully logged in: the half-logged-in one is never reused.
        request.session.cycle_key()
        otp_login(request, device)
        request.session.pop(PENDING_SESSION_KEY, None)
        if isinstance(device, StaticDevice):
            left = services.recovery_codes_left(user=request.user)
            messages.warning(
                request,
                _(
                    "You used a recovery code; %(left)d left. Make new ones on your "
                    "account security page if you are running out."
                )
                % {"left": left},
            )
        return redirect(_safe_next(request))
