"""Data migration: every existing event gets its own public id."""

from django.db import migrations

import pushpay.ids

BATCH = 2000


def fill_event_public_ids(apps, schema_editor):
    """Existing events get their own random id before the column becomes unique; in batches,
    since an old installation may hold many events."""
    RequestEvent = apps.get_model("requests_app", "RequestEvent")
    while True:
        batch = list(RequestEvent.objects.filter(public_id__isnull=True).only("pk")[:BATCH])
        if not batch:
            return
        for event in batch:
            event.public_id = pushpay.ids.new_public_id("ev")
        RequestEvent.objects.bulk_update(batch, ["public_id"])


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0013_event_public_id")]

    operations = [migrations.RunPython(fill_event_public_ids, migrations.RunPython.noop)]
