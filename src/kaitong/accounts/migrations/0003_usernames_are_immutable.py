"""Usernames are immutable once registered (seed page; DESIGN "Usernames"): the database refuses a change.

No code path changes a username; the trigger makes that a guarantee rather than a habit, so a bulk
update, an admin edit or a future bug cannot hand one account's name to another (reliability C.14).
"""

from django.db import migrations

TABLES = ("accounts_billingaccount", "accounts_consoleaccount")


def _create(apps, schema_editor):  # type: ignore[no-untyped-def]
    for table in TABLES:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"""
                CREATE OR REPLACE FUNCTION {table}_username_immutable() RETURNS trigger AS $$
                BEGIN
                    RAISE EXCEPTION 'username is immutable' USING ERRCODE = 'integrity_constraint_violation';
                END $$ LANGUAGE plpgsql;
                CREATE TRIGGER {table}_username_immutable BEFORE UPDATE OF username ON {table}
                    FOR EACH ROW WHEN (OLD.username IS DISTINCT FROM NEW.username)
                    EXECUTE FUNCTION {table}_username_immutable();
                """
            )
        else:
            schema_editor.execute(
                f"""
                CREATE TRIGGER {table}_username_immutable BEFORE UPDATE OF username ON {table}
                FOR EACH ROW WHEN OLD.username IS NOT NEW.username
                BEGIN SELECT RAISE(ABORT, 'username is immutable'); END
                """
            )


def _drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    for table in TABLES:
        schema_editor.execute(
            f"DROP TRIGGER IF EXISTS {table}_username_immutable"
            + (
                f" ON {table}; DROP FUNCTION IF EXISTS {table}_username_immutable()"
                if schema_editor.connection.vendor == "postgresql"
                else ""
            )
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_throttle_and_canonical_username")]
    operations = [migrations.RunPython(_create, _drop)]
