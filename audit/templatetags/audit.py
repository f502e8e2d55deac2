"""Template helpers for the audit trail: the diff of one entry, and the "History" section that
each object's page includes with ``{% audit_history "scenario" scenario.public_id %}``."""

import json
from typing import Any

from django import template
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from audit import selectors
from audit.kinds import kind_label, object_url

register = template.Library()

HISTORY_SIZE = 5


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


@register.filter
def audit_diff(entry: Any) -> list[dict[str, str]]:
    """[{field, before, after}], the fields in a stable order."""
    return [
        {"field": name.replace("_", " "), "before": _shown(pair[0]), "after": _shown(pair[1])}
        for name, pair in sorted(entry.changes.items())
        if isinstance(pair, list) and len(pair) == 2
    ]


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
