"""立即解锁 without signing in (issue 12): a one-time, short-lived link that opens one workspace's
更改结算方式 page for its owner, and nothing else; a used, expired or made-up link gets a page saying so."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from kaitong.billing import views
from kaitong.workspaces import management
from kaitong.workspaces.models import SettlementChange, UnlockLink
from tests.support import html
from tests.support.billing import open_instances, owner, workspaces

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def workspace():
    (ws,) = workspaces(1, alibaba=False, user=owner())
    open_instances(["710001"])
    return ws


def path_of(url: str) -> str:
    base = settings.ENV.public_url.rstrip("/")
    assert url.startswith(base + "/billing/unlock/")
    return url[len(base) :]


def follow(client: Client, url: str):  # type: ignore[no-untyped-def]
    return client.post(path_of(url))


def settlement_page(workspace_id: int) -> str:
    return f"/billing/workspaces/{workspace_id}/settlement/"


def move_to_aliyun(client: Client, workspace_id: int):  # type: ignore[no-untyped-def]
    page = client.get(settlement_page(workspace_id)).content.decode()
    token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    return client.post(
        settlement_page(workspace_id),
        {"form_token": token, "method": "aliyun", "ali_uid": "1234567890123456", "instance_id": "710001"},
    )


class TestTheLink:
    def test_an_absolute_url_whose_token_is_stored_only_hashed(self, workspace):
        url = management.issue_unlock_link(workspace.pk, timezone.now())
        token = path_of(url).split("/")[-2]
        assert len(token) == 43
        (link,) = UnlockLink.objects.all()
        assert link.token_digest != token and token not in str(list(UnlockLink.objects.values()))
        assert link.expires_at - link.created_at == timedelta(minutes=30) and link.used_at is None

    def test_opening_it_changes_nothing_continuing_opens_the_page_without_signing_in(self, client, workspace):
        url = management.issue_unlock_link(workspace.pk, timezone.now())
        for _ in range(2):  # a mail scanner's preview, then the owner: neither uses the link up
            shown = client.get(path_of(url))
            assert shown.status_code == 200
            assert f"继续后将打开工作空间「{workspace.name}」的更改结算方式页面" in shown.content.decode()
        assert shown["Referrer-Policy"] == "no-referrer" and shown["Cache-Control"] == "no-store"
        session_before = client.session.session_key
        response = follow(client, url)
        assert response.status_code == 302 and response["Location"] == settlement_page(workspace.pk)
        assert client.session.session_key != session_before  # a new session id carries the grant
        page = client.get(settlement_page(workspace.pk)).content.decode()
        assert "您通过解锁链接打开了此页面" in html.text(page, "link-access")
        assert html.texts(page, "billing-nav") == []  # no way into the rest of the billing center
        assert html.texts(page, "unlock-link-card") == []

    def test_the_page_it_opens_changes_the_settlement_through_the_door(self, client, workspace):
        follow(client, management.issue_unlock_link(workspace.pk, timezone.now()))
        response = move_to_aliyun(client, workspace.pk)
        assert response.status_code == 302
        change = SettlementChange.objects.filter(workspace=workspace).latest("id")
        assert (change.reason, change.to_instance_id) == ("moved", "710001")
        assert change.acting == f"owner of workspace {workspace.pk} (unlock link)"

    def test_it_opens_that_page_only(self, client, workspace):
        (other,) = workspaces(1, alibaba=False, user=workspace.owner, prefix="8")
        follow(client, management.issue_unlock_link(workspace.pk, timezone.now()))
        for elsewhere in ("/billing/", "/billing/workspaces/", "/billing/cloud-accounts/", "/console/"):
            response = client.get(elsewhere)
            assert response.status_code == 302 and "/login/" in response["Location"], elsewhere
        assert client.get(settlement_page(other.pk)).status_code == 302  # to sign in
        assert client.post(f"/billing/workspaces/{workspace.pk}/unlock-link/").status_code == 302

    def test_the_grant_ends_after_thirty_minutes(self, client, workspace, monkeypatch):
        follow(client, management.issue_unlock_link(workspace.pk, timezone.now()))
        assert client.get(settlement_page(workspace.pk)).status_code == 200
        later = timezone.now() + timedelta(minutes=31)
        monkeypatch.setattr(views, "timezone", SimpleNamespace(now=lambda: later))
        response = client.get(settlement_page(workspace.pk))
        assert response.status_code == 302 and response["Location"].startswith("/console/login/")


class TestRefusedLinks:
    @staticmethod
    def refusal(response, status: int, state: str) -> str:  # type: ignore[no-untyped-def]
        assert response.status_code == status
        page = response.content.decode()
        assert re.search(rf'data-refusal="{state}"', page)
        assert response["Referrer-Policy"] == "no-referrer"
        return html.text(page, "unlock-refused")

    def test_a_replayed_link(self, client, workspace):
        url = management.issue_unlock_link(workspace.pk, timezone.now())
        follow(client, url)
        other = Client()
        text = self.refusal(follow(other, url), 410, "used")
        assert "解锁链接已使用" in text and "每个解锁链接只能使用一次" in text
        self.refusal(other.get(path_of(url)), 410, "used")
        assert other.get(settlement_page(workspace.pk)).status_code == 302  # the replay got no grant

    def test_an_expired_link(self, client, workspace):
        url = management.issue_unlock_link(workspace.pk, timezone.now() - timedelta(minutes=31))
        text = self.refusal(client.get(path_of(url)), 410, "expired")
        assert "解锁链接已过期" in text
        self.refusal(follow(client, url), 410, "expired")
        assert UnlockLink.objects.get().used_at is None
        assert client.get(settlement_page(workspace.pk)).status_code == 302

    @pytest.mark.parametrize("token", ["x" * 43, "short", "a" * 42 + "!"])
    def test_a_made_up_or_cut_off_link(self, client, workspace, token):
        self.refusal(client.get(f"/billing/unlock/{token}/"), 404, "unknown")
        self.refusal(client.post(f"/billing/unlock/{token}/"), 404, "unknown")

    def test_in_english(self, client, settings, workspace):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        url = management.issue_unlock_link(workspace.pk, timezone.now() - timedelta(hours=1))
        text = self.refusal(client.get(path_of(url)), 410, "expired")
        assert "Unlock link expired" in text and CJK.search(text) is None


class TestForTheSignedInOwner:
    def test_the_owner_gets_a_link_to_open_elsewhere(self, client, workspace):
        client.force_login(workspace.owner)
        response = client.post(f"/billing/workspaces/{workspace.pk}/unlock-link/")
        assert response.status_code == 200
        shown = html.text(response.content.decode(), "unlock-link")
        assert shown.startswith(settings.ENV.public_url.rstrip("/") + "/billing/unlock/")
        elsewhere = Client()
        assert follow(elsewhere, shown).status_code == 302
        assert elsewhere.get(settlement_page(workspace.pk)).status_code == 200

    def test_not_for_someone_elses_workspace(self, client, workspace):
        client.force_login(owner("someone"))
        assert client.post(f"/billing/workspaces/{workspace.pk}/unlock-link/").status_code == 404
        assert UnlockLink.objects.count() == 0

    def test_old_links_are_forgotten(self, workspace):
        management.issue_unlock_link(workspace.pk, timezone.now() - timedelta(days=3))
        management.issue_unlock_link(workspace.pk, timezone.now())
        assert UnlockLink.objects.count() == 1
