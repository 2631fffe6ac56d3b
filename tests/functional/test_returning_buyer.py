"""The returning buyer (issue 11, items 1, 2, 10, 11, 15): 免登 again for an instance that settles
workspaces lands on the instance's page; 进入工作空间 is the owner's console sign-in with the username
filled in; 确定 never loops; 开通成功 leads to the workspace just opened; the other-account rows say
which account settles them, masked."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from html import unescape

import pytest
from django.db.models import F
from django.test import Client
from django.utils import timezone

from kaitong.accounts import actions as accounts
from kaitong.accounts.models import VerificationCode
from kaitong.workspaces.models import Workspace
from tests.support.activation import (
    STRONG_PASSWORD,
    bind_account,
    bind_workspace,
    enter,
    existing_account,
    open_instance,
    request_code,
    submit,
    verify_url,
)
from tests.support.marketplace import call_spi, create_params

pytestmark = pytest.mark.django_db

INSTANCE = "810001"
ALI_UID = "1673000000000301"


def _past_cooldown() -> None:
    """Every code sent so far as if sent two minutes ago: the next one is past the 60 s resend cooldown."""
    VerificationCode.objects.update(created_at=F("created_at") - timedelta(minutes=2))


def _bound_buyer(client: Client, *, workspaces: tuple[str, ...] = ("acme-prod", "acme-test")) -> list[Workspace]:
    """已有企业账号，去绑定: acme's account bound to the instance, every workspace in ``workspaces`` bound."""
    existing_account("acme", "ops@acme.example", workspaces=workspaces)
    open_instance(client, INSTANCE, ali_uid=ALI_UID)
    client.get(verify_url(INSTANCE))
    assert bind_account(client).status_code == 302
    bound = []
    for name in workspaces:
        workspace = Workspace.objects.get(name=name)
        _past_cooldown()
        assert bind_workspace(client, workspace.pk, "ops@acme.example").status_code == 302
        bound.append(workspace)
    return bound


_SECONDS = itertools.count(1)


def _new_entry_url(instance_id: str = INSTANCE) -> str:
    """A login-free URL the marketplace signs a few seconds later: each URL is used once."""
    return verify_url(instance_id, at=timezone.now() + timedelta(seconds=next(_SECONDS)))


def _come_back(instance_id: str = INSTANCE) -> tuple[Client, str]:
    """A second, new browser through 免登: where the entry leads, followed to the end."""
    browser = Client()
    answer = browser.get(_new_entry_url(instance_id), follow=True)
    assert answer.status_code == 200
    return browser, answer.redirect_chain[-1][0]


def _links(html: str, testid: str) -> list[str]:
    return [unescape(href) for href in re.findall(rf'href="([^"]+)"[^>]*data-testid="{testid}"', html)]


def test_a_returning_buyer_lands_on_the_instance_page_and_enters_each_workspace(client):
    prod, test = _bound_buyer(client)
    browser, landed = _come_back()
    assert landed == "/activate/instance/"
    page = browser.get(landed).content.decode()
    assert "我的观测云实例" in page and "正常" in page and INSTANCE in page and "acme-prod" in page
    assert "绑定观测云工作空间" not in page  # not the binding steps
    assert _links(page, "enter-workspace") == [
        f"/console/login/?username=acme&next=%2Fconsole%2Fworkspaces%2F{prod.pk}%2F",
        f"/console/login/?username=acme&next=%2Fconsole%2Fworkspaces%2F{test.pk}%2F",
    ]
    assert _links(page, "bind-other") == ["/activate/workspaces/"]
    # 进入工作空间 → the sign-in with the username filled in and the cursor in the password → the workspace.
    sign_in = browser.get(_links(page, "enter-workspace")[1]).content.decode()
    assert re.search(r'name="username"[^>]*value="acme"', sign_in)
    assert re.search(r'name="password"[^>]*autofocus', sign_in)
    assert f'name="next" value="/console/workspaces/{test.pk}/"' in sign_in
    answer = browser.post(
        _links(page, "enter-workspace")[1],
        {"username": "acme", "password": STRONG_PASSWORD, "next": f"/console/workspaces/{test.pk}/"},
    )
    assert answer.status_code == 302 and answer["Location"] == f"/console/workspaces/{test.pk}/"
    assert "acme-test" in browser.get(answer["Location"]).content.decode()
    # A wrong password: said, the username kept, the cursor back in the password.
    wrong = (
        Client()
        .post(
            _links(page, "enter-workspace")[1],
            {"username": "acme", "password": "not-the-password", "next": "/console/"},
        )
        .content.decode()
    )
    assert "用户名或密码错误" in wrong and re.search(r'name="password"[^>]*autofocus', wrong)
    # Signed in now: 进入工作空间 goes straight to the workspace, no password again.
    again = browser.get(_links(page, "enter-workspace")[0])
    assert again.status_code == 302 and again["Location"] == f"/console/workspaces/{prod.pk}/"


def test_the_instance_page_shows_the_expiry_in_beijing_time(client):
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod",))
    # The marketplace writes times in Beijing time; 2027-01-31 23:30 Beijing is 15:30 UTC.
    call_spi(client, create_params(INSTANCE, ali_uid=ALI_UID, expiredOn="2027-01-31 23:30:00"))
    client.get(verify_url(INSTANCE))
    bind_account(client)
    bind_workspace(client, Workspace.objects.get().pk, "ops@acme.example")
    browser, landed = _come_back()
    page = browser.get(landed).content.decode()
    assert re.search(r'data-testid="instance-expiry">2027-01-31 23:30（北京时间）<', page)


def test_the_instance_page_in_english(client):
    _bound_buyer(client, workspaces=("acme-prod",))
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    answer = browser.get(_new_entry_url(), follow=True)
    page = answer.content.decode()
    assert answer.redirect_chain[-1][0] == "/activate/instance/"
    for words in ("My Guance Cloud instance", "Enter workspace", "Bind another workspace", "Active", "Expires"):
        assert words in page, words
    main = page[page.index("<main") : page.index("</main>")]
    assert set(re.findall(r"[\u4e00-\u9fff]+", main)) <= {"中文"}  # only the language named in itself


def test_confirm_on_the_binding_page_never_loops(client):
    _bound_buyer(client, workspaces=("acme-prod", "acme-test"))
    browser, _ = _come_back()
    # 绑定其他工作空间, then 确定 with nothing bound in this session: back to the instance's page.
    listing = browser.get("/activate/workspaces/").content.decode()
    assert listing.count('data-testid="bound"') == 2
    assert _links(listing, "confirm") == ["/activate/instance/"]
    answer = browser.get("/activate/done/")
    assert answer.status_code == 302 and answer["Location"] == "/activate/instance/"


def test_confirm_with_nothing_bound_anywhere_says_what_to_do(client):
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod",))
    enter(client, INSTANCE, ali_uid=ALI_UID)
    bind_account(client)  # the account is bound, no workspace yet
    browser, landed = _come_back()
    assert landed == "/activate/workspaces/"
    listing = browser.get(landed).content.decode()
    assert 'data-testid="confirm"' not in listing and "请先绑定或创建一个工作空间" in listing
    answer = browser.get("/activate/done/", follow=True)
    assert answer.redirect_chain == [("/activate/workspaces/", 302)]
    assert "请先绑定或创建一个工作空间，再点击「确定」。" in answer.content.decode()


def test_a_workspace_owned_by_another_console_user_prefills_that_owner(client):
    (prod,) = _bound_buyer(client, workspaces=("acme-prod",))
    bob = accounts.do_register_verified_console_account(
        username="bobby", password_hash="!", email="bobby@acme.example", enterprise_name="", now=prod.created_at
    )
    Workspace.objects.filter(pk=prod.pk).update(owner_id=bob.console_account_id)
    browser, landed = _come_back()
    page = browser.get(landed).content.decode()
    expected = f"/console/login/?username=bobby&next=%2Fconsole%2Fworkspaces%2F{prod.pk}%2F"
    assert _links(page, "enter-workspace") == [expected]
    # Signed in as acme, 进入工作空间 for bobby's workspace asks for bobby, and says who is signed in.
    assert browser.post("/console/login/", {"username": "acme", "password": STRONG_PASSWORD}).status_code == 302
    asked = browser.get(_links(page, "enter-workspace")[0])
    body = asked.content.decode()
    assert asked.status_code == 200 and re.search(r'name="username"[^>]*value="bobby"', body)
    assert "您当前以 acme 登录" in body


def test_an_instance_that_expired_since_is_refused_with_its_page(client):
    _bound_buyer(client, workspaces=("acme-prod",))
    browser, _ = _come_back()
    call_spi(client, {"action": "expiredInstance", "instanceId": INSTANCE})
    answer = browser.get("/activate/instance/")
    assert answer.status_code == 409 and "云市场实例已不可用" in answer.content.decode()
    # And 免登 again is refused at the door with the existing page.
    refused = Client().get(_new_entry_url())
    assert refused.status_code == 403 and "实例已到期" in refused.content.decode()


def test_the_instance_page_without_a_settled_workspace_is_the_choosers_turn(client):
    enter(client, INSTANCE, ali_uid=ALI_UID)
    answer = client.get("/activate/instance/")
    assert answer.status_code == 302 and answer["Location"] == "/activate/"
    assert "立即注册观测云商业版" in client.get("/activate/").content.decode()


def test_done_leads_to_the_workspace_just_opened(client):
    _prod, test = _bound_buyer(client)
    done = client.get("/activate/done/").content.decode()
    to_console = _links(done, "to-console")
    assert to_console == [f"/console/login/?username=acme&next=%2Fconsole%2Fworkspaces%2F{test.pk}%2F"]
    answer = client.post(
        to_console[0], {"username": "acme", "password": STRONG_PASSWORD, "next": f"/console/workspaces/{test.pk}/"}
    )
    assert answer["Location"] == f"/console/workspaces/{test.pk}/"
    assert "开始使用观测云" in client.get(answer["Location"]).content.decode()


def test_done_is_titled_as_the_seed_and_labels_this_instances_cloud_account(client):
    account = existing_account("acme", "ops@acme.example", workspaces=("acme-prod",))
    # The account settles another instance already: 开通成功 shows only this one, and links the list.
    open_instance(client, "810009", ali_uid="3461000000013373")
    first = Client()
    first.get(verify_url("810009"))
    bind_account(first)
    _past_cooldown()
    enter(client, INSTANCE, ali_uid=ALI_UID)
    bind_account(client)
    path = "/activate/workspaces/create/"
    code = request_code(client, path, "ops@acme.example")
    fields = {"name": "acme-new", "language": "zh", "email": "ops@acme.example", "code": code, "agree": "on"}
    created = submit(client, path, fields)
    assert created.status_code == 302 and created["Location"] == "/activate/workspaces/"
    listing = client.get("/activate/workspaces/").content.decode()
    assert _links(listing, "confirm") == ["/activate/done/"]
    done = client.get("/activate/done/").content.decode()
    assert re.search(r"<title>成功绑定以下观测云工作空间", done)
    assert re.search(r'data-testid="done-heading">成功绑定以下观测云工作空间<', done)
    facts = done[done.index('data-testid="settling-cloud-account"') :]
    assert "结算云账号" in facts and ALI_UID in facts and INSTANCE in facts
    assert "3461000000013373" not in done and "810009" not in done
    assert _links(done, "all-cloud-accounts") == ["/billing/cloud-accounts/"]
    assert account.username in facts


def test_not_bindable_rows_say_which_account_settles_them_masked(client):
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod", "acme-test"))
    first = Client()
    open_instance(first, "810009", ali_uid="3461000000013373")
    first.get(verify_url("810009"))
    bind_account(first)
    bind_workspace(first, Workspace.objects.get(name="acme-prod").pk, "ops@acme.example")
    _past_cooldown()
    enter(client, INSTANCE, ali_uid=ALI_UID)
    bind_account(client)
    listing = client.get("/activate/workspaces/").content.decode()
    row = listing[listing.index('data-name="acme-prod"') : listing.index('data-name="acme-test"')]
    assert "其他云账号结算" in row and "不可绑定" in row
    assert re.search(r'data-testid="settled-by">阿里云账号 3461\*\*\*\*3373<', row)
    assert "3461000000013373" not in listing


def test_a_row_settled_by_the_buyers_own_other_instance_names_that_instance_not_a_masked_account(client):
    existing_account("acme", "ops@acme.example", workspaces=("acme-prod", "acme-test"))
    # The same Alibaba Cloud account bought instance 810009 first and settles acme-prod by it.
    first = Client()
    open_instance(first, "810009", ali_uid=ALI_UID)
    first.get(verify_url("810009"))
    bind_account(first)
    bind_workspace(first, Workspace.objects.get(name="acme-prod").pk, "ops@acme.example")
    _past_cooldown()
    enter(client, INSTANCE, ali_uid=ALI_UID)
    # The chooser recognises the aliUid's account and goes to its workspaces.
    assert client.get("/activate/")["Location"] == "/activate/workspaces/"
    listing = client.get("/activate/workspaces/").content.decode()
    row = listing[listing.index('data-name="acme-prod"') : listing.index('data-name="acme-test"')]
    assert re.search(r'data-testid="settled-by">由本阿里云账号的实例 810009 结算<', row)
    assert "其他云账号结算" not in row and "****" not in row and "不可绑定" in row
    listing = client.get("/activate/workspaces/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = listing[listing.index('data-name="acme-prod"') : listing.index('data-name="acme-test"')]
    assert re.search(r'data-testid="settled-by">Settled by instance 810009 of this Alibaba Cloud account<', row)


def test_the_instance_page_header_says_what_the_page_is(client):
    _bound_buyer(client, workspaces=("acme-prod",))
    page = Client().get(_new_entry_url(), follow=True).content.decode()
    assert re.search(r'data-testid="topnav-title">阿里云市场 · 我的观测云实例<', page)
    assert "· 开通观测云商业版" not in page
