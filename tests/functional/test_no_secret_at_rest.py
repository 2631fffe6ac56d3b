"""A verification code is never stored in clear outside the mail that carries it: not in its task
(there it travels sealed, and the seal is dropped once the mail is sent), not in any other table, not
on the operator console. Nor is a buyer's AccessKey secret (the exclusive edition): sealed in its one
column, and nowhere else, not in a log line either."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from kaitong.jobs.sealing import DROPPED
from kaitong.sls import actions as sls_actions
from kaitong.sls.models import AliyunGrant, SlsStorage
from tests.support.activation import code_sent_to, enter, submit
from tests.support.jobs import run_jobs
from tests.support.sls import REGION, exclusive_workspace, new_buyer, open_exclusive_instance, sim, vendor  # noqa: F401

pytestmark = pytest.mark.django_db
EMAIL = "secret@rest.example"


def every_stored_value() -> Iterator[tuple[str, str, str]]:
    """(table, column, value as text) for every column of every row of every table."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            columns = [column.name for column in connection.introspection.get_table_description(cursor, table)]
            as_text = ", ".join(f"CAST({quote(column)} AS TEXT)" for column in columns)
            cursor.execute(f"SELECT {as_text} FROM {quote(table)}")  # noqa: S608 - names from introspection
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if value is not None:
                        yield table, column, value


def places_holding(text: str) -> list[str]:
    return [f"{table}.{column}" for table, column, value in every_stored_value() if text in value]


def test_no_table_holds_the_code_in_clear_before_or_after_it_is_mailed(client):
    enter(client, "830001")
    submit(client, "/activate/workspaces/register/", {"op": "send_code", "email": EMAIL})
    (queued,) = DBTaskResult.objects.filter(task_path="kaitong.mail.tasks.send_email")
    sealed = queued.args_kwargs["kwargs"]["sealed_context"]
    assert sealed and sealed != DROPPED  # queued: the code is in the task, sealed

    code = code_sent_to(EMAIL)  # the worker mails it; the mail carries the code
    (message,) = mail.outbox
    assert code in message.body and code in message.alternatives[0][0]
    assert places_holding(code) == []
    assert places_holding(sealed) == []  # sent: not even the sealed form is kept
    queued.refresh_from_db()
    assert queued.status == "SUCCESSFUL" and queued.args_kwargs["kwargs"]["sealed_context"] == DROPPED


def test_the_operator_console_shows_the_code_email_task_but_neither_its_seal_nor_its_code(client, django_user_model):
    enter(client, "830002")
    submit(client, "/activate/workspaces/register/", {"op": "send_code", "email": EMAIL})
    (queued,) = DBTaskResult.objects.filter(task_path="kaitong.mail.tasks.send_email")
    sealed = queued.args_kwargs["kwargs"]["sealed_context"]
    operator = django_user_model.objects.create_superuser("ops", "ops@example.com", "a-long-operator-password")
    task_page = f"/ops/jobs/taskrun/{queued.pk}/change/"
    client.force_login(operator)
    waiting = client.get(task_page).text
    assert EMAIL in waiting and "verification_code" in waiting and "‹sealed›" in waiting
    assert sealed not in waiting
    code = code_sent_to(EMAIL)
    for page in (task_page, "/ops/jobs/taskrun/"):
        sent = client.get(page)
        assert sent.status_code == 200 and str(queued.pk) in sent.text
        assert code not in sent.text


# -- the exclusive edition: a buyer's AccessKey secret (issue 13) -------------------------------------------


def test_a_bound_access_key_secret_is_in_no_table_no_log_and_no_operator_page(vendor, client, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)  # every logger, the SDKs' and their transport's included
    uid = new_buyer(vendor)
    access_key_id, secret = vendor.create_access_key(uid)
    sls_actions.do_verify_access_key(
        ali_uid=uid, access_key_id=access_key_id, access_key_secret=secret, region=REGION, now=timezone.now()
    )
    open_exclusive_instance("740001", uid)
    workspace_id = exclusive_workspace("740001")
    (queued,) = DBTaskResult.objects.filter(task_path="kaitong.sls.tasks.provision_storage")
    assert queued.args_kwargs == {"args": [], "kwargs": {"workspace_id": workspace_id}}  # no credential
    run_jobs(duties=False)  # the job unseals the secret to use it
    assert SlsStorage.objects.get(workspace_id=workspace_id).state == "ready"
    sls_actions.do_check_grants(now=timezone.now())  # and the periodic check
    vendor.revoke_access_key(access_key_id)
    sls_actions.do_check_grants(now=timezone.now())  # a refused key: its error is stored and logged
    assert AliyunGrant.objects.get(ali_uid=uid).state == "revoked"
    run_jobs(duties=False)

    assert places_holding(secret) == []
    grant = AliyunGrant.objects.get(ali_uid=uid)
    assert grant.secret_sealed and grant.secret_key_id  # stored, sealed
    logged = [record.getMessage() for record in caplog.records]
    assert logged and not [line for line in logged if secret in line]

    operator = django_user_model_create_superuser()
    client.force_login(operator)
    for page in (
        "/ops/sls/aliyungrant/",
        f"/ops/sls/aliyungrant/{grant.pk}/change/",
        "/ops/sls/slsstorage/",
        "/ops/jobs/taskrun/",
    ):
        shown = client.get(page)
        assert shown.status_code == 200, page
        assert secret not in shown.text and grant.secret_sealed not in shown.text, page
    assert uid in client.get("/ops/sls/aliyungrant/").text


def django_user_model_create_superuser():  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("ops-sls", "ops-sls@example.com", "a-long-operator-password")
