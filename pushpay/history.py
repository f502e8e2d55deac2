"""The audit trail's capture, shared by every app (docs/operations.md, "Audit trail").

Each audited model declares ``history = AuditedHistory(kind=..., ...)``: django-simple-history
keeps a full snapshot per change in the model's own ``Historical…`` table, and the ``audit``
app turns each new snapshot into one merchant-scoped ``AuditEntry`` (who, when, before ->
after) that the audit page lists. This module knows no domain: it only says, per model, what
the entry is about (its kind, its merchant, the page it belongs to) and which fields are
never copied (secrets, tokens).

Services that change an audited row with ``queryset.update()`` (conditional updates, races)
bypass ``save()`` and so the history; they call ``record_history`` after the update.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db import models
from simple_history.models import HistoricalRecords

AUDITED: dict[type[models.Model], "AuditedHistory"] = {}

# Never in an audit diff: bookkeeping every save touches.
ALWAYS_EXCLUDED = ("updated_at",)


def _history_user(request: Any = None, **kwargs: Any) -> Any:
    """The operator behind the change, or None: an API call's ``request.user`` is the key's
    principal (not a user row) and a payer or a job has no user."""
    from django.contrib.auth import get_user_model

    user = getattr(request, "user", None)
    return user if isinstance(user, get_user_model()) else None


def attribute(instance: Any, path: str) -> Any:
    """``"scenario.merchant_id"`` read on ``instance``; None where a link is missing."""
    value = instance
    for part in path.split("."):
        if value is None:
            return None
        value = getattr(value, part)
    return value


class AuditedHistory(HistoricalRecords):
    """``HistoricalRecords`` that also says what the audit page needs.

    ``kind``: the entry's object type (``"scenario"``). ``merchant``: the path to the
    merchant's id. ``page``: the (kind, path to its id) of the page the change shows on, for a
    sub-object (a participant shows on its request's page); the model's own kind and ``ident``
    when None. ``ident``: the path to the id shown and searched (a public id, never a pk).
    ``previous``: for a row that replaces another (a new form version), the row a creation is
    compared with, so the entry shows before -> after rather than only after.
    """

    def __init__(
        self,
        *,
        kind: str,
        merchant: str = "merchant_id",
        ident: str = "public_id",
        page: tuple[str, str] | None = None,
        previous: Callable[[Any], Any] | None = None,
        excluded_fields: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        self.audit_kind = kind
        self.audit_merchant = merchant
        self.audit_ident = ident
        self.audit_page = page
        self.audit_previous = previous
        super().__init__(
            excluded_fields=[*excluded_fields, *ALWAYS_EXCLUDED], get_user=_history_user, **kwargs
        )

    def finalize(self, sender: type[models.Model], **kwargs: Any) -> None:
        if self.cls is sender:
            AUDITED[sender] = self
        super().finalize(sender, **kwargs)


def audited_model(kind: str) -> type[models.Model] | None:
    """The model whose entries carry this kind, to show a choice field's value by its label."""
    for model, spec in AUDITED.items():
        if spec.audit_kind == kind:
            return model
    return None


def record_history(
    instance: models.Model,
    *,
    reason: str = "",
    extra: Mapping[str, list] | None = None,
    refresh: bool = True,
) -> None:
    """Record the row as it is now in the database, after a ``queryset.update()`` that
    bypassed ``save()``. ``extra`` adds computed before/after pairs (a scenario's steps).
    ``refresh=False`` when the caller's instance already holds the new values and may hold
    others it has yet to save (reloading would silently drop them)."""
    if refresh:
        instance.refresh_from_db()
    if reason:
        instance._change_reason = reason
    if extra:
        instance._audit_extra = dict(extra)
    AUDITED[type(instance)].create_historical_record(instance, "~")


def bulk_create_with_snapshots(model: type[models.Model], objs: Iterable[models.Model]) -> list:
    """``bulk_create`` plus one bulk insert of their first snapshots, so a later change of
    these rows has a "before" to be compared with. No audit entry: the row that created
    them (the request) has its own."""
    from simple_history.utils import bulk_create_with_history

    return bulk_create_with_history(list(objs), model)


def record_many(
    instances: Iterable[models.Model], *, reason: str = "", refresh: bool = True
) -> None:
    for instance in instances:
        record_history(instance, reason=reason, refresh=refresh)
