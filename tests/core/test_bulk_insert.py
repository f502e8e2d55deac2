"""pushpay.bulk.insert_rows: many rows in one statement, defaults filled, conflicts skipped."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.models import Dispatch
from pushpay.bulk import insert_rows


def rows(n: int, prefix: str = "k") -> list[dict]:
    due = timezone.now() + timedelta(hours=1)
    return [
        {
            "channel": "email",
            "recipient": f"p{i}@example.com",
            "due_at": due,
            "next_attempt_at": due,
            "dedupe_key": f"{prefix}:{i}",
        }
        for i in range(n)
    ]


def test_rows_get_the_shared_values_and_every_default(merchant):
    before = timezone.now()
    assert insert_rows(Dispatch, rows(3), shared={"merchant_id": merchant.pk}) == 3

    written = list(Dispatch.objects.order_by("dedupe_key"))
    assert [d.dedupe_key for d in written] == ["k:0", "k:1", "k:2"]
    assert {d.merchant_id for d in written} == {merchant.pk}
    # field defaults as the model declares them, a fresh public id per row
    assert {(d.status, d.kind, d.attempts, d.livemode, d.skip_reason) for d in written} == {
        ("planned", "scenario_step", 0, False, "")
    }
    assert len({d.public_id for d in written}) == 3
    assert all(d.public_id.startswith("nt_") for d in written)
    assert all(d.created_at >= before and d.created_at == d.updated_at for d in written)
    assert [d.recipient for d in written] == ["p0@example.com", "p1@example.com", "p2@example.com"]


def test_a_row_whose_unique_key_is_taken_is_skipped_and_the_first_kept(merchant):
    insert_rows(Dispatch, rows(2), shared={"merchant_id": merchant.pk})
    again = rows(3)
    again[0]["recipient"] = "changed@example.com"
    insert_rows(Dispatch, again, shared={"merchant_id": merchant.pk})

    assert Dispatch.objects.count() == 3
    assert Dispatch.objects.get(dedupe_key="k:0").recipient == "p0@example.com"


@pytest.mark.django_db
def test_nothing_to_insert_asks_nothing():
    with CaptureQueriesContext(connection) as queries:
        assert insert_rows(Dispatch, []) == 0
    assert len(queries) == 0


def test_many_rows_travel_in_one_statement(merchant):
    """20,000 rows x 7 columns is over PostgreSQL's 65,535 parameters: one statement
    anyway (arrays), where bulk_create would have split them into batches."""
    with CaptureQueriesContext(connection) as queries:
        insert_rows(Dispatch, rows(20_000), shared={"merchant_id": merchant.pk})
    assert len(queries) == 1
    assert Dispatch.objects.filter(merchant=merchant).count() == 20_000


def test_null_and_unicode_values_round_trip(merchant):
    batch = rows(2)
    for row in batch:
        row["event_id"] = None
        row["recipient"] = "Zoë «Ünïcødé» 'quoted' \"double\" \\ back"
    insert_rows(Dispatch, batch, shared={"merchant_id": merchant.pk})
    assert set(Dispatch.objects.values_list("recipient", "event_id")) == {
        ("Zoë «Ünïcødé» 'quoted' \"double\" \\ back", None)
    }
