"""Events recorded before events had public ids each get their own ev_ id on migration, so
the events API can show every event kept, however old."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("requests_app", "0012_reconciliation_ready_event")]
AFTER = [("requests_app", "0015_event_public_id_unique")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_every_existing_event_its_own_id():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    merchant = old.get_model("merchants", "Merchant").objects.create(name="Old", slug="old")
    payment_request = old.get_model("requests_app", "PaymentRequest").objects.create(
        merchant=merchant, reference="OLD-1", currency="EUR", total_amount=1000
    )
    OldEvent = old.get_model("requests_app", "RequestEvent")
    for _ in range(5):
        OldEvent.objects.create(merchant=merchant, request=payment_request, type="request_created")

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps

    ids = list(
        new.get_model("requests_app", "RequestEvent").objects.values_list("public_id", flat=True)
    )
    assert len(ids) == 5
    assert len(set(ids)) == 5
    assert all(i.startswith("ev_") and len(i) == 27 for i in ids)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
