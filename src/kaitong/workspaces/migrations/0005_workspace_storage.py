"""Where a workspace's data lives (issue 13): "guance", or "sls" (the buyer's own Log Service, the
exclusive edition). Decided at creation and never changed: the database refuses a change, as it does a
username's, so no bulk update, admin edit or future bug can move a workspace between the editions."""

from django.db import migrations, models

TABLE = "workspaces_workspace"


def _create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"""
            CREATE OR REPLACE FUNCTION {TABLE}_storage_immutable() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'workspace storage is immutable' USING ERRCODE = 'integrity_constraint_violation';
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER {TABLE}_storage_immutable BEFORE UPDATE OF storage ON {TABLE}
                FOR EACH ROW WHEN (OLD.storage IS DISTINCT FROM NEW.storage)
                EXECUTE FUNCTION {TABLE}_storage_immutable();
            """
        )
    else:
        schema_editor.execute(
            f"""
            CREATE TRIGGER {TABLE}_storage_immutable BEFORE UPDATE OF storage ON {TABLE}
            FOR EACH ROW WHEN OLD.storage IS NOT NEW.storage
            BEGIN SELECT RAISE(ABORT, 'workspace storage is immutable'); END
            """
        )


def _drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    schema_editor.execute(
        f"DROP TRIGGER IF EXISTS {TABLE}_storage_immutable"
        + (
            f" ON {TABLE}; DROP FUNCTION IF EXISTS {TABLE}_storage_immutable()"
            if schema_editor.connection.vendor == "postgresql"
            else ""
        )
    )


class Migration(migrations.Migration):
    dependencies = [("workspaces", "0004_settlement_moves_and_unlock_links")]

    operations = [
        migrations.AddField(
            model_name="workspace",
            name="storage",
            field=models.CharField(
                choices=[("guance", "观测云"), ("sls", "日志服务 SLS")],
                default="guance",
                max_length=8,
                verbose_name="数据存储",
            ),
        ),
        migrations.RunPython(_create, _drop),
    ]
