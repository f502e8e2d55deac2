"""ApiKey.public_id (ak_…): added empty, filled one random id per existing key, then made
unique; a callable default on AddField would give every existing row the same value."""

from django.db import migrations, models

import merchants.models


def fill_public_ids(apps, schema_editor):
    ApiKey = apps.get_model("merchants", "ApiKey")
    for api_key in ApiKey.objects.filter(public_id__isnull=True).only("pk"):
        api_key.public_id = merchants.models._api_key_id()
        api_key.save(update_fields=["public_id"])


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0003_operator_preference"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="public_id",
            field=models.CharField(editable=False, max_length=40, null=True),
        ),
        migrations.RunPython(fill_public_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="apikey",
            name="public_id",
            field=models.CharField(
                default=merchants.models._api_key_id, editable=False, max_length=40, unique=True
            ),
        ),
    ]
