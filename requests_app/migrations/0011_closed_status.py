"""Requests the expiry closed with money in stayed partially_paid with only closed_at set;
they become closed, with the history row the lifecycle now writes."""

from django.db import migrations


def forwards(apps, schema_editor):
    PaymentRequest = apps.get_model("requests_app", "PaymentRequest")
    StatusChange = apps.get_model("requests_app", "StatusChange")
    closed = PaymentRequest.objects.filter(status="partially_paid", closed_at__isnull=False)
    StatusChange.objects.bulk_create(
        StatusChange(
            merchant_id=merchant_id,
            request_id=pk,
            from_status="partially_paid",
            to_status="closed",
            reason="expired",
        )
        for pk, merchant_id in closed.values_list("pk", "merchant_id")
    )
    closed.update(status="closed")


def backwards(apps, schema_editor):
    PaymentRequest = apps.get_model("requests_app", "PaymentRequest")
    StatusChange = apps.get_model("requests_app", "StatusChange")
    StatusChange.objects.filter(
        from_status="partially_paid", to_status="closed", participant__isnull=True
    ).delete()
    PaymentRequest.objects.filter(status="closed").update(status="partially_paid")


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0010_refund_statuses")]

    operations = [migrations.RunPython(forwards, backwards)]
