"""The official STS and SLS SDKs, unmodified, against a running simulator as their HTTP proxy.

This is how the vendor reaches "Alibaba" in the demo and the tests (``cloud_env``): the SDKs name the
real hosts (``sts.aliyuncs.com``, ``cn-hangzhou.log.aliyuncs.com``, ``<project>.cn-hangzhou.log.aliyuncs.com``)
and ``requests`` sends absolute-form request lines to the simulator's gunicorn, which routes by Host.
Both signatures are verified for real: a wrong secret is refused the way Alibaba refuses it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alibabacloud_sls20201230 import models as sls_models
from alibabacloud_sls20201230.client import Client as SlsClient
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi.utils_models import Config

from tests.support.simulator import (
    ISV_UID,
    SLS_ROLE,
    SLS_ROLE_EXTERNAL_ID,
    RunningSimulator,
    cloud_env,
    start_simulator,
)

REGION = "cn-hangzhou"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory):
    with start_simulator(Path(tmp_path_factory.mktemp("sim"))) as running:
        yield running


def _config(sim: RunningSimulator, endpoint: str, akid: str, secret: str, token: str | None = None) -> Config:
    env = cloud_env(sim)
    return Config(
        access_key_id=akid,
        access_key_secret=secret,
        security_token=token,
        endpoint=endpoint,
        protocol=env["KAITONG_ALIYUN_CLOUD_PROTOCOL"],
        http_proxy=env["KAITONG_ALIYUN_CLOUD_PROXY"],
        read_timeout=10000,
        connect_timeout=5000,
    )


def sts(sim: RunningSimulator, akid: str, secret: str, token: str | None = None) -> StsClient:
    return StsClient(_config(sim, "sts.aliyuncs.com", akid, secret, token))


def sls(sim: RunningSimulator, akid: str, secret: str, token: str | None = None) -> SlsClient:
    return SlsClient(_config(sim, f"{REGION}.log.aliyuncs.com", akid, secret, token))


def new_buyer(sim: RunningSimulator) -> str:
    uid = str(uuid.uuid4().int)[:16].rjust(16, "1")
    sim.add_account(uid=uid, name="buyer")  # the hook's accounts start with SLS activated
    return uid


def assume(sim: RunningSimulator, uid: str, **overrides) -> sts_models.AssumeRoleResponseBodyCredentials:
    request = sts_models.AssumeRoleRequest(
        role_arn=f"acs:ram::{uid}:role/{SLS_ROLE.lower()}",
        role_session_name="guance-verify",
        external_id=SLS_ROLE_EXTERNAL_ID,
        duration_seconds=900,
    )
    for name, value in overrides.items():
        setattr(request, name, value)
    return sts(sim, sim.access_key_id, sim.access_key_secret).assume_role(request).body.credentials


def refusal(call) -> Exception:
    with pytest.raises(Exception) as caught:  # the SDKs raise TeaException subclasses
        call()
    return caught.value


class TestSts:
    def test_caller_identity_of_a_main_account_key(self, sim):
        uid = new_buyer(sim)
        akid, secret = sim.create_access_key(uid, ram_user=None)
        assert akid.startswith("LTAI") and len(akid) == 24 and len(secret) == 30
        body = sts(sim, akid, secret).get_caller_identity().body
        assert (body.account_id, body.identity_type, body.arn) == (uid, "Account", f"acs:ram::{uid}:root")

    def test_caller_identity_of_a_ram_user_names_the_main_account(self, sim):
        uid = new_buyer(sim)
        akid, secret = sim.create_access_key(uid, ram_user="guance")
        body = sts(sim, akid, secret).get_caller_identity().body
        assert (body.account_id, body.identity_type) == (uid, "RAMUser")
        assert body.arn == f"acs:ram::{uid}:user/guance" and body.user_id != uid

    def test_the_isv_key_is_the_isv_account(self, sim):
        body = sts(sim, sim.access_key_id, sim.access_key_secret).get_caller_identity().body
        assert (body.account_id, body.identity_type) == (ISV_UID, "Account")

    def test_wrong_secret_is_signature_does_not_match(self, sim):
        akid, _ = sim.create_access_key(new_buyer(sim))
        error = refusal(lambda: sts(sim, akid, "x" * 30).get_caller_identity())
        assert error.code == "SignatureDoesNotMatch"

    def test_unknown_and_revoked_keys(self, sim):
        assert refusal(lambda: sts(sim, "LTAI" + "0" * 20, "s").get_caller_identity()).code == (
            "InvalidAccessKeyId.NotFound"
        )
        akid, secret = sim.create_access_key(new_buyer(sim))
        sim.revoke_access_key(akid)
        assert refusal(lambda: sts(sim, akid, secret).get_caller_identity()).code == "InvalidAccessKeyId.Inactive"

    def test_assume_role_then_sls_with_the_temporary_credentials(self, sim):
        uid = new_buyer(sim)
        arn = sim.grant_role(uid)
        assert arn == f"acs:ram::{uid}:role/{SLS_ROLE.lower()}"
        creds = assume(sim, uid)
        assert creds.access_key_id.startswith("STS.") and creds.security_token and creds.expiration.endswith("Z")
        who = sts(sim, creds.access_key_id, creds.access_key_secret, creds.security_token).get_caller_identity().body
        assert (who.account_id, who.identity_type) == (uid, "AssumedRoleUser")
        client = sls(sim, creds.access_key_id, creds.access_key_secret, creds.security_token)
        name = f"guance-wksp-{uid[-8:]}"
        client.create_project(sls_models.CreateProjectRequest(project_name=name, description="Guance"))
        client.create_log_store(
            name, sls_models.CreateLogStoreRequest(logstore_name="logging", ttl=30, shard_count=2, mode="standard")
        )
        client.create_log_store(
            name, sls_models.CreateLogStoreRequest(logstore_name="backup_log", ttl=30, shard_count=2, mode="query")
        )
        client.create_metric_store(name, sls_models.CreateMetricStoreRequest(name="metrics", ttl=30, shard_count=2))
        listed = client.list_project(sls_models.ListProjectRequest(offset=0, size=100)).body
        assert [p.project_name for p in listed.projects] == [name] and listed.total == 1
        assert client.get_project(name, sls_models.GetProjectRequest()).body.project_name == name
        calls = [(c["action"], c["code"]) for c in sim.state()["api_calls"]]
        assert ("SLS CreateMetricStore", "OK") in calls and ("STS AssumeRole", "OK") in calls
        [project] = sim.sls_projects(uid)
        assert (project["name"], project["region"]) == (name, REGION)
        assert [(s["name"], s["kind"], s["mode"]) for s in project["stores"]] == [
            ("logging", "logstore", "standard"),
            ("backup_log", "logstore", "query"),
            ("metrics", "metricstore", "standard"),
        ]

    def test_assume_role_refusals(self, sim):
        uid = new_buyer(sim)
        assert refusal(lambda: assume(sim, uid)).code == "EntityNotExist.Role"
        sim.grant_role(uid)
        assert refusal(lambda: assume(sim, uid, external_id="other")).code == "NoPermission"
        assert refusal(lambda: assume(sim, uid, duration_seconds=7200)).code == "InvalidParameter.DurationSeconds"
        # Only the ISV the role trusts may assume it: not the buyer's own key.
        akid, secret = sim.create_access_key(uid, ram_user=None)
        request = sts_models.AssumeRoleRequest(
            role_arn=f"acs:ram::{uid}:role/{SLS_ROLE}", role_session_name="s1", external_id=SLS_ROLE_EXTERNAL_ID
        )
        assert refusal(lambda: sts(sim, akid, secret).assume_role(request)).code == "NoPermission"

    def test_revoking_the_grant_stops_the_temporary_credentials(self, sim):
        uid = new_buyer(sim)
        sim.grant_role(uid)
        creds = assume(sim, uid)
        client = sls(sim, creds.access_key_id, creds.access_key_secret, creds.security_token)
        client.list_project(sls_models.ListProjectRequest())
        sim.revoke_role(uid)
        assert refusal(lambda: client.list_project(sls_models.ListProjectRequest())).code == "Unauthorized"
        assert refusal(lambda: assume(sim, uid)).code == "EntityNotExist.Role"

    def test_temporary_credentials_need_their_token(self, sim):
        uid = new_buyer(sim)
        sim.grant_role(uid)
        creds = assume(sim, uid)
        client = sls(sim, creds.access_key_id, creds.access_key_secret, "CAIS-not-the-token")
        assert refusal(lambda: client.list_project(sls_models.ListProjectRequest())).code == "Unauthorized"


class TestSls:
    def test_a_ram_user_with_the_policy_lists_and_creates(self, sim):
        uid = new_buyer(sim)
        akid, secret = sim.create_access_key(uid)
        client = sls(sim, akid, secret)
        client.create_project(sls_models.CreateProjectRequest(project_name=f"p-{uid}", description="d"))
        assert [p.project_name for p in client.list_project(sls_models.ListProjectRequest()).body.projects] == [
            f"p-{uid}"
        ]

    def test_wrong_secret_is_signature_not_match(self, sim):
        akid, _ = sim.create_access_key(new_buyer(sim))
        error = refusal(lambda: sls(sim, akid, "y" * 30).list_project(sls_models.ListProjectRequest()))
        assert error.code == "SignatureNotMatch"
        assert error.data["httpCode"] == 401 and error.data["requestId"]

    def test_no_sls_policy_is_unauthorized(self, sim):
        akid, secret = sim.create_access_key(new_buyer(sim), ram_user="readonly", sls_policy=False)
        assert refusal(lambda: sls(sim, akid, secret).list_project(sls_models.ListProjectRequest())).code == (
            "Unauthorized"
        )

    def test_revoked_and_unknown_keys_are_unauthorized(self, sim):
        akid, secret = sim.create_access_key(new_buyer(sim))
        sim.revoke_access_key(akid)
        assert refusal(lambda: sls(sim, akid, secret).list_project(sls_models.ListProjectRequest())).code == (
            "Unauthorized"
        )
        error = refusal(lambda: sls(sim, "LTAI" + "1" * 20, "z").list_project(sls_models.ListProjectRequest()))
        assert error.code == "Unauthorized"

    def test_sls_not_activated_is_service_not_enabled(self, sim):
        uid = new_buyer(sim)
        akid, secret = sim.create_access_key(uid)
        sim.set_sls_active(uid, False)
        error = refusal(lambda: sls(sim, akid, secret).list_project(sls_models.ListProjectRequest()))
        assert error.code == "ServiceNotEnabled" and error.data["httpCode"] == 403
        sim.set_sls_active(uid, True)
        sls(sim, akid, secret).list_project(sls_models.ListProjectRequest())

    def test_project_names_are_unique_in_a_region_across_accounts(self, sim):
        uid, other = new_buyer(sim), new_buyer(sim)
        sim.create_sls_project(other, REGION, f"taken-{other}")
        sim.create_sls_project(uid, REGION, f"mine-{uid}")
        akid, secret = sim.create_access_key(uid)
        client = sls(sim, akid, secret)
        for name in (f"taken-{other}", f"mine-{uid}"):
            error = refusal(lambda n=name: client.create_project(sls_models.CreateProjectRequest(project_name=n)))
            assert error.code == "ProjectAlreadyExist"
        # Only the buyer's own project is listed (what tells adoption from a name taken by someone else).
        assert [p.project_name for p in client.list_project(sls_models.ListProjectRequest()).body.projects] == [
            f"mine-{uid}"
        ]
        error = refusal(
            lambda: client.create_log_store(
                f"taken-{other}", sls_models.CreateLogStoreRequest(logstore_name="logging", ttl=30, shard_count=2)
            )
        )
        assert error.code == "Unauthorized"

    def test_store_already_exists_and_missing_project(self, sim):
        uid = new_buyer(sim)
        sim.create_sls_project(uid, REGION, f"p-{uid}")
        akid, secret = sim.create_access_key(uid)
        client = sls(sim, akid, secret)
        request = sls_models.CreateLogStoreRequest(logstore_name="event", ttl=30, shard_count=2)
        client.create_log_store(f"p-{uid}", request)
        assert refusal(lambda: client.create_log_store(f"p-{uid}", request)).code == "LogStoreAlreadyExist"
        assert refusal(lambda: client.create_log_store(f"nope-{uid}", request)).code == "ProjectNotExist"
