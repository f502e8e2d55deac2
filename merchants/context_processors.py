from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .selectors import merchants_for_user


def current_merchant(request: HttpRequest) -> dict:
    """Expose the back-office merchant (set by the tenancy mixin) to every template, and the
    merchants the user may switch to (read only when a page shows the switcher)."""
    user = getattr(request, "user", None)
    known = getattr(request, "operator_merchants", None)  # read by the tenancy mixin
    return {
        "current_merchant": getattr(request, "merchant", None),
        "livemode": getattr(request, "livemode", False),
        "operator_merchants": known
        if known is not None
        else SimpleLazyObject(
            lambda: list(merchants_for_user(user=user)) if user and user.is_authenticated else []
        ),
    }
