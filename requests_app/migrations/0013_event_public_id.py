from django.db import migrations, models


class Migration(migrations.Migration):
    """Events get a public id for the events API: nullable first, since a default on an
    added column is computed once and would give every existing row the same id."""

    dependencies = [("requests_app", "0012_reconciliation_ready_event")]

    operations = [
        migrations.AddField(
            model_name="requestevent",
            name="public_id",
            field=models.CharField(editable=False, max_length=40, null=True),
        ),
    ]
