"""Writing many rows of one model in one statement, without a model object per row.

``QuerySet.bulk_create`` builds a model instance per row and compiles every value through
the SQL compiler: for the outbox of a 1,000-payer request (18,000 rows) that is most of the
cost of the creation. Rows here are plain dicts of the columns that vary; the values every
row shares (the merchant, the mode, the timestamps, each field's default) are prepared once.
On PostgreSQL the rows travel as one array per column through ``unnest``: one statement and
one round trip whatever the number of rows (``bulk_create`` would split them into batches
under PostgreSQL's 65,535-parameter limit). Elsewhere (the embedded SQLite default) one
prepared statement runs once per row.

Conflicting rows (a unique key already taken, e.g. an outbox dedupe key a concurrent planner
wrote first) are skipped, as ``bulk_create(ignore_conflicts=True)`` does. No signal is sent
and nothing is recorded in a model's history: use it for append-only rows that have none.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connections, models, router
from django.utils import timezone


def _columns(model: type[models.Model], varying: set[str], shared: Mapping[str, Any]):
    """Each concrete column with, for those no row varies, its one prepared value."""
    connection = connections[router.db_for_write(model)]
    now = timezone.now()
    columns = []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.name not in varying and field.name not in shared:
            continue  # the database numbers the rows
        name = field.attname if field.attname in varying or field.attname in shared else field.name
        if name in varying:
            columns.append((field, name, None, False))
            continue
        if name in shared:
            value = shared[name]
        elif isinstance(field, models.DateTimeField) and (field.auto_now or field.auto_now_add):
            value = now
        elif field.has_default() and callable(field.default):
            columns.append((field, name, None, True))  # a fresh value per row (an id)
            continue
        else:
            value = field.get_default()
        columns.append((field, name, field.get_db_prep_save(value, connection), False))
    return connection, columns


def insert_rows(
    model: type[models.Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    shared: Mapping[str, Any] | None = None,
) -> int:
    """Insert ``rows`` (dicts keyed by field name or attname, e.g. ``step_id``), each with
    ``shared`` applied, skipping those that conflict; return how many rows were sent.

    Every row must carry the same keys. A field neither in a row nor in ``shared`` gets its
    default (a callable default, like a public id, is called once per row), and
    ``auto_now``/``auto_now_add`` timestamps get one common "now".
    """
    if not rows:
        return 0
    shared = dict(shared or {})
    varying = set(rows[0])
    connection, columns = _columns(model, varying, shared)
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(field.column) for field, *_ in columns)

    def value(field, name, prepared, per_row, row):
        if per_row:
            return field.get_db_prep_save(field.get_default(), connection)
        if name in varying:
            return field.get_db_prep_save(row[name], connection)
        return prepared

    # Table, column and type names come from the model's metadata (quoted); every value is a
    # parameter.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A value every row shares travels once, as a scalar; the others as arrays.
            selected, params, arrays, casts = [], [], [], []
            for field, name, prepared, per_row in columns:
                if per_row or name in varying:
                    arrays.append([value(field, name, prepared, per_row, row) for row in rows])
                    casts.append(f"%s::{field.cast_db_type(connection)}[]")
                    selected.append(f"u.c{len(casts)}")
                else:
                    params.append(prepared)
                    selected.append(f"%s::{field.cast_db_type(connection)}")
            aliases = ", ".join(f"c{i + 1}" for i in range(len(casts)))
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT {', '.join(selected)}"  # noqa: S608
                f" FROM unnest({', '.join(casts)}) AS u({aliases}) ON CONFLICT DO NOTHING",
                params + arrays,
            )
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({placeholders}) ON CONFLICT DO NOTHING",  # noqa: S608
                [
                    [
                        value(field, name, prepared, per_row, row)
                        for field, name, prepared, per_row in columns
                    ]
                    for row in rows
                ],
            )
    return len(rows)
