from django.db import migrations, models

import requests_app.models


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0014_fill_event_public_ids")]

    operations = [
        migrations.AlterField(
            model_name="requestevent",
            name="public_id",
            field=models.CharField(
                default=requests_app.models._event_id, editable=False, max_length=40, unique=True
            ),
        ),
        migrations.AddIndex(
            model_name="requestevent",
            index=models.Index(
                fields=["merchant", "livemode", "-created_at", "-id"], name="event_api_list"
            ),
        ),
    ]
