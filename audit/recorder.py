"""Turns each django-simple-history snapshot into one ``AuditEntry``: who, when, which object
and the fields that changed, before -> after. Runs inside the save's transaction, so a change
rolled back leaves no entry and a committed change always has one."""

import datetime
import decimal
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models.fields.files import FieldFile
from simple_history.models import HistoricalRecords

from pushpay.history import AUDITED, AuditedHistory, attribute

from .models import AuditEntry

ACTIONS = {
    "+": AuditEntry.Action.CREATED,
    "~": AuditEntry.Action.CHANGED,
    "-": AuditEntry.Action.DELETED,
}
# Identity and bookkeeping: on every row, never what an operator changed.
NOT_SHOWN = frozenset({"id", "public_id", "merchant", "created_at", "updated_at"})
MAX_VALUE = 2000  # characters of one value kept in an entry (a template's HTML can be long)


def on_snapshot(sender: Any, instance: models.Model, history_instance: Any, **kwargs: Any) -> None:
    spec = AUDITED.get(type(instance))
    if spec is None:
        return
    extra = instance.__dict__.pop("_audit_extra", None)
    reason = instance.__dict__.pop("_change_reason", "") or ""
    merchant_id = attribute(instance, spec.audit_merchant)
    if merchant_id is None:
        return
    action = ACTIONS[history_instance.history_type]
    changes, known_before = _changes(spec, instance, history_instance, action)
    if not known_before and not reason:
        # A row from before the audit trail (or bulk-written): its earlier values are unknown.
        reason = "first recorded change: earlier values unknown"

    if extra:
        changes.update({name: [_plain_value(b), _plain_value(a)] for name, (b, a) in extra.items()})
    if action == AuditEntry.Action.CHANGED and not changes:
        return  # only excluded fields moved (a secret, a token): nothing to show
    kind, label, user = actor(history_instance.history_user)
    page_kind, page_path = spec.audit_page or (spec.audit_kind, spec.audit_ident)
    AuditEntry.objects.create(
        merchant_id=merchant_id,
        created_at=history_instance.history_date,
        action=action,
        actor_kind=kind,
        actor_user=user,
        actor_label=label[:200],
        object_kind=page_kind,
        object_id=_ident(instance, page_path),
        item_kind=spec.audit_kind,
        item_id=_ident(instance, spec.audit_ident),
        item_label=str(instance)[:200],
        livemode=getattr(instance, "livemode", None),
        changes=changes,
        reason=str(reason)[:100],
    )


def actor(history_user: Any) -> tuple[str, str, Any]:
    """(kind, label, user) of whoever is behind the current change."""
    if history_user is not None:
        return (
            AuditEntry.ActorKind.OPERATOR,
            history_user.email or history_user.get_username(),
            history_user,
        )
    request = getattr(HistoricalRecords.context, "request", None)
    principal = getattr(request, "user", None)
    api_key = getattr(principal, "api_key", None)
    if api_key is not None:
        return AuditEntry.ActorKind.API_KEY, f"API key {api_key.public_id} ({api_key.name})", None
    if request is not None and request.path.startswith(("/pay/", "/progress/")):
        return AuditEntry.ActorKind.PAYER, "payer", None
    return AuditEntry.ActorKind.SYSTEM, "system", None


def _ident(instance: models.Model, path: str | None) -> str:
    if path is None:
        return ""
    value = attribute(instance, path)
    return "" if value is None else str(value)[:60]


def _changes(
    spec: AuditedHistory, instance: models.Model, snapshot: Any, action: str
) -> tuple[dict, bool]:
    """The changed fields, and whether the values before were known."""
    known_before = True
    fields = [f for f in spec.fields_included(instance) if f.name not in NOT_SHOWN]
    if action == AuditEntry.Action.DELETED:
        pairs = {f: (getattr(snapshot, f.attname), None) for f in fields}
    else:
        before = None
        if action == AuditEntry.Action.CHANGED:
            before = snapshot.prev_record
            known_before = before is not None
        elif spec.audit_previous is not None:
            before = spec.audit_previous(instance)
        pairs = {
            f: (
                getattr(before, f.attname) if before is not None else None,
                getattr(snapshot, f.attname),
            )
            for f in fields
        }
    changes = {}
    for field, (old, new) in pairs.items():
        if old == new or (_empty(old) and _empty(new)):
            continue
        if action == AuditEntry.Action.CREATED and before is None and new in (0, False):
            continue  # a new row's zero counters and off switches say nothing
        changes[field.name] = [_plain(field, old), _plain(field, new)]
    return changes, known_before


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _plain(field: models.Field, value: Any) -> Any:
    """A JSON value an operator can read: a linked row by its public id (or a user by email),
    never an internal integer."""
    if value is not None and isinstance(field, models.ForeignKey):
        related = field.related_model
        if related is get_user_model():
            row = related.objects.filter(pk=value).first()
            return (row.email or row.get_username()) if row else None
        names = {f.name for f in related._meta.get_fields()}
        for name in ("public_id", "number", "method"):
            if name in names:
                return related.objects.filter(pk=value).values_list(name, flat=True).first()
        return None
    return _plain_value(value)


def _plain_value(value: Any) -> Any:
    if isinstance(value, FieldFile):
        value = value.name or ""
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, str) and len(value) > MAX_VALUE:
        return value[:MAX_VALUE] + "…"
    if isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False, default=str)
        return value if len(text) <= MAX_VALUE else text[:MAX_VALUE] + "…"
    return value
