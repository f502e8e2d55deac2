from django.http import HttpRequest


def current_merchant(request: HttpRequest) -> dict:
    """Expose the back-office merchant (set by the tenancy mixin) to every template."""
    return {
        "current_merchant": getattr(request, "merchant", None),
        "livemode": getattr(request, "livemode", False),
    }
