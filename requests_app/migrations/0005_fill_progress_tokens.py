"""Data migration: every existing request gets its own progress token."""

from django.db import migrations

import pushpay.ids


def fill_progress_tokens(apps, schema_editor):
    """Existing requests get their own random token before the column becomes unique."""
    PaymentRequest = apps.get_model("requests_app", "PaymentRequest")
    for payment_request in PaymentRequest.objects.filter(progress_token__isnull=True):
        payment_request.progress_token = pushpay.ids.new_link_token()
        payment_request.save(update_fields=["progress_token"])


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0004_collections")]

    operations = [migrations.RunPython(fill_progress_tokens, migrations.RunPython.noop)]
