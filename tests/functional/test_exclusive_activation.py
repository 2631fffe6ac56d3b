"""The exclusive edition's activation pages (issue 13): the site guard, 绑定阿里云账号 and where it sits,
the read-only IDs, what the bind branch lists, the console's storage line.

Verification itself (STS and SLS through the official SDKs) runs against a real simulator process in
``TestWithTheSimulator``; the page mechanics of each refusal are driven by making the action refuse.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.utils import timezone

from kaitong.accounts.models import BillingAccount, ConsoleAccount
from kaitong.sls import domain as sls_rules
from kaitong.sls.models import AliyunGrant, SlsStorage
from kaitong.workspaces.models import Workspace
from tests.support.activation import (
    STRONG_PASSWORD,
    bind_account,
    confirming,
    enter,
    existing_account,
    request_code,
    submit,
)
from tests.support.jobs import run_jobs
from tests.support.simulator import RunningSimulator
from tests.support.sls import exclusive_workspace, open_exclusive_instance, sim, vendor  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db
EXCLUSIVE = "cmgj00060481"
ALIYUN, POLICY, RETURNED = "/activate/aliyun/", "/activate/aliyun/policy.json", "/activate/aliyun/returned/"
BASIC, ENTERPRISE, OPEN = "/activate/register/", "/activate/register/enterprise/", "/activate/register/open/"
CREATE, REGISTER_WS, LIST = "/activate/workspaces/create/", "/activate/workspaces/register/", "/activate/workspaces/"
SECRET = "s3cr3tS3cr3tS3cr3tS3cr3tS3cr3t"


def enter_exclusive(client, instance_id: str = "900001", ali_uid: str = "7000000000000001"):  # type: ignore[no-untyped-def]
    return enter(client, instance_id, ali_uid=ali_uid, productCode=EXCLUSIVE, skuId=f"{EXCLUSIVE}-postpay")


def register_account_steps(client) -> None:  # type: ignore[no-untyped-def]
    """基本信息 and 企业信息 of the registration branch; the account exists after them."""
    code = request_code(client, BASIC, "boss@initech.example")
    data = {
        "username": "Initech",
        "password1": STRONG_PASSWORD,
        "password2": STRONG_PASSWORD,
        "email": "boss@initech.example",
        "code": code,
        "phone": "",
    }
    assert submit(client, BASIC, confirming(data))["Location"] == ENTERPRISE
    return submit(client, ENTERPRISE, {"enterprise_name": "Initech 有限公司", "agree": "on"})


class TestSiteGuard:
    def test_a_site_without_sls_refuses_the_exclusive_product_and_writes_nothing(self, client, settings):
        settings.ENV = settings.ENV.model_copy(update={"site_code": "cn2", "site_name": "中国区2（宁夏）"})
        enter_exclusive(client)
        landing = client.get("/activate/")
        assert landing.status_code == 409
        page = landing.content.decode()
        assert "本站点不提供观测云专属版" in page and 'data-refusal="SiteWithoutSls"' in page
        for path in (BASIC, "/activate/bind/", ALIYUN, CREATE, REGISTER_WS):
            assert client.get(path).status_code == 409
        posted = client.post("/activate/bind/", {"username": "acme", "email": "a@b.example", "code": "123456"})
        assert posted.status_code == 302 and posted["Location"] == "/activate/bind/"
        assert not BillingAccount.objects.exists() and not ConsoleAccount.objects.exists()
        assert not Workspace.objects.exists()

    def test_the_same_site_serves_the_commercial_product(self, client, settings):
        settings.ENV = settings.ENV.model_copy(update={"site_code": "cn2", "site_name": "中国区2（宁夏）"})
        enter(client, "900002")
        assert client.get("/activate/").status_code == 200

    @pytest.mark.parametrize("site", ["cn1", "cn3"])
    def test_cn1_and_cn3_serve_it(self, client, settings, site):
        settings.ENV = settings.ENV.model_copy(update={"site_code": site})
        enter_exclusive(client)
        page = client.get("/activate/").content.decode()
        assert "欢迎使用观测云专属版" in page and "立即注册观测云专属版" in page

    def test_in_english(self, client, settings):
        settings.ENV = settings.ENV.model_copy(update={"site_code": "us1"})
        enter_exclusive(client)
        page = client.get("/activate/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "This site does not offer Guance Cloud Exclusive" in page


class TestAliyunPage:
    def test_registration_goes_through_it_before_the_open_step(self, client):
        enter_exclusive(client)
        response = register_account_steps(client)
        assert response.status_code == 302 and response["Location"] == ALIYUN
        page = client.get(ALIYUN).content.decode()
        for said in (
            "绑定阿里云账号",
            "RAM 账号授权",
            "第三方快捷授权",
            "立即前往授权",
            "AccessKey ID",
            "AccessKey Secret",
        ):
            assert said in page
        assert 'href="/activate/aliyun/policy.json"' in page
        assert 'type="password" name="access_key_secret"' in page
        # The open step waits for the grant: it sends the buyer back here.
        assert client.get(OPEN)["Location"] == ALIYUN
        assert not Workspace.objects.exists()

    def test_a_commercial_instance_never_sees_it(self, client):
        enter(client, "900003")
        assert client.get(ALIYUN)["Location"] == "/activate/"
        response = register_account_steps(client)
        assert response["Location"] == OPEN

    def test_the_policy_is_the_file_the_sls_capability_ships(self, client):
        response = client.get(POLICY)
        assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
        body = response.content
        from kaitong.sls import policy

        assert body == policy.document() and json.loads(body)["Statement"]

    def test_the_role_link_goes_to_the_marketplace_with_our_return_url(self, client):
        enter_exclusive(client, ali_uid="7000000000000009")
        page = client.get(ALIYUN).content.decode()
        link = page.split('data-testid="role-link"')[0].rsplit('href="', 1)[1].split('"')[0]
        assert "aliyunuid=7000000000000009" in link and "returnurl=" in link
        assert "%2Factivate%2Faliyun%2Freturned%2F" in link

    def test_back_from_the_marketplace_says_verify(self, client):
        enter_exclusive(client)
        response = client.get(RETURNED + "?token=opaque-token", follow=True)
        assert response.redirect_chain[-1][0].startswith(ALIYUN)
        assert "请点击「验证」" in response.content.decode()
        cancelled = client.get(RETURNED, follow=True).content.decode()
        assert "未完成授权" in cancelled


REFUSALS = [
    (sls_rules.InvalidAccessKey, 400, "该 AccessKey 无效，请重新填写"),
    (sls_rules.KeyOfAnotherAccount, 400, "该 AccessKey 不属于购买本实例的阿里云账号"),
    (sls_rules.NoSlsPermission, 403, "没有日志服务 SLS 的操作权限"),
    (sls_rules.SlsNotActivated, 409, "尚未开通日志服务 SLS"),
    (sls_rules.CloudUnavailable, 409, "暂时无法连接阿里云"),
]


@pytest.fixture
def refusing(monkeypatch) -> Iterator[list[type[Exception]]]:  # type: ignore[no-untyped-def]
    """Make both verifications refuse with the exception the test puts in the list."""
    from kaitong.activation import views

    refusal: list[type[Exception]] = []

    def refuse(**kwargs: object) -> None:
        raise refusal[0]()

    monkeypatch.setattr(views.sls_actions, "do_verify_access_key", refuse)
    monkeypatch.setattr(views.sls_actions, "do_verify_role", refuse)
    yield refusal


class TestRefusals:
    @pytest.mark.parametrize(("refusal", "status", "message"), REFUSALS)
    def test_each_key_refusal_is_said_above_the_key_form_and_the_secret_never_comes_back(
        self, client, refusing, refusal, status, message
    ):
        refusing.append(refusal)
        enter_exclusive(client)
        response = submit(
            client, ALIYUN, {"way": "key", "access_key_id": "LTAI5tExampleExample1234", "access_key_secret": SECRET}
        )
        assert response.status_code == status
        page = response.content.decode()
        assert message in page
        key_section = page.split('data-testid="way-key"')[1].split('data-testid="way-role"')[0]
        assert message in key_section  # above the form of its own way
        assert 'value="LTAI5tExampleExample1234"' in page  # the id is kept, the secret is not
        assert SECRET not in page and SECRET not in str(dict(client.session))

    @pytest.mark.parametrize(
        ("refusal", "status", "message"),
        [
            (sls_rules.RoleNotAuthorised, 409, "尚未完成第三方快捷授权"),
            (sls_rules.SlsNotActivated, 409, "尚未开通日志服务 SLS"),
            (sls_rules.NoSlsPermission, 403, "没有日志服务 SLS 的操作权限"),
        ],
    )
    def test_each_role_refusal_is_said_above_the_role_form(self, client, refusing, refusal, status, message):
        refusing.append(refusal)
        enter_exclusive(client)
        response = submit(client, ALIYUN, {"way": "role"})
        assert response.status_code == status
        role_section = response.content.decode().split('data-testid="way-role"')[1]
        assert message in role_section

    def test_an_empty_key_form_is_refused_by_the_form(self, client, refusing):
        enter_exclusive(client)
        response = submit(client, ALIYUN, {"way": "key", "access_key_id": "", "access_key_secret": ""})
        assert response.status_code == 400 and "请填写AccessKey ID" in response.content.decode()

    def test_english(self, client, refusing):
        refusing.append(sls_rules.InvalidAccessKey)
        enter_exclusive(client)
        client.post("/i18n/setlang/", {"language": "en", "next": "/"})
        response = submit(client, ALIYUN, {"way": "key", "access_key_id": "LTAI5tExample", "access_key_secret": SECRET})
        assert "This AK is invalid, please fill it in again" in response.content.decode()


def account_with_both_editions() -> Workspace:
    """acme with a commercial and an exclusive workspace; returns the commercial one."""
    account = existing_account("acme", "ops@acme.example", workspaces=("acme-commercial",))
    commercial = Workspace.objects.get()
    Workspace.objects.create(
        name="acme-sls",
        language="zh",
        token="tkn_" + "0" * 32,
        owner=account.console_account,
        billing_account=account,
        storage="sls",
        created_at=commercial.created_at,
    )
    return commercial


def test_a_commercial_instance_binds_only_commercial_workspaces(client):
    account_with_both_editions()
    enter(client, "900010", ali_uid="7000000000000010")
    assert bind_account(client)["Location"] == LIST
    listing = client.get(LIST).content.decode()
    assert "acme-commercial" in listing and "acme-sls" not in listing
    assert "商业版与专属版之间不能互相转换" in listing


def test_an_exclusive_instance_binds_only_exclusive_workspaces(client):
    commercial = account_with_both_editions()
    enter_exclusive(client, "900011", ali_uid="7000000000000011")
    assert bind_account(client)["Location"] == ALIYUN  # the documented order: the Alibaba account next
    verified_grant("7000000000000011")
    listing = client.get(LIST).content.decode()
    assert "acme-sls" in listing and "acme-commercial" not in listing
    assert "此处仅列出专属版" in listing and "商业版与专属版之间不能互相转换" in listing
    assert client.get(f"/activate/workspaces/{commercial.pk}/bind/").status_code == 404


def test_creating_needs_the_grant(client):
    existing_account("acme", "ops@acme.example")
    enter_exclusive(client, "900012")
    bind_account(client)
    assert client.get(CREATE)["Location"] == ALIYUN
    posted = client.post(CREATE, {"name": "x", "language": "zh", "email": "ops@acme.example", "code": "123456"})
    assert posted["Location"] == ALIYUN
    page = client.get(ALIYUN).content.decode()
    assert "请先绑定阿里云账号" in page
    assert not Workspace.objects.exists()
    assert settings.ENV.site_code == "cn1"


def verified_grant(ali_uid: str, state: str = "ok") -> None:
    """The buyer's grant as 验证 leaves it (the row alone: no cloud here), or as the check leaves a lost one."""
    AliyunGrant.objects.create(
        ali_uid=ali_uid, role_name="AliyunMarketGuanceSLSRole", verified_at=timezone.now(), state=state
    )


def flash(page: str, kind: str) -> list[str]:
    return [item.split("</li>")[0] for item in page.split(f'<li class="flash-{kind}">')[1:]]


class TestEveryStepPastTheAccountGoesThroughTheGrant:
    """The stepper never ticks 绑定阿里云账号 unless it is done: Back (or a typed URL) from the Alibaba
    account's page to the list of workspaces, its 绑定 dialog or 开通成功 leads back to it."""

    UID = "7000000000000021"

    def test_back_to_the_list_and_past_it_leads_to_the_alibaba_account(self, client):
        account_with_both_editions()
        enter_exclusive(client, "900021", ali_uid=self.UID)
        assert bind_account(client)["Location"] == ALIYUN
        sls_workspace = Workspace.objects.get(name="acme-sls")
        for path in (LIST, f"/activate/workspaces/{sls_workspace.pk}/bind/", "/activate/bind/", "/activate/"):
            assert client.get(path)["Location"] == ALIYUN, path
        page = client.get(ALIYUN).content.decode()
        assert f'href="{LIST}" data-testid="next"' not in page  # nothing verified: no 下一步
        assert "费用中心账号已绑定，请选择要绑定的工作空间" not in page
        assert not client.get(LIST, follow=True).redirect_chain[-1][0].startswith(LIST)
        verified_grant(self.UID)
        page = client.get(ALIYUN).content.decode()
        assert f'href="{LIST}" data-testid="next"' in page  # 下一步 comes back to the list
        listing = client.get(LIST)
        assert listing.status_code == 200 and "acme-sls" in listing.content.decode()

    def test_a_revoked_grant_leads_there_too(self, client):
        existing_account("acme", "ops@acme.example")
        verified_grant(self.UID, state="revoked")
        enter_exclusive(client, "900022", ali_uid=self.UID)
        bind_account(client)
        assert client.get(LIST)["Location"] == ALIYUN
        assert 'data-testid="grant-revoked"' in client.get(ALIYUN).content.decode()

    def test_after_the_account_the_alibaba_account_is_said_as_the_next_step_not_an_error(self, client):
        existing_account("acme", "ops@acme.example")
        enter_exclusive(client, "900023", ali_uid=self.UID)
        assert bind_account(client)["Location"] == ALIYUN
        page = client.get(ALIYUN).content.decode()
        assert flash(page, "success") == ["费用中心账号绑定成功"]
        assert flash(page, "error") == []
        assert flash(page, "info") == ["请绑定阿里云账号：验证通过后，即可绑定或创建专属版工作空间。"]

    def test_a_commercial_instance_goes_straight_to_its_list(self, client):
        existing_account("acme", "ops@acme.example")
        enter(client, "900024", ali_uid=self.UID)
        assert bind_account(client)["Location"] == LIST
        assert client.get(LIST).status_code == 200


def test_the_secret_is_said_to_be_used_for_exactly_what_the_policy_allows(client):
    enter_exclusive(client)
    page = client.get(ALIYUN).content.decode()
    said = page.split('data-testid="key-use">')[1].split("</span>")[0]
    assert "创建和写入" not in said and "验证访问权限" in said and "Project" in said
    from kaitong.sls import policy

    actions = {a for statement in json.loads(policy.document())["Statement"] for a in statement["Action"]}
    assert actions == {"log:ListProject", "log:CreateProject", "log:CreateLogStore", "log:CreateMetricStore"}


def test_the_returned_note_goes_once_verify_was_tried(client, refusing):
    refusing.append(sls_rules.RoleNotAuthorised)
    enter_exclusive(client)
    client.get(RETURNED + "?token=opaque-token")
    assert 'data-testid="role-returned"' in client.get(ALIYUN).content.decode()
    page = submit(client, ALIYUN, {"way": "role"}).content.decode()
    assert "尚未完成第三方快捷授权" in page and 'data-testid="role-returned"' not in page
    assert 'data-testid="role-returned"' not in client.get(ALIYUN).content.decode()


class TestConsoleStorage:
    UID = "7000000000000031"

    def console(self, client, state: str, language: str = "zh-hans") -> str:  # type: ignore[no-untyped-def]
        verified_grant(self.UID)
        open_exclusive_instance("900031", self.UID)
        workspace_id = exclusive_workspace("900031")
        SlsStorage.objects.filter(workspace_id=workspace_id).update(state="ready", ready_at=timezone.now())
        AliyunGrant.objects.filter(ali_uid=self.UID).update(state=state)
        client.force_login(Workspace.objects.get(pk=workspace_id).owner)
        client.cookies["django_language"] = language
        page = client.get(f"/console/workspaces/{workspace_id}/").content.decode()
        return page.split('data-testid="storage"')[1].split('class="ws-switch"')[0].split("</section>")[0]

    def test_a_revoked_grant_pauses_writing_and_says_how_to_authorise_again(self, client):
        line = self.console(client, "revoked")
        assert "授权已失效，暂停写入" in line and "已就绪" not in line
        assert "请从阿里云市场「已购买的服务」点击「免登」进入，在「绑定阿里云账号」中重新授权。" in line

    def test_a_working_grant_is_ready(self, client):
        line = self.console(client, "ok")
        assert "已就绪" in line and "授权已失效" not in line and "重新授权" not in line

    def test_in_english_with_a_colon_of_its_own(self, client):
        line = self.console(client, "revoked", "en")
        assert "Data storage: <b>Log Service (SLS)</b>" in line and "：" not in line
        assert "Authorization revoked, writing paused" in line and "authorize again" in line


# -- against a real simulator process: the official SDKs verify, the job creates the project ------------------


@pytest.fixture
def cloud(vendor: RunningSimulator) -> RunningSimulator:  # noqa: F811
    """The vendor's STS and SLS calls sent to a simulator of this test's own, with the buyer and another
    account in it."""
    for uid in (TestWithTheSimulator.UID, "7100000000000099"):
        vendor.add_account(uid=uid, name=f"买家 {uid[-4:]}")
    return vendor


def verify_key(client, akid: str, secret: str):  # type: ignore[no-untyped-def]
    return submit(client, ALIYUN, {"way": "key", "access_key_id": akid, "access_key_secret": secret})


class TestWithTheSimulator:
    UID = "7100000000000001"

    def test_access_key_way_from_registration_to_the_project_in_the_buyers_sls(self, client, cloud):
        akid, secret = cloud.create_access_key(self.UID)
        enter_exclusive(client, "910001", ali_uid=self.UID)
        assert register_account_steps(client)["Location"] == ALIYUN
        response = verify_key(client, akid, secret)  # back to the page (PRG), now verified
        page = response.content.decode()
        assert response.status_code == 200 and 'data-testid="aliyun-verified"' in page
        assert akid not in page and secret not in page and secret not in str(dict(client.session))
        assert f'href="{OPEN}" data-testid="next"' in page  # 下一步: back to the step that sent the buyer here
        open_page = client.get(OPEN).content.decode()
        assert "确认开通" in open_page and 'value="7100000000000001"' in open_page and 'value="910001"' in open_page
        assert "日志服务 SLS · cn-hangzhou" in open_page
        assert submit(client, OPEN, {"name": "initech-sls", "language": "zh"})["Location"] == "/activate/done/"
        workspace = Workspace.objects.get()
        assert workspace.storage == "sls"
        assert "成功开通观测云专属版" in client.get("/activate/done/").content.decode()
        run_jobs()
        (project,) = cloud.sls_projects(self.UID)
        assert project["name"] == f"guance-wksp-{workspace.pk}" and project["region"] == "cn-hangzhou"
        client.force_login(workspace.owner)
        console = client.get(f"/console/workspaces/{workspace.pk}/").content.decode()
        assert "日志服务 SLS" in console and f"guance-wksp-{workspace.pk}" in console and "已就绪" in console
        assert "授权已失效" not in console

    @pytest.mark.parametrize(
        ("setup", "message"),
        [
            ("wrong-secret", "该 AccessKey 无效，请重新填写"),
            ("other-account", "该 AccessKey 不属于购买本实例的阿里云账号"),
            ("no-policy", "没有日志服务 SLS 的操作权限"),
            ("sls-off", "尚未开通日志服务 SLS"),
        ],
    )
    def test_each_access_key_refusal_from_the_real_sdks(self, client, cloud, setup, message):
        uid = self.UID
        akid, secret = cloud.create_access_key(uid, sls_policy=setup != "no-policy")
        if setup == "wrong-secret":
            secret = secret[:-1] + ("x" if secret[-1] != "x" else "y")
        elif setup == "other-account":
            akid, secret = cloud.create_access_key("7100000000000099")
        elif setup == "sls-off":
            cloud.set_sls_active(uid, False)
        enter_exclusive(client, "910002", ali_uid=uid)
        response = verify_key(client, akid, secret)
        page = response.content.decode()
        assert response.status_code in (400, 403, 409) and message in page
        assert secret not in page and secret not in str(dict(client.session))
        assert 'data-testid="aliyun-verified"' not in page

    def test_role_way_and_the_console_says_when_it_is_revoked(self, client, cloud):
        existing_account("acme", "ops@acme.example")
        enter_exclusive(client, "910003", ali_uid=self.UID)
        assert bind_account(client)["Location"] == ALIYUN
        refused = submit(client, ALIYUN, {"way": "role"})
        assert refused.status_code == 409 and "尚未完成第三方快捷授权" in refused.content.decode()
        page = client.get(ALIYUN).content.decode()
        link = page.split('data-testid="role-link"')[0].rsplit('href="', 1)[1].split('"')[0]
        assert link.startswith(cloud.url + "/authorize/?")
        cloud.grant_role(self.UID)  # 同意授权 on the marketplace's page
        client.get(RETURNED + "?token=from-the-marketplace")
        page = submit(client, ALIYUN, {"way": "role"}).content.decode()
        assert 'data-testid="aliyun-verified"' in page and "第三方快捷授权" in page
        assert f'href="{LIST}" data-testid="next"' in page
        # 创建工作空间 now opens; the IDs and the storage are shown read-only.
        create = client.get(CREATE).content.decode()
        assert 'data-testid="open-ali-uid"' in create and "日志服务 SLS · cn-hangzhou" in create
        code = request_code(client, CREATE, "ops@acme.example")
        data = {"name": "acme-sls", "language": "en", "email": "ops@acme.example", "code": code, "agree": "on"}
        assert submit(client, CREATE, data)["Location"] == LIST
        workspace = Workspace.objects.get()
        run_jobs()
        assert [p["name"] for p in cloud.sls_projects(self.UID)] == [f"guance-wksp-{workspace.pk}"]
        cloud.revoke_role(self.UID)
        from kaitong.sls import actions as sls_actions

        sls_actions.do_check_grants(now=timezone.now())
        client.force_login(workspace.owner)
        console = client.get(f"/console/workspaces/{workspace.pk}/").content.decode()
        assert f"guance-wksp-{workspace.pk}" in console and 'data-testid="grant-state"' in console
        assert "授权已失效" in console
        # And a new exclusive workspace waits for a new authorisation.
        assert client.get(CREATE)["Location"] == ALIYUN
        assert 'data-testid="grant-revoked"' in client.get(ALIYUN).content.decode()
