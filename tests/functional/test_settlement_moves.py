"""更改结算方式 in the billing center (issue 12): every refusal and success of the page, as a buyer meets
them, in Chinese and in English; each refusal changes nothing and tells nobody, each success writes one
audit row and queues one notice in the workspace's language."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from kaitong.notices.models import SentNotice
from kaitong.workspaces import domain as rules
from kaitong.workspaces.models import SettlementChange, Workspace
from tests.support import html
from tests.support.billing import open_instances, owner, workspaces
from tests.support.marketplace import call_spi, create_params

pytestmark = pytest.mark.django_db

UID = "1234567890123456"  # create_params' aliUid
CJK = re.compile(r"[\u4e00-\u9fff]")


def page_of(workspace_id: int) -> str:
    return f"/billing/workspaces/{workspace_id}/settlement/"


def form_token(page: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', page)
    assert found, "the form has no token"
    return found.group(1)


def post(client, workspace_id: int, **fields: str):  # type: ignore[no-untyped-def]
    """Submit the page's form as a browser does: with the token of a freshly loaded page. A page that
    offers no form (the rules refuse any move now) is submitted as from a tab opened earlier."""
    token = fields.pop("form_token", None)
    if token is None:
        page = client.get(page_of(workspace_id)).content.decode()
        token = form_token(page) if 'name="form_token"' in page else secrets.token_urlsafe(24)
    return client.post(page_of(workspace_id), {"form_token": token, **fields})


def to_aliyun(instance_id: str, ali_uid: str = UID) -> dict[str, str]:
    return {"method": "aliyun", "ali_uid": ali_uid, "instance_id": instance_id}


TO_BILLING = {"method": "billing_account"}


def changes(workspace: Workspace) -> list[tuple[str, str, str, str]]:
    return list(
        SettlementChange.objects.filter(workspace=workspace)
        .order_by("at", "id")
        .values_list("reason", "from_instance_id", "to_method", "to_instance_id")
    )


def notices() -> list[dict]:
    """The settlement-changed emails queued, as (to, language, context)."""
    return [
        {"to": notice.recipient, "language": notice.language, "context": notice.context}
        for notice in SentNotice.objects.filter(kind="settlement_changed", channel="email").order_by("id")
    ]


def settled(workspace: Workspace) -> tuple[str, str]:
    workspace = Workspace.objects.select_related("cloud_account__instance").get(pk=workspace.pk)
    return workspace.settlement, workspace.cloud_account.instance.instance_id if workspace.cloud_account else ""


def expire(client, instance_id: str) -> None:  # type: ignore[no-untyped-def]
    """The marketplace expires the instance (the scripted marketplace cannot confirm: applied, flagged)."""
    call_spi(client, {"action": "expiredInstance", "instanceId": instance_id})


def release(client, instance_id: str) -> None:  # type: ignore[no-untyped-def]
    call_spi(client, {"action": "releaseInstance", "instanceId": instance_id, "isRefund": "false"})


def assert_no_way_to_move(page: str) -> None:
    """The page says why not, and offers neither the form nor the unlock link generator."""
    for gone in ('data-testid="settlement-form"', 'name="ali_uid"', 'name="instance_id"', "issue-unlock-link"):
        assert gone not in page, gone


@pytest.fixture
def buyer(client):
    """A signed-in owner with one workspace settled by the billing-center account, and two instances of
    its Alibaba account, bought but not yet settling anything."""
    user = owner()
    (ws,) = workspaces(1, alibaba=False, user=user)
    open_instances(["700001", "700002"])
    client.force_login(user)
    return ws


@pytest.fixture
def english(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


class TestTheWorkspacesList:
    def test_each_workspace_with_its_settlement_and_what_may_change(self, client, buyer):
        open_instances(["700003"])
        (on_instance,) = workspaces(1, user=buyer.owner, instance_ids=["700003"], prefix="7")
        page = client.get("/billing/workspaces/").content.decode()
        rows = html.table(page, "managed-workspaces")
        assert rows[0] == ["工作空间", "结算方式", "结算实例", "操作"]
        assert rows[1][:3] == [f"{buyer.name} ID {buyer.pk} · 中文", "费用中心账号结算", "—"]
        assert rows[2][1] == "阿里云账号结算"
        assert rows[2][2] == "700003 正常 阿里云账号 1234****3456"
        # A subscribed cloud account keeps its workspace: the button is disabled, and says why.
        assert rows[2][3] == "更改结算方式 订阅中，不可更改"
        assert f'href="{page_of(on_instance.pk)}"' not in page and f'href="{page_of(buyer.pk)}"' in page
        assert UID not in page  # the account ID only masked
        assert html.texts(page, "billing-nav") == ["账单 工作空间管理 云账号 高消费预警"]
        assert on_instance.pk != buyer.pk

    def test_in_english(self, english, buyer):
        page = english.get("/billing/workspaces/").content.decode()
        assert html.table(page, "managed-workspaces")[0] == ["Workspaces", "Settlement", "Settling instance", "Action"]
        assert html.texts(page, "billing-nav") == ["Bills Workspace management Cloud accounts High-spend alerts"]

    def test_the_list_costs_the_same_few_queries_for_many_workspaces(
        self, client, buyer, django_assert_max_num_queries
    ):
        workspaces(6, alibaba=False, user=buyer.owner, prefix="8")
        with django_assert_max_num_queries(8):  # session, user, workspaces, audit rows, active instances
            client.get("/billing/workspaces/")

    def test_signing_in_first(self, client, buyer):
        client.logout()
        response = client.get("/billing/workspaces/")
        assert response.status_code == 302 and response["Location"].startswith("/console/login/")


class TestMovingTheSettlement:
    def test_from_the_billing_center_account_to_an_alibaba_instance(self, client, buyer):
        response = post(client, buyer.pk, **to_aliyun("700001"))
        assert response.status_code == 302 and response["Location"] == page_of(buyer.pk)
        assert settled(buyer) == ("aliyun", "700001")
        (_created, moved) = changes(buyer)
        assert moved == ("moved", "", "aliyun", "700001")
        change = SettlementChange.objects.filter(workspace=buyer).latest("id")
        assert change.acting == f"buyer {buyer.owner.username}"
        (notice,) = notices()
        assert notice["to"] == buyer.owner.email and notice["language"] == "zh"
        assert notice["context"] == {
            "from_settlement": "billing_account",
            "to_settlement": "aliyun",
            "instance_id": "700001",
            "workspace_id": buyer.pk,
            "workspace_name": buyer.name,
        }
        page = client.get(page_of(buyer.pk)).content.decode()  # PRG: the answer is a fresh page
        assert "结算方式已更改为「阿里云账号结算」。" in page
        assert html.text(page, "current-method") == "阿里云账号结算"
        assert html.text(page, "current-instance") == "700001"

    def test_the_notice_is_in_the_workspaces_language_not_the_readers(self, english, buyer):
        Workspace.objects.filter(pk=buyer.pk).update(language="en")  # a test's shortcut: chosen at creation
        post(english, buyer.pk, **to_aliyun("700001"))
        (notice,) = notices()
        assert notice["language"] == "en"

    def test_a_double_submit_moves_once_and_answers_both(self, client, buyer):
        token = form_token(client.get(page_of(buyer.pk)).content.decode())
        first = post(client, buyer.pk, form_token=token, **to_aliyun("700001"))
        again = post(client, buyer.pk, form_token=token, **to_aliyun("700001"))
        assert first.status_code == again.status_code == 302
        assert [c[0] for c in changes(buyer)] == ["created", "moved"]
        assert len(notices()) == 1

    def test_the_same_settlement_again_changes_nothing(self, client, buyer):
        response = post(client, buyer.pk, **TO_BILLING)
        assert response.status_code == 302
        assert [c[0] for c in changes(buyer)] == ["created"] and notices() == []
        assert "工作空间已是这个结算方式，无需更改。" in client.get(page_of(buyer.pk)).content.decode()

    def test_off_an_expired_instance_to_another_whatever_the_month(self, client, buyer):
        post(client, buyer.pk, **to_aliyun("700001"))
        expire(client, "700001")
        page = client.get(page_of(buyer.pk)).content.decode()
        assert html.text(page, "instance-state") == "已过期"
        assert "现在可以更改一次结算方式" in html.text(page, "lapse-notice")
        response = post(client, buyer.pk, **to_aliyun("700002"))  # the second move this month
        assert response.status_code == 302
        assert settled(buyer) == ("aliyun", "700002")
        assert changes(buyer)[-1] == ("moved", "700001", "aliyun", "700002")

    def test_after_a_release_one_move_whatever_the_month(self, client, buyer):
        post(client, buyer.pk, **to_aliyun("700001"))
        release(client, "700001")  # the release starts the lock countdown; nothing moves by itself
        assert settled(buyer) == ("aliyun", "700001")
        assert post(client, buyer.pk, **to_aliyun("700002")).status_code == 302
        assert settled(buyer) == ("aliyun", "700002")


class TestRefusals:
    """Each refusal: the page again with the reason, a 4xx, nothing changed, no notice."""

    def refused(self, client, workspace, status: int, fields: dict[str, str]) -> str:  # type: ignore[no-untyped-def]
        before = (settled(workspace), changes(workspace), len(notices()))
        response = post(client, workspace.pk, **fields)
        assert response.status_code == status, response.content.decode()[:500]
        assert (settled(workspace), changes(workspace), len(notices())) == before
        return response.content.decode()

    @pytest.mark.parametrize(
        ("fields", "errors"),
        [
            ({"method": "aliyun", "ali_uid": "", "instance_id": ""}, ["请填写阿里云账号 ID", "请填写商品实例 ID"]),
            ({"method": "aliyun", "ali_uid": "12ab", "instance_id": "700001"}, ["阿里云账号 ID 由数字组成"]),
            ({"method": "wechat"}, ["请选择结算方式"]),
        ],
    )
    def test_what_was_typed_is_checked_first(self, client, buyer, fields, errors):
        page = self.refused(client, buyer, 400, fields)
        for error in errors:
            assert error in page

    @pytest.mark.parametrize(
        "fields",
        [to_aliyun("799999"), to_aliyun("700001", ali_uid="9999999999999999")],
        ids=["unknown instance", "another account's instance"],
    )
    def test_an_instance_not_of_that_account_looks_like_none(self, client, buyer, fields):
        page = self.refused(client, buyer, 400, fields)
        assert "未找到该阿里云账号下的这个实例，请核对阿里云账号 ID 和商品实例 ID。" in page

    def test_an_expired_instance_cannot_settle(self, client, buyer):
        expire(client, "700002")
        page = self.refused(client, buyer, 409, to_aliyun("700002"))
        assert "该云市场实例已到期或已释放，无法用于结算" in page

    def test_an_instance_of_another_billing_center_account(self, client, buyer):
        workspaces(1, user=owner("someone"), instance_ids=["700009"], prefix="6")
        page = self.refused(client, buyer, 409, to_aliyun("700009"))
        assert "此云市场实例已绑定其他费用中心账号" in page

    def test_a_commercial_workspace_never_settles_by_an_exclusive_instance(self, client, buyer):
        # Its data lives with Guance: settled by the exclusive edition's product, it would be billed as a
        # workspace whose data is in the buyer's SLS (issue 13: the two editions never convert).
        open_instances(["700007"], product_code=settings.ENV.aliyun_exclusive_product_code)
        page = self.refused(client, buyer, 409, to_aliyun("700007"))
        assert "专属版与商业版的工作空间不能互换" in page
        assert Workspace.objects.get(pk=buyer.pk).storage == "guance"

    def test_an_exclusive_workspace_settles_only_by_an_exclusive_instance(self, client):
        user = owner()
        (exclusive,) = workspaces(1, user=user, product_code=settings.ENV.aliyun_exclusive_product_code, prefix="5")
        expire(client, exclusive.cloud_account.instance.instance_id)  # free to move, but not anywhere
        open_instances(["700003"])
        client.force_login(user)
        for fields in (TO_BILLING, to_aliyun("700003")):
            assert "专属版与商业版的工作空间不能互换" in self.refused(client, exclusive, 409, fields)

    def test_a_still_subscribed_cloud_account_keeps_its_workspace(self, client, buyer):
        post(client, buyer.pk, **to_aliyun("700001"))
        page = client.get(page_of(buyer.pk)).content.decode()
        assert "仍在订阅中的云账号结算" in html.text(page, "move-notice")
        assert "实例关闭或到期后，回到本页即可更改一次" in html.text(page, "move-instead")
        # Nothing to fill in or hand on that could only be refused: no form, no unlock link generator.
        assert_no_way_to_move(page)
        listed = client.get("/billing/workspaces/").content.decode()
        assert f'href="{page_of(buyer.pk)}"' not in listed  # no button to a page that says no
        assert re.search(r'<button type="button" class="btn small ghost" disabled[^>]*>更改结算方式</button>', listed)
        assert html.text(listed, "move-blocked") == "订阅中，不可更改"
        page = self.refused(client, buyer, 409, TO_BILLING)
        assert "如需更改，请先在阿里云市场关闭该实例或待其到期" in page
        self.refused(client, buyer, 409, to_aliyun("700002"))

    def test_a_second_move_in_a_month_until_the_next(self, client, buyer):
        post(client, buyer.pk, **to_aliyun("700001"))
        expire(client, "700001")
        post(client, buyer.pk, **TO_BILLING)  # the move the expiry allowed
        page = self.refused(client, buyer, 409, to_aliyun("700002"))
        next_month = rules.next_month_start(timezone.now()).astimezone(rules.BEIJING).date()
        assert f"该工作空间本月已更改过结算方式，{next_month.isoformat()} 起可再次更改。" in page
        assert_no_way_to_move(page)
        assert "在此之前，工作空间继续按当前方式结算。" in html.text(page, "move-instead")
        listed = client.get("/billing/workspaces/").content.decode()
        assert f'href="{page_of(buyer.pk)}"' not in listed
        assert html.text(listed, "move-blocked") == f"{next_month.isoformat()} 起可更改"
        # A month later (the moves written last month), it may move again.
        SettlementChange.objects.filter(workspace=buyer).update(at=timezone.now() - timedelta(days=40))
        assert post(client, buyer.pk, **to_aliyun("700002")).status_code == 302
        assert settled(buyer) == ("aliyun", "700002")

    def test_a_form_without_its_pages_token(self, client, buyer):
        response = client.post(page_of(buyer.pk), to_aliyun("700001"))
        assert response.status_code == 400
        assert "页面已过期，请检查后重新提交" in response.content.decode()
        assert [c[0] for c in changes(buyer)] == ["created"]
        assert 'value="700001"' in response.content.decode()  # what was typed is kept

    def test_in_english(self, english, buyer):
        page = self.refused(english, buyer, 400, to_aliyun("799999"))
        assert "No such instance was found under this Alibaba Cloud account" in page
        assert CJK.search(html.text(page, "settlement-form")) is None
        post(english, buyer.pk, **to_aliyun("700001"))
        page = self.refused(english, buyer, 409, TO_BILLING)
        assert "This workspace is settled by a cloud account that is still subscribed" in page
        assert CJK.search(html.text(page, "move-refused")) is None
        listed = english.get("/billing/workspaces/").content.decode()
        assert html.text(listed, "move-blocked") == "Subscribed, cannot change"

    def test_another_owners_workspace_is_not_found(self, client, buyer):
        (theirs,) = workspaces(1, alibaba=False, user=owner("someone"), prefix="6")
        assert client.get(page_of(theirs.pk)).status_code == 404
        assert client.post(page_of(theirs.pk), {"form_token": "x" * 32, **TO_BILLING}).status_code == 404
        assert client.get(page_of(999_999)).status_code == 404
        assert [c[0] for c in changes(theirs)] == ["created"]

    def test_signed_out_is_sent_to_sign_in(self, client, buyer):
        client.logout()
        response = client.get(page_of(buyer.pk))
        assert response.status_code == 302 and response["Location"].startswith("/console/login/?next=")


def test_binding_from_the_login_free_entry_counts_as_this_months_move(client, buyer):
    """绑定 is a move too: after 更改结算方式 this month, binding the workspace elsewhere waits for next month
    (the door refuses it; the activation pages answer MoveRefused from their table)."""
    from kaitong.workspaces.settlement import do_change_settlement

    post(client, buyer.pk, **to_aliyun("700001"))
    expire(client, "700001")
    post(client, buyer.pk, **TO_BILLING)
    call_spi(client, create_params("700004"))
    workspace = Workspace.objects.select_related("billing_account").get(pk=buyer.pk)
    with pytest.raises(rules.MoveRefused):
        do_change_settlement(
            workspace=workspace,
            to=rules.by_instance("700004"),
            reason=rules.Reason.BOUND,
            acting="t",
            now=timezone.now(),
        )
