from django.db import migrations, models

import pushpay.ids


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0005_fill_progress_tokens")]

    operations = [
        migrations.AlterField(
            model_name="paymentrequest",
            name="progress_token",
            field=models.CharField(
                default=pushpay.ids.new_link_token, editable=False, max_length=64, unique=True
            ),
        ),
    ]
