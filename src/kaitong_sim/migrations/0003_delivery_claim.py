# The SPI delivery loop leases a delivery while it sends it (kaitong_base.claims).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("simulator", "0002_account_verified"),
    ]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="claimed_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="delivery",
            name="claim_token",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
    ]
