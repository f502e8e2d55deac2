"""Back-office tenancy: every view works for exactly one merchant, chosen from the user's
memberships and remembered in the session."""

import zoneinfo
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from merchants.models import Membership, Merchant
from merchants.selectors import membership_get, merchants_for_user, operator_language
from pushpay.i18n import is_supported_language

SESSION_KEY = "merchant_id"
# The back office's mode toggle: which book (test or live) every page shows and acts on.
MODE_SESSION_KEY = "livemode"


def resolve_merchant(request: HttpRequest) -> tuple[Merchant, Membership] | None:
    # One query for all of them: the bar's merchant switcher lists them on every page.
    merchants = list(merchants_for_user(user=request.user))
    request.operator_merchants = merchants
    chosen = request.session.get(SESSION_KEY)
    merchant = next((m for m in merchants if m.pk == chosen), None) or (
        merchants[0] if merchants else None
    )
    if merchant is None:
        return None
    request.session[SESSION_KEY] = merchant.pk
    return merchant, membership_get(user=request.user, merchant=merchant)


def current_livemode(request: HttpRequest) -> bool:
    """Test mode unless the operator switched to live: the safe side is the default."""
    return request.session.get(MODE_SESSION_KEY) is True


class MerchantViewMixin(LoginRequiredMixin):
    """Sets ``request.merchant``, ``request.membership`` and ``request.livemode`` (the mode
    toggle); refuses users with no merchant. Where the merchant requires a second factor of
    this member's role, a session not verified by one is sent to set it up (or to the code
    step, if the login has one), except on the page that sets it up."""

    two_factor_setup_page = False

    def dispatch(self, request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        resolved = resolve_merchant(request)
        if resolved is None:
            raise PermissionDenied("Your login is not attached to any merchant.")
        request.merchant, request.membership = resolved
        request.livemode = current_livemode(request)
        if not self.two_factor_setup_page and two_factor_missing(request):
            return two_factor_required_response(request)
        # Every date on the page in the merchant's zone (the one its messages use); the
        # templates print the zone beside each time. Deactivated after: threads are reused.
        timezone.activate(merchant_zone(request.merchant))
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            timezone.deactivate()


def two_factor_missing(request: HttpRequest) -> bool:
    """The merchant acted for requires a second factor of this role and the session has none
    (no query unless the merchant requires one)."""
    membership = request.membership
    if not request.merchant.requires_two_factor(membership.role if membership else None):
        return False
    is_verified = getattr(request.user, "is_verified", None)
    return not (is_verified and is_verified())


def two_factor_required_response(request: HttpRequest) -> HttpResponse:
    from django_otp import user_has_device

    from merchants.middleware import PENDING_SESSION_KEY, redirect_to_verification

    if user_has_device(request.user, confirmed=True):
        # Turned on from another browser: this session proves it with a code first.
        request.session[PENDING_SESSION_KEY] = True
        return redirect_to_verification(request)
    messages.warning(
        request,
        _("%(merchant)s requires two-factor login for your role: turn it on to continue.")
        % {"merchant": request.merchant.name},
    )
    return redirect("merchants:security")


def merchant_zone(merchant: Merchant) -> zoneinfo.ZoneInfo:
    """The merchant's time zone; UTC for a name the system does not know (a stored value
    from before zones were checked must not turn every page into a 500)."""
    try:
        return zoneinfo.ZoneInfo(merchant.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


# --- The operator's language ------------------------------------------------------------------
# Chosen once per user (merchants.OperatorPreference) and cached in the session, so a page
# costs no query for it; LocaleMiddleware's cookie and Accept-Language only decide for users
# who never chose. Payer pages speak the payer's language and are left alone.

LANGUAGE_SESSION_KEY = "operator_language"
OPERATOR_PATHS = ("/app/", "/accounts/", "/admin/")


def operator_language_remember(request: HttpRequest, language: str) -> None:
    request.session[LANGUAGE_SESSION_KEY] = language


class OperatorLanguageMiddleware:
    """After authentication: activate the language the logged-in operator chose."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = self._chosen(request)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)

    def _chosen(self, request: HttpRequest) -> str | None:
        if not request.path.startswith(OPERATOR_PATHS):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        cached = request.session.get(LANGUAGE_SESSION_KEY)
        if cached is None:
            # "" remembers "never chose" for this session: one query per login, not per page.
            cached = operator_language(user=user) or ""
            request.session[LANGUAGE_SESSION_KEY] = cached
        return cached if is_supported_language(cached) else None


# --- Roles ------------------------------------------------------------------------------------
# One map from role to what it may change; every changing view calls ``require`` and every
# button asks ``can``, so the page never offers what the view would refuse. Reading is open to
# every member. API keys act for the merchant as a whole (owner-level) and do not come here.

CAPABILITIES: dict[str, Promise] = {
    # requests: agents and up
    "requests.create": gettext_lazy("create payment requests"),
    "requests.edit": gettext_lazy("change payment requests (deadline, participants)"),
    "requests.resend": gettext_lazy("resend notifications"),
    "requests.pause_reminders": gettext_lazy("pause or resume reminders"),
    "requests.cancel": gettext_lazy("cancel payment requests"),
    # money back and configuration: admins and up
    "requests.refund": gettext_lazy("refund payments"),
    "scenarios.manage": gettext_lazy("change scenarios"),
    "templates.manage": gettext_lazy("change message templates"),
    "forms.manage": gettext_lazy("change smart forms"),
    "webhooks.manage": gettext_lazy("change webhook endpoints"),
    "payment_methods.manage": gettext_lazy("change payment methods"),
    "wallets.manage": gettext_lazy("credit or adjust cashback wallets"),
    "installments.manage": gettext_lazy("change installment plans"),
    "branding.manage": gettext_lazy("change the branding"),
    # the merchant itself: owners only
    "team.manage": gettext_lazy("change the team"),
    "api_keys.manage": gettext_lazy("manage API keys"),
    "credentials.manage": gettext_lazy("change provider credentials"),
    "security.manage": gettext_lazy("change who must log in with two factors"),
}

_AGENT = frozenset(
    {
        "requests.create",
        "requests.edit",
        "requests.resend",
        "requests.pause_reminders",
        "requests.cancel",
    }
)
_ADMIN = _AGENT | {
    "requests.refund",
    "scenarios.manage",
    "templates.manage",
    "forms.manage",
    "webhooks.manage",
    "payment_methods.manage",
    "wallets.manage",
    "installments.manage",
    "branding.manage",
}
ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Membership.Role.OWNER: frozenset(CAPABILITIES),
    Membership.Role.ADMIN: frozenset(_ADMIN),
    Membership.Role.AGENT: _AGENT,
    Membership.Role.VIEWER: frozenset(),
}


def can(membership: Membership | None, capability: str) -> bool:
    if capability not in CAPABILITIES:  # a typo must not silently refuse (or allow) everyone
        raise ValueError(f"Unknown capability {capability!r}")
    if membership is None:
        return False
    return capability in ROLE_CAPABILITIES.get(membership.role, frozenset())


def require(request: HttpRequest, capability: str) -> None:
    """Called first in every handler of a changing page, GET included, so a crafted POST is
    refused exactly as the hidden button suggests (a 403 page with this message)."""
    membership = getattr(request, "membership", None)
    if not can(membership, capability):
        role = membership.get_role_display() if membership else "none"
        raise PermissionDenied(
            _(
                "Your role (%(role)s) does not allow you to %(action)s. "
                "Ask an owner of this merchant to change your role."
            )
            % {"role": role, "action": CAPABILITIES[capability]}
        )
