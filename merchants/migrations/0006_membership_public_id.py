# Schema, then data, then schema again: every existing member gets its own random id.

from django.db import migrations, models

import merchants.models
from pushpay.ids import new_public_id


def fill_public_ids(apps, schema_editor):
    Membership = apps.get_model("merchants", "Membership")
    for membership in Membership.objects.filter(public_id__isnull=True).only("pk"):
        Membership.objects.filter(pk=membership.pk).update(public_id=new_public_id("mb"))


class Migration(migrations.Migration):
    dependencies = [("merchants", "0005_merchant_sender_name_reply_to")]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="public_id",
            field=models.CharField(max_length=40, null=True, editable=False),
        ),
        migrations.RunPython(fill_public_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="membership",
            name="public_id",
            field=models.CharField(
                default=merchants.models._membership_id, editable=False, max_length=40, unique=True
            ),
        ),
    ]
