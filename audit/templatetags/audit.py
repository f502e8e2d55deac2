"""Template helpers for the audit trail: the diff of one entry, and the "History" section that
each object's page includes with ``{% audit_history "scenario" scenario.public_id %}``."""

import json
from typing import Any

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from audit import selectors
from audit.kinds import kind_label, object_url
from pushpay.history import audited_model

register = template.Library()

HISTORY_SIZE = 5


# Why a change was made, as the services record it (status reasons, failure codes): shown in
# the operator's language; anything else is shown as recorded.
_REASONS = {
    "paid": pgettext_lazy("audit reason", "paid"),
    "refunded": pgettext_lazy("audit reason", "refunded"),
    "expired": pgettext_lazy("audit reason", "expired"),
    "cancelled": pgettext_lazy("audit reason", "cancelled"),
    "participant_removed": pgettext_lazy("audit reason", "participant removed"),
    "already_paid": pgettext_lazy("audit reason", "already paid"),
    "secret rotated": pgettext_lazy("audit reason", "secret rotated"),
    "tested": pgettext_lazy("audit reason", "connection tested"),
    "expired, replaced": pgettext_lazy("audit reason", "expired, replaced"),
    "declined": pgettext_lazy("audit reason", "payment declined"),
    "insufficient_funds": pgettext_lazy("audit reason", "insufficient funds"),
    "authentication_failed": pgettext_lazy("audit reason", "authentication failed"),
    "authentication_required": pgettext_lazy("audit reason", "authentication required"),
    "fraud": pgettext_lazy("audit reason", "refused as suspected fraud"),
    "not_accepted": pgettext_lazy("audit reason", "method not accepted"),
    "provider_error": pgettext_lazy("audit reason", "provider error"),
    "expired_card": pgettext_lazy("audit reason", "expired card"),
}


@register.filter
def audit_reason(reason: str) -> str:
    return str(_REASONS.get(reason, reason))


@register.filter
def audit_kind(kind: str) -> str:
    return kind_label(kind)


@register.filter
def audit_url(entry: Any) -> str | None:
    return object_url(entry.object_kind, entry.object_id)


def _shown(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "\n".join(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _labels(kind: str, name: str) -> dict:
    """A choice field's values and their labels (a status reads "Payé", not "paid")."""
    model = audited_model(kind)
    if model is None:
        return {}
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return {}
    if not getattr(field, "choices", None):
        return {}
    return {value: label for value, label in field.flatchoices}


@register.filter
def audit_diff(entry: Any) -> list[dict[str, str]]:
    """[{field, before, after}], the fields in a stable order, choices by their label."""
    rows = []
    for name, pair in sorted(entry.changes.items()):
        if not (isinstance(pair, list) and len(pair) == 2):
            continue
        labels = _labels(entry.object_kind, name)
        before, after = (
            str(labels[value]) if isinstance(value, str) and value in labels else value
            for value in pair
        )
        rows.append(
            {"field": name.replace("_", " "), "before": _shown(before), "after": _shown(after)}
        )
    return rows


@register.inclusion_tag("audit/_history.html", takes_context=True)
def audit_history(context: template.Context, kind: str, object_id: str) -> dict:
    request = context["request"]
    entries = selectors.audit_entries_for(
        merchant=request.merchant,
        livemode=request.livemode,
        kind=kind,
        object_id=object_id or "",
        limit=HISTORY_SIZE,
    )
    query = {"kind": kind, "object": object_id} if object_id else {"kind": kind}
    return {
        "entries": entries,
        "all_url": f"{reverse('audit:entry_list')}?{urlencode(query)}",
        "zone": context.get("zone") or _current_zone(),
    }


def _current_zone() -> str:
    from django.utils import timezone

    return timezone.get_current_timezone_name()
