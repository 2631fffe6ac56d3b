"""Every time of an instance, an inbox row or an audit row lies in 2000-2100 (Beijing time), by CHECK.

Before the CHECKs can be added, a time already stored outside that window (a year-1 expiry the SPI
accepted before it refused such times, or a hand edit) is moved to the window's nearest edge: a
time before it becomes its first instant, a later one (``infinity`` included) its last. For the
lifecycle this changes nothing: an expiry before 2000 and one on 2000-01-01 have both passed, and one
after 2100 and one at its end both lie far ahead. On SQLite, text that is no calendar time at all
becomes the first instant (it was read as "no expiry", which the lifecycle treats as a passed one).
"""

import datetime

from django.db import migrations, models

import kaitong.marketplace.models

EARLIEST = datetime.datetime(1999, 12, 31, 16, 0, tzinfo=datetime.UTC)
END = datetime.datetime(2100, 12, 31, 16, 0, tzinfo=datetime.UTC)
LAST_INSTANT = END - datetime.timedelta(seconds=1)

TIMES = [
    ("marketplaceinstance", "expires_at"),
    ("marketplaceinstance", "created_at"),
    ("marketplaceinstance", "updated_at"),
    ("marketplaceinstance", "unreconciled_since"),
    ("marketplaceinstance", "reconciled_at"),
    ("marketplaceinstance", "drift_alarm_at"),
    ("spicall", "received_at"),
    ("instanceevent", "at"),
]


def plausible(field):
    return kaitong.marketplace.models.PlausibleTime(field, earliest=EARLIEST, end=END)


def move_into_the_window(apps, schema_editor):
    # UPDATE … WHERE only: the rows are never read into Python, which could not hold some of these times.
    for model_name, field in TIMES:
        rows = apps.get_model("marketplace", model_name).objects.filter(**{f"{field}__isnull": False})
        later = rows.exclude(plausible(field)).filter(**{f"{field}__gte": END})
        if schema_editor.connection.vendor == "sqlite":
            # Text is compared as text: what is no time at all sorts after the digits of any year.
            later = later.filter(**{f"{field}__regex": r"^[0-9]{4}-"})
        moved = later.update(**{field: LAST_INSTANT})
        moved += rows.exclude(plausible(field)).update(**{field: EARLIEST})
        if moved:
            print(f"\n  marketplace: {moved} {model_name}.{field} outside 2000-2100 moved to the window's edge")


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0005_reconciliation"),
    ]

    operations = [
        migrations.RunPython(move_into_the_window, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="instanceevent",
            constraint=models.CheckConstraint(condition=plausible("at"), name="marketplace_instanceevent_at_plausible"),
        ),
        migrations.AddConstraint(
            model_name="marketplaceinstance",
            constraint=models.CheckConstraint(
                condition=models.Q(("expires_at__isnull", True), plausible("expires_at"), _connector="OR"),
                name="marketplace_marketplaceinstance_expires_at_plausible",
            ),
        ),
        migrations.AddConstraint(
            model_name="marketplaceinstance",
            constraint=models.CheckConstraint(
                condition=plausible("created_at"), name="marketplace_marketplaceinstance_created_at_plausible"
            ),
        ),
        migrations.AddConstraint(
            model_name="marketplaceinstance",
            constraint=models.CheckConstraint(
                condition=plausible("updated_at"), name="marketplace_marketplaceinstance_updated_at_plausible"
            ),
        ),
        *(
            migrations.AddConstraint(
                model_name="marketplaceinstance",
                constraint=models.CheckConstraint(
                    condition=models.Q((f"{field}__isnull", True), plausible(field), _connector="OR"),
                    name=f"marketplace_marketplaceinstance_{field}_plausible",
                ),
            )
            for field in ("unreconciled_since", "reconciled_at", "drift_alarm_at")
        ),
        migrations.AddConstraint(
            model_name="spicall",
            constraint=models.CheckConstraint(
                condition=plausible("received_at"), name="marketplace_spicall_received_at_plausible"
            ),
        ),
    ]
