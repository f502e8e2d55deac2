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


def can_write(membership: Membership | None) -> bool:
    """Viewers read only; every other role may change the merchant's configuration."""
    return membership is not None and membership.role != Membership.Role.VIEWER


def refuse_viewers(request: HttpRequest, what: str) -> None:
    """Called in every handler of a changing page, GET included, so a crafted POST from a
    viewer is refused exactly as the hidden button suggests."""
    if not can_write(getattr(request, "membership", None)):
        raise PermissionDenied(f"Viewers can look at {what} but not change them.")
