"""The exclusive edition against a real simulator process, through the official STS and SLS SDKs:
each refusal of the AccessKey path, the role path from 同意授权 to the project in the buyer's account,
adoption of the buyer's own project, and the periodic check that tells the owner when a grant is lost."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone

from kaitong.notices.models import SentNotice
from kaitong.sls import actions, domain, queries
from kaitong.sls.models import AliyunGrant, SlsStorage
from kaitong.timeline.queries import instance_timeline
from kaitong.workspaces.models import Workspace
from tests.support.jobs import run_jobs
from tests.support.sls import REGION, exclusive_workspace, new_buyer, open_exclusive_instance, sim, vendor  # noqa: F401

pytestmark = pytest.mark.django_db


def verify_key(uid: str, access_key_id: str, secret: str) -> None:
    actions.do_verify_access_key(
        ali_uid=uid, access_key_id=access_key_id, access_key_secret=secret, region=REGION, now=timezone.now()
    )


# -- RAM 账号授权: each refusal, then success ------------------------------------------------------------


def test_a_wrong_secret_is_an_invalid_access_key(vendor):  # noqa: F811
    uid = new_buyer(vendor)
    akid, secret = vendor.create_access_key(uid)
    with pytest.raises(domain.InvalidAccessKey):
        verify_key(uid, akid, secret[:-1] + ("x" if secret[-1] != "x" else "y"))
    assert not AliyunGrant.objects.filter(ali_uid=uid).exists()


def test_an_unknown_or_revoked_key_is_an_invalid_access_key(vendor):  # noqa: F811
    uid = new_buyer(vendor)
    akid, secret = vendor.create_access_key(uid)
    vendor.revoke_access_key(akid)
    with pytest.raises(domain.InvalidAccessKey):
        verify_key(uid, akid, secret)
    with pytest.raises(domain.InvalidAccessKey):
        verify_key(uid, "LTAI" + "0" * 20, secret)


def test_a_key_of_another_account_is_refused(vendor):  # noqa: F811
    uid, other = new_buyer(vendor), new_buyer(vendor)
    akid, secret = vendor.create_access_key(other)
    with pytest.raises(domain.KeyOfAnotherAccount):
        verify_key(uid, akid, secret)
    assert not AliyunGrant.objects.filter(ali_uid=uid).exists()


def test_a_ram_user_without_the_sls_policy_is_refused(vendor):  # noqa: F811
    uid = new_buyer(vendor)
    akid, secret = vendor.create_access_key(uid, sls_policy=False)
    with pytest.raises(domain.NoSlsPermission):
        verify_key(uid, akid, secret)


def test_an_account_without_sls_is_refused(vendor):  # noqa: F811
    uid = new_buyer(vendor)
    akid, secret = vendor.create_access_key(uid)
    vendor.set_sls_active(uid, False)
    with pytest.raises(domain.SlsNotActivated):
        verify_key(uid, akid, secret)


def test_an_unreachable_cloud_is_said_so(vendor, settings):  # noqa: F811
    uid = new_buyer(vendor)
    settings.ENV = settings.ENV.model_copy(update={"aliyun_cloud_proxy": "http://127.0.0.1:9"})
    with pytest.raises(domain.CloudUnavailable):
        verify_key(uid, "LTAI" + "1" * 20, "s" * 30)


def test_a_ram_users_key_of_the_account_is_stored_sealed(vendor):  # noqa: F811
    uid = new_buyer(vendor)
    akid, secret = vendor.create_access_key(uid)
    verify_key(uid, akid, secret)
    grant = AliyunGrant.objects.get(ali_uid=uid)
    assert grant.access_key_id == akid and grant.secret_sealed and secret not in grant.secret_sealed
    view = queries.grant_of(uid)
    assert view is not None
    assert (view.method, view.state, view.masked_key_id) == ("access_key", "ok", domain.mask_key_id(akid))
    assert view.working


def test_the_main_accounts_own_key_works_too(vendor):  # noqa: F811
    uid = new_buyer(vendor)
    akid, secret = vendor.create_access_key(uid, ram_user=None)
    verify_key(uid, akid, secret)
    assert queries.grant_of(uid) is not None


# -- 第三方快捷授权, end to end ------------------------------------------------------------------------------


def test_the_role_path_from_authorisation_to_the_project_in_the_buyers_account(vendor):  # noqa: F811
    uid = new_buyer(vendor)
    with pytest.raises(domain.RoleNotAuthorised):  # 验证 before 同意授权
        actions.do_verify_role(ali_uid=uid, region=REGION, now=timezone.now())
    link = actions.role_link(ali_uid=uid, return_url="http://testserver/activate/aliyun/returned/")
    assert link.startswith(vendor.url + "/authorize/?") and f"aliyunuid={uid}" in link
    vendor.grant_role(uid)  # 同意授权 on the marketplace's page
    actions.do_verify_role(ali_uid=uid, region=REGION, now=timezone.now())
    grant = AliyunGrant.objects.get(ali_uid=uid)
    assert grant.method == "role" and grant.secret_sealed == ""

    open_exclusive_instance("710001", uid)
    workspace_id = exclusive_workspace("710001")
    assert Workspace.objects.get(pk=workspace_id).storage == "sls"
    pending = queries.storage_of(workspace_id)
    assert pending is not None and pending.state == "pending"
    assert pending.project == f"guance-wksp-{workspace_id}" and pending.region == REGION

    run_jobs(duties=False)
    ready = queries.storage_of(workspace_id)
    assert ready is not None and (ready.state, ready.adopted) == ("ready", False)
    (project,) = [p for p in vendor.sls_projects(uid) if p["name"] == f"guance-wksp-{workspace_id}"]
    assert project["region"] == REGION
    stores = {(s["name"], s["kind"], s["mode"]) for s in project["stores"]}
    assert stores == {(s.name, str(s.kind), str(s.mode)) for s in domain.STORES}

    # The operator's timeline of the instance tells the story.
    timeline = instance_timeline("710001")
    assert timeline is not None
    told = [event.text for event in timeline[1] if event.kind == "sls"]
    assert told == [
        "阿里云授权已验证（第三方快捷授权）",
        f"SLS Project {REGION}/guance-wksp-{workspace_id}：创建中",
        f"SLS Project {REGION}/guance-wksp-{workspace_id}: 已就绪",
    ]


def test_the_role_is_preferred_when_both_exist(vendor):  # noqa: F811
    uid = new_buyer(vendor)
    akid, secret = vendor.create_access_key(uid)
    verify_key(uid, akid, secret)
    vendor.grant_role(uid)
    actions.do_verify_role(ali_uid=uid, region=REGION, now=timezone.now())
    grant = AliyunGrant.objects.get(ali_uid=uid)
    assert grant.method == "role"
    vendor.revoke_access_key(akid)  # the key is not used while the role works
    open_exclusive_instance("710002", uid)
    workspace_id = exclusive_workspace("710002")
    run_jobs(duties=False)
    assert SlsStorage.objects.get(workspace_id=workspace_id).state == "ready"


def test_an_exclusive_workspace_needs_a_verified_grant_first(vendor):  # noqa: F811
    uid = new_buyer(vendor)
    open_exclusive_instance("710003", uid)
    with pytest.raises(domain.GrantNeeded):
        exclusive_workspace("710003")
    assert not Workspace.objects.filter(name="ws-710003").exists()


def test_a_site_without_sls_refuses_the_exclusive_workspace(vendor, settings):  # noqa: F811
    uid = new_buyer(vendor)
    vendor.grant_role(uid)
    actions.do_verify_role(ali_uid=uid, region=REGION, now=timezone.now())
    open_exclusive_instance("710004", uid)
    settings.ENV = settings.ENV.model_copy(update={"site_code": "cn2"})
    with pytest.raises(domain.SiteWithoutSls):
        exclusive_workspace("710004")


def test_a_commercial_workspace_stays_with_guance(vendor):  # noqa: F811
    from tests.support import billing

    (workspace,) = billing.workspaces(1, prefix="71")
    assert workspace.storage == "guance" and queries.storage_of(workspace.pk) is None


# -- adoption ---------------------------------------------------------------------------------------------


def test_the_buyers_own_project_of_that_name_is_adopted(vendor):  # noqa: F811
    uid = new_buyer(vendor)
    akid, secret = vendor.create_access_key(uid)
    verify_key(uid, akid, secret)
    open_exclusive_instance("720001", uid)
    workspace_id = exclusive_workspace("720001")
    name = domain.project_name(workspace_id)
    vendor.create_sls_project(uid, REGION, name)  # the buyer made it before the job ran
    run_jobs(duties=False)
    storage = queries.storage_of(workspace_id)
    assert storage is not None and (storage.state, storage.adopted) == ("ready", True)
    (project,) = [p for p in vendor.sls_projects(uid) if p["name"] == name]
    assert {s["name"] for s in project["stores"]} == {s.name for s in domain.STORES}


def test_another_accounts_project_of_that_name_is_not_adopted(vendor):  # noqa: F811
    uid, other = new_buyer(vendor), new_buyer(vendor)
    vendor.grant_role(uid)
    actions.do_verify_role(ali_uid=uid, region=REGION, now=timezone.now())
    open_exclusive_instance("720002", uid)
    workspace_id = exclusive_workspace("720002")
    vendor.create_sls_project(other, REGION, domain.project_name(workspace_id))
    run_jobs(duties=False)
    storage = SlsStorage.objects.get(workspace_id=workspace_id)
    assert storage.state == "failed" and not storage.adopted and "another account" in storage.error


# -- the periodic check -------------------------------------------------------------------------------------


def test_a_revoked_role_is_found_and_the_owner_told_in_the_workspace_language(vendor):  # noqa: F811
    uid = new_buyer(vendor)
    vendor.grant_role(uid)
    actions.do_verify_role(ali_uid=uid, region=REGION, now=timezone.now())
    open_exclusive_instance("730001", uid)
    workspace_id = exclusive_workspace("730001", language="en")
    run_jobs(duties=False)

    report = actions.do_check_grants(now=timezone.now())
    assert uid not in report.revoked and SentNotice.objects.count() == 0

    vendor.revoke_role(uid)  # 撤销授权 in the buyer's console
    report = actions.do_check_grants(now=timezone.now())
    assert uid in report.revoked
    grant = AliyunGrant.objects.get(ali_uid=uid)
    assert (grant.state, grant.problem) == ("revoked", "role_not_authorised") and grant.notified_at
    view = queries.grant_of(uid)
    assert view is not None and view.state == "revoked" and not view.working
    (notice,) = SentNotice.objects.filter(workspace_id=workspace_id, kind="sls_access_lost")
    assert notice.language == "en"
    run_jobs(duties=False)
    (message,) = mail.outbox
    assert "can no longer write to your Log Service (SLS)" in message.subject
    assert uid in message.body and "third-party quick authorization was revoked" in message.body

    actions.do_check_grants(now=timezone.now())  # still revoked: told once, not at every check
    assert SentNotice.objects.filter(kind="sls_access_lost").count() == 1
    with pytest.raises(domain.GrantRevoked):  # no new exclusive workspace on a lost grant
        exclusive_workspace("730001")

    vendor.grant_role(uid)  # authorised again
    report = actions.do_check_grants(now=timezone.now())
    assert uid in report.recovered and AliyunGrant.objects.get(ali_uid=uid).state == "ok"


def test_a_revoked_key_is_found_and_a_chinese_workspace_told_in_chinese(vendor):  # noqa: F811
    uid = new_buyer(vendor)
    akid, secret = vendor.create_access_key(uid)
    verify_key(uid, akid, secret)
    open_exclusive_instance("730002", uid)
    workspace_id = exclusive_workspace("730002", language="zh")
    vendor.revoke_access_key(akid)
    assert uid in actions.do_check_grants(now=timezone.now()).revoked
    assert AliyunGrant.objects.get(ali_uid=uid).problem == "invalid_key"
    run_jobs(duties=False)
    (message,) = [m for m in mail.outbox if f"ID {workspace_id}" in m.body]
    assert "无法再写入您的日志服务 SLS" in message.subject and "AccessKey 已失效" in message.body


def test_the_check_is_a_periodic_duty_of_the_one_scheduler():
    from kaitong.jobs import scheduler

    assert "sls.check_grants" in {duty.name for duty in scheduler.duties()}


def test_the_sealed_secret_is_registered_for_rotate_data_key():
    from kaitong.sealing.registry import sealed_fields

    assert any(field.model_label == "sls.AliyunGrant" for field in sealed_fields())


def test_a_workspaces_storage_never_changes_the_database_refuses():
    from django.db import DatabaseError, transaction

    from tests.support import billing

    (workspace,) = billing.workspaces(1, prefix="75")
    with pytest.raises(DatabaseError), transaction.atomic():
        Workspace.objects.filter(pk=workspace.pk).update(storage="sls")
    Workspace.objects.filter(pk=workspace.pk).update(name="renamed")  # other columns change freely
    assert Workspace.objects.get(pk=workspace.pk).storage == "guance"
