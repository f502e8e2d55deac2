from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.translation import get_language

from pushpay.money import format_money
from pushpay.tenancy import can

register = template.Library()


@register.filter
def money(amount: int | None, currency: str) -> str:
    """{{ amount|money:currency }} in the active language; an em dash when there is none."""
    if amount is None:
        return "—"
    return format_money(amount, currency, (get_language() or "en")[:2])


@register.filter(name="can")
def can_filter(membership, capability: str) -> bool:
    """{% if request.membership|can:"requests.resend" %}: show only what the view allows."""
    return can(membership or None, capability)


STATUS_COLOURS = {
    "open": "primary",
    "pending": "secondary",
    "partially_paid": "warning",
    "paid": "success",
    "expired": "dark",
    "cancelled": "secondary",
    "failed": "danger",
    "closed": "dark",
    "partially_refunded": "info",
    "refunded": "info",
    "planned": "primary",
    "sending": "info",
    "sent": "success",
    "skipped": "secondary",
    # installment plans and their installments
    "scheduled": "primary",
    "processing": "info",
    "active": "primary",
    "completed": "success",
    "defaulted": "danger",
    # disputes (chargebacks)
    "warning_needs_response": "warning",
    "warning_under_review": "info",
    "warning_closed": "secondary",
    "needs_response": "danger",
    "under_review": "warning",
    "won": "success",
    "lost": "danger",
}


@register.inclusion_tag("partials/status_badge.html")
def status_badge(status: str, label: str = "") -> dict:
    return {
        "status": status,
        "label": label or status.replace("_", " "),
        "colour": STATUS_COLOURS.get(status, "secondary"),
    }


@register.filter
def when(value: datetime | None, seconds: str = "") -> str:
    """{{ dt|when }}: a <time> in the active time zone (the merchant's, on back-office pages)
    with the zone's name beside it, so an operator in Paris reading a request of a merchant
    in Montreal knows which clock is meant. ``|when:"s"`` adds the seconds."""
    if not isinstance(value, datetime):
        return "—"
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    local = timezone.localtime(value)
    shown = date_format(local, "Y-m-d H:i:s" if seconds else "Y-m-d H:i")
    return format_html(
        '<time datetime="{}">{} <abbr title="{}">{}</abbr></time>',
        value.isoformat(),
        shown,
        timezone.get_current_timezone_name(),
        date_format(local, "T"),
    )
