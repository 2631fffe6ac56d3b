"""An operator looks up billing-center accounts, cloud accounts, console accounts and workspaces in the
operator console (/ops/) by each key a buyer's question starts from, follows the links between them, and
never sees a secret."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kaitong.accounts.models import BillingAccount, CloudAccount, ConsoleAccount
from kaitong.workspaces import actions as workspace_actions
from kaitong.workspaces import domain as workspace_rules
from kaitong.workspaces.models import Workspace
from tests.support import accounts
from tests.support.activation import enter, existing_account, request_code
from tests.support.marketplace import call_spi, create_params

pytestmark = pytest.mark.django_db

ACCOUNTS = "/ops/accounts/billingaccount/"
CLOUD_ACCOUNTS = "/ops/accounts/cloudaccount/"
USERS = "/ops/accounts/consoleaccount/"
WORKSPACES = "/ops/workspaces/workspace/"


@dataclass(frozen=True)
class Buyer:
    username: str
    email: str
    ali_uid: str
    instance_id: str
    account: BillingAccount
    bound: Workspace  # settled by the instance
    direct: Workspace  # settled by the billing-center account


def _buyer(client: Client, username: str, ali_uid: str, instance_id: str) -> Buyer:
    """A buyer as the product leaves them: a console account with its billing-center account, an
    instance bought on the marketplace (SPI create) settling one workspace, and a second workspace."""
    email = f"ops@{username}.example"
    account = existing_account(username, email, workspaces=(f"{username}-direct",))
    call_spi(client, create_params(instance_id, ali_uid=ali_uid))
    bound_id = workspace_actions.do_create_workspace(
        billing_account_id=account.pk,
        name=f"{username}-bound",
        language="zh",
        settled_by=workspace_rules.by_instance(instance_id),
        reason=workspace_rules.Reason.CREATED_BOUND,
        acting="test",
        now=timezone.now(),
    )
    return Buyer(
        username=username,
        email=email,
        ali_uid=ali_uid,
        instance_id=instance_id,
        account=account,
        bound=Workspace.objects.get(pk=bound_id),
        direct=Workspace.objects.get(name=f"{username}-direct"),
    )


@pytest.fixture(autouse=True)
def _quick_password_hashes(settings):  # type: ignore[no-untyped-def]
    # Every test makes three accounts; Argon2 costs a second each on a busy machine. What is checked here
    # (that no stored hash is shown) does not depend on the hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def buyers(client: Client) -> tuple[Buyer, Buyer]:
    # Keys chosen so that no key of one is a part of the other's (a search matches parts of text).
    return (
        _buyer(client, "acme", "1673000000000301", "771001"),
        _buyer(client, "globex", "2584000000000412", "882002"),
    )


@pytest.fixture
def operator_client(client: Client) -> Client:
    client.force_login(accounts.operator())
    return client


def found(client: Client, page: str, term: str) -> list[object]:
    response = client.get(page, {"q": term})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def keys(buyer: Buyer) -> dict[str, str]:
    return {
        "username": buyer.username,
        "email": buyer.email,
        "aliUid": buyer.ali_uid,
        "instance": buyer.instance_id,
        "workspace id": str(buyer.bound.pk),
    }


class TestSearch:
    @pytest.mark.parametrize("key", ["username", "email", "aliUid", "instance", "workspace id"])
    def test_billing_accounts_by_each_key(self, operator_client, buyers, key):
        acme, _globex = buyers
        assert found(operator_client, ACCOUNTS, keys(acme)[key]) == [acme.account]

    @pytest.mark.parametrize("key", ["username", "email", "aliUid", "instance", "workspace id"])
    def test_cloud_accounts_by_each_key(self, operator_client, buyers, key):
        acme, _globex = buyers
        cloud_account = CloudAccount.objects.get(ali_uid=acme.ali_uid)
        assert found(operator_client, CLOUD_ACCOUNTS, keys(acme)[key]) == [cloud_account]

    @pytest.mark.parametrize("key", ["username", "email", "aliUid", "instance", "workspace id"])
    def test_console_accounts_by_each_key(self, operator_client, buyers, key):
        acme, _globex = buyers
        assert found(operator_client, USERS, keys(acme)[key]) == [ConsoleAccount.objects.get(username=acme.username)]

    @pytest.mark.parametrize("key", ["username", "email", "aliUid", "instance"])
    def test_workspaces_by_each_key(self, operator_client, buyers, key):
        acme, _globex = buyers
        expected = {acme.bound, acme.direct} if key in ("username", "email") else {acme.bound}
        assert set(found(operator_client, WORKSPACES, keys(acme)[key])) == expected

    def test_a_workspace_by_its_id_alone(self, operator_client, buyers):
        """An ID is matched whole: workspace 1 does not find workspaces 10, 11, 21…"""
        acme, globex = buyers
        for workspace in (acme.bound, acme.direct, globex.bound, globex.direct):
            assert found(operator_client, WORKSPACES, str(workspace.pk)) == [workspace]
        assert found(operator_client, WORKSPACES, "9999") == []

    def test_an_unknown_key_finds_nothing_and_is_no_error(self, operator_client, buyers):
        for page in (ACCOUNTS, CLOUD_ACCOUNTS, USERS, WORKSPACES):
            assert found(operator_client, page, "no-such-thing@nowhere") == []

    def test_the_search_box_says_what_it_searches(self, operator_client, buyers):
        page = operator_client.get(ACCOUNTS).content.decode()
        assert "按用户名、邮箱、阿里云账号 ID、云市场实例 ID 或工作空间 ID 查找" in page


class TestLinks:
    def links(self, client: Client, page: str) -> list[str]:
        text = client.get(page).content.decode()
        return [html.unescape(href) for href in re.findall(r'href="([^"]+)"', text)]

    def test_an_account_links_to_its_cloud_accounts_and_workspaces(self, operator_client, buyers):
        acme, _globex = buyers
        row = [link for link in self.links(operator_client, ACCOUNTS) if f"__exact={acme.account.pk}" in link]
        to_cloud = next(link for link in row if link.startswith(CLOUD_ACCOUNTS))
        to_workspaces = next(link for link in row if link.startswith(WORKSPACES))
        listed = operator_client.get(to_cloud).context["cl"].result_list
        assert [cloud_account.instance.instance_id for cloud_account in listed] == [acme.instance_id]
        assert set(operator_client.get(to_workspaces).context["cl"].result_list) == {acme.bound, acme.direct}

    def test_an_account_page_shows_its_cloud_accounts_and_workspaces(self, operator_client, buyers):
        acme, _globex = buyers
        page = operator_client.get(f"{ACCOUNTS}{acme.account.pk}/change/").content.decode()
        # The cloud account by its aliUid and the marketplace's instance ID (never the instance row's key).
        assert f"{acme.ali_uid} / {acme.instance_id}" in page
        assert f"{WORKSPACES}{acme.bound.pk}/change/" in page and f"{WORKSPACES}{acme.direct.pk}/change/" in page
        shown_ids = re.findall(r'<td class="field-workspace_id">\s*<p>(\d+)</p>', page)
        assert sorted(shown_ids) == sorted([str(acme.bound.pk), str(acme.direct.pk)])

    def test_a_workspace_links_to_its_account(self, operator_client, buyers):
        acme, _globex = buyers
        account_page = f"{ACCOUNTS}{acme.account.pk}/change/"
        assert account_page in self.links(operator_client, f"{WORKSPACES}?q={acme.bound.pk}")
        assert account_page in self.links(operator_client, f"{WORKSPACES}{acme.bound.pk}/change/")

    def test_a_cloud_account_links_to_its_account_instance_and_workspaces(self, operator_client, buyers):
        acme, _globex = buyers
        cloud = CloudAccount.objects.get(ali_uid=acme.ali_uid)
        links = self.links(operator_client, f"{CLOUD_ACCOUNTS}{cloud.pk}/change/")
        assert f"{ACCOUNTS}{acme.account.pk}/change/" in links
        assert f"/ops/marketplace/marketplaceinstance/{cloud.instance.pk}/change/" in links
        to_workspaces = next(link for link in links if link.startswith(WORKSPACES + "?"))
        assert list(operator_client.get(to_workspaces).context["cl"].result_list) == [acme.bound]

    def test_an_instance_links_to_its_account(self, operator_client, buyers):
        acme, _globex = buyers
        cloud = CloudAccount.objects.get(ali_uid=acme.ali_uid)
        links = self.links(operator_client, f"/ops/marketplace/marketplaceinstance/{cloud.instance.pk}/change/")
        assert f"{ACCOUNTS}{acme.account.pk}/change/" in links

    def test_a_console_account_links_to_its_account_and_its_workspaces(self, operator_client, buyers):
        acme, _globex = buyers
        user = ConsoleAccount.objects.get(username=acme.username)
        links = self.links(operator_client, f"{USERS}{user.pk}/change/")
        assert f"{ACCOUNTS}{acme.account.pk}/change/" in links
        to_workspaces = next(link for link in links if link.startswith(WORKSPACES + "?"))
        assert set(operator_client.get(to_workspaces).context["cl"].result_list) == {acme.bound, acme.direct}


class TestReadOnly:
    @pytest.mark.parametrize("page", [ACCOUNTS, CLOUD_ACCOUNTS, USERS, WORKSPACES])
    def test_nothing_can_be_added_changed_or_deleted(self, operator_client, buyers, page):
        model = {ACCOUNTS: BillingAccount, CLOUD_ACCOUNTS: CloudAccount, USERS: ConsoleAccount, WORKSPACES: Workspace}
        target = model[page].objects.order_by("pk").last()
        assert operator_client.get(f"{page}add/").status_code == 403
        assert operator_client.post(f"{page}{target.pk}/change/", {"email": "x@evil.example"}).status_code == 403
        assert operator_client.post(f"{page}{target.pk}/delete/", {"post": "yes"}).status_code == 403
        assert model[page].objects.filter(pk=target.pk).exists()


class TestNoSecrets:
    def pages(self, buyers: tuple[Buyer, ...]) -> list[str]:
        acme = buyers[0]
        cloud = CloudAccount.objects.get(ali_uid=acme.ali_uid)
        user = ConsoleAccount.objects.get(username=acme.username)
        return [
            ACCOUNTS,
            f"{ACCOUNTS}?q={acme.username}",
            f"{ACCOUNTS}{acme.account.pk}/change/",
            CLOUD_ACCOUNTS,
            f"{CLOUD_ACCOUNTS}{cloud.pk}/change/",
            USERS,
            f"{USERS}?q={acme.email}",
            f"{USERS}{user.pk}/change/",
            WORKSPACES,
            f"{WORKSPACES}{acme.bound.pk}/change/",
        ]

    def test_no_password_hash_token_or_code_on_any_page(self, operator_client, buyers):
        acme, _globex = buyers
        # A code mailed to the buyer (stored as an HMAC) must not surface either.
        visitor = Client()
        enter(visitor, "771003", ali_uid=acme.ali_uid)
        request_code(visitor, "/activate/bind/", acme.email, username=acme.username)
        from kaitong.accounts.models import VerificationCode

        secrets = [
            *ConsoleAccount.objects.values_list("password", flat=True),
            *Workspace.objects.values_list("token", flat=True),
            *VerificationCode.objects.values_list("code_hmac", flat=True),
        ]
        assert len(secrets) == 3 + 4 + 1 and all(len(secret) > 16 for secret in secrets)
        for page in self.pages(buyers):
            text = operator_client.get(page).content.decode()
            for secret in secrets:
                assert secret not in text, (page, secret[:12])
            # Nor a column or field for one (Django would show an empty or hashed password, or "tkn_…");
            # the header's own 修改密码 (the operator's password) is not the page's content.
            content = text.split('id="content"', 1)[1]
            for name in ("密码", "password", "Password", "tkn_", "令牌", "code_hmac", "验证码"):
                assert name not in content, (page, name)


def _queries(client: Client, page: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(page).status_code == 200
    return len(captured)


def test_list_pages_do_not_query_once_per_row(operator_client, buyers):
    """Counts and links of every row come with the page's query, not one query per row."""
    pages = (ACCOUNTS, CLOUD_ACCOUNTS, USERS, WORKSPACES)
    with_two = {page: _queries(operator_client, page) for page in pages}
    for n in range(3):
        _buyer(operator_client, f"more{n}", f"39{n}0000000000523", f"99300{n}")
    assert {page: _queries(operator_client, page) for page in pages} == with_two
