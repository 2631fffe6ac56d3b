"""The home-made outbox (app ``outbox``, table ``outbox_job``) is replaced by the tasks framework;
nothing in it needs keeping. Its leftover migration rows in ``django_migrations`` are harmless."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("jobs", "0001_initial")]

    operations = [migrations.RunSQL("DROP TABLE IF EXISTS outbox_job", reverse_sql=migrations.RunSQL.noop)]
