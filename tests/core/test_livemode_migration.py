"""Rows made before modes existed were all made with sandbox money: the migration marks them
test mode, so no old request can suddenly take real money."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("merchants", "0001_initial"),
    ("requests_app", "0007_notifications_paused"),
    ("payments", "0004_leg_source"),
    ("scenarios", "0001_initial"),
]
AFTER = [
    ("merchants", "0002_livemode"),
    ("requests_app", "0008_livemode"),
    ("payments", "0005_livemode"),
    ("scenarios", "0002_livemode"),
]


@pytest.mark.django_db(transaction=True)
def test_the_migration_marks_existing_rows_test_mode():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    merchant = old.get_model("merchants", "Merchant").objects.create(name="Old", slug="old")
    payment_request = old.get_model("requests_app", "PaymentRequest").objects.create(
        merchant=merchant, reference="OLD-1", currency="EUR", total_amount=1000
    )
    old.get_model("requests_app", "Participant").objects.create(
        merchant=merchant, request=payment_request, name="Ann", email="a@example.com", amount=1000
    )
    old.get_model("scenarios", "WebhookEndpoint").objects.create(
        merchant=merchant, url="https://hooks.example.com", secret="whsec_x"
    )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps

    migrated = new.get_model("requests_app", "PaymentRequest").objects.get(reference="OLD-1")
    assert migrated.livemode is False
    assert new.get_model("requests_app", "Participant").objects.get().livemode is False
    assert new.get_model("scenarios", "WebhookEndpoint").objects.get().livemode is False
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
