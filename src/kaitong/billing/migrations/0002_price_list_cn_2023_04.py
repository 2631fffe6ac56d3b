"""Load the China-site price list in effect since 2023-04-01 (price_lists/cn-2023-04.json)."""

from django.db import migrations

from kaitong.billing import price_lists


def load(apps, schema_editor):
    price_lists.load(
        price_lists.read("cn-2023-04"),
        price_list_model=apps.get_model("billing", "PriceList"),
        price_item_model=apps.get_model("billing", "PriceItem"),
    )


def unload(apps, schema_editor):
    apps.get_model("billing", "PriceList").objects.filter(version="cn-2023-04").delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
