"""Back-office tenancy: every view works for exactly one merchant, chosen from the user's
memberships and remembered in the session."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from merchants.models import Membership, Merchant
from merchants.selectors import membership_get, merchants_for_user

SESSION_KEY = "merchant_id"
# The back office's mode toggle: which book (test or live) every page shows and acts on.
MODE_SESSION_KEY = "livemode"


def resolve_merchant(request: HttpRequest) -> tuple[Merchant, Membership] | None:
    merchants = merchants_for_user(user=request.user)
    merchant = merchants.filter(pk=request.session.get(SESSION_KEY)).first() or merchants.first()
    if merchant is None:
        return None
    request.session[SESSION_KEY] = merchant.pk
    return merchant, membership_get(user=request.user, merchant=merchant)


def current_livemode(request: HttpRequest) -> bool:
    """Test mode unless the operator switched to live: the safe side is the default."""
    return request.session.get(MODE_SESSION_KEY) is True


class MerchantViewMixin(LoginRequiredMixin):
    """Sets ``request.merchant``, ``request.membership`` and ``request.livemode`` (the mode
    toggle); refuses users with no merchant."""

    def dispatch(self, request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        resolved = resolve_merchant(request)
        if resolved is None:
            raise PermissionDenied("Your login is not attached to any merchant.")
        request.merchant, request.membership = resolved
        request.livemode = current_livemode(request)
        return super().dispatch(request, *args, **kwargs)


# --- Roles ------------------------------------------------------------------------------------
# One map from role to what it may change; every changing view calls ``require`` and every
# button asks ``can``, so the page never offers what the view would refuse. Reading is open to
# every member. API keys act for the merchant as a whole (owner-level) and do not come here.

CAPABILITIES: dict[str, str] = {
    # requests: agents and up
    "requests.create": "create payment requests",
    "requests.resend": "resend notifications",
    "requests.pause_reminders": "pause or resume reminders",
    "requests.cancel": "cancel payment requests",
    # money back and configuration: admins and up
    "requests.refund": "refund payments",
    "scenarios.manage": "change scenarios",
    "templates.manage": "change message templates",
    "forms.manage": "change smart forms",
    "webhooks.manage": "change webhook endpoints",
    "payment_methods.manage": "change payment methods",
    "wallets.manage": "credit or adjust cashback wallets",
    "installments.manage": "change installment plans",
    "branding.manage": "change the branding",
    # the merchant itself: owners only
    "team.manage": "change the team",
    "api_keys.manage": "manage API keys",
    "credentials.manage": "change provider credentials",
}

_AGENT = frozenset(
    {"requests.create", "requests.resend", "requests.pause_reminders", "requests.cancel"}
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
            f"Your role ({role}) does not allow you to {CAPABILITIES[capability]}. "
            "Ask an owner of this merchant to change your role."
        )
