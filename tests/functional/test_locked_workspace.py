"""What a lock does: usage refused (403 with the reason), the DataKit token refused, no bill or metering
record for locked days, the console's banner and lock page (no history), the data clearing job and the
data platform's event, and 解散 (dissolve) with its typed confirmation."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.conf import settings

from kaitong.billing import api as usage_api
from kaitong.billing import closing, ingest
from kaitong.billing import views as billing_views
from kaitong.billing.domain import day_window
from kaitong.billing.models import DailyBill, MeteringRecord, UsageSample
from kaitong.countdown import actions, domain
from kaitong.countdown import api as token_api
from kaitong.countdown.models import Countdown, CountdownEvent, Dissolution
from kaitong.workspaces import views as console_views
from kaitong.workspaces.models import Workspace
from tests.support import html
from tests.support.billing import sample, workspaces
from tests.support.countdown import forget_notices, history, release, run_duty
from tests.support.jobs import run_jobs

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # released at 18:00 Beijing, 2 November
LOCKS_AT = day_window(date(2026, 11, 16))[0]
LOCKED_DAY = date(2026, 11, 17)
NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # 10:00 Beijing, 18 November: locked two days
COUNTING = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)  # 10:00 Beijing, 10 November: six days left


@pytest.fixture
def clock(monkeypatch):
    """Every interface this file drives reads the same moment; ``clock.now = …`` moves it."""
    state = SimpleNamespace(now=NOW)
    fake = SimpleNamespace(now=lambda: state.now)
    for module in (usage_api, token_api, console_views, billing_views, actions_views()):
        monkeypatch.setattr(module, "timezone", fake, raising=False)
    return state


def actions_views():  # type: ignore[no-untyped-def]
    from kaitong.countdown import views

    return views


def released() -> Workspace:
    (workspace,) = workspaces(1, instance_ids=["710001"])
    release("710001", now=T0)
    return Workspace.objects.select_related("owner").get(pk=workspace.pk)


def post_usage(client, body):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/usage/samples",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {settings.ENV.usage_api_token}"},
    )


def check_token(client, token: str, *, bearer: str | None = None):  # type: ignore[no-untyped-def]
    bearer = settings.ENV.usage_api_token if bearer is None else bearer
    return client.get(f"/api/v1/tokens/{token}", headers={"Authorization": f"Bearer {bearer}"} if bearer else {})


class TestUsageRefused:
    def test_usage_of_locked_hours_is_403_with_the_reason_and_nothing_is_stored(self, client, clock):
        workspace = released()
        response = post_usage(client, [sample(workspace, "logs", LOCKED_DAY, 3, 10)])
        assert response.status_code == 403, response.content
        (error,) = response.json()["errors"]
        assert error["index"] == 0 and error["field"] == "workspace"
        assert "locked from 2026-11-16" in error["message"] and "refused until it is unlocked" in error["message"]
        assert not UsageSample.objects.exists()

    def test_by_token_too(self, client, clock):
        workspace = released()
        assert post_usage(client, [sample(workspace.token, "logs", LOCKED_DAY, 3, 10)]).status_code == 403

    def test_during_the_countdown_usage_is_accepted(self, client, clock):
        clock.now = COUNTING
        workspace = released()
        response = post_usage(client, [sample(workspace, "logs", date(2026, 11, 10), 1, 10)])
        assert response.json() == {"accepted": 1}

    def test_a_batch_with_other_problems_is_400_and_lists_the_lock_too(self, client, clock):
        workspace = released()
        body = [sample(workspace, "logs", LOCKED_DAY, 3, 10), sample(workspace, "no-such-item", LOCKED_DAY, 3, 1)]
        response = post_usage(client, body)
        assert response.status_code == 400
        assert [e["index"] for e in response.json()["errors"]] == [0, 1]

    def test_after_an_unlock_usage_flows_again_but_locked_hours_stay_refused(self, client, clock):
        from kaitong.workspaces import domain as workspace_rules
        from kaitong.workspaces.settlement import do_change_settlement

        workspace = released()
        unlocked_at = datetime(2026, 11, 18, 1, 0, tzinfo=UTC)  # 09:00 Beijing
        do_change_settlement(
            workspace=workspace,
            to=workspace_rules.BY_BILLING_ACCOUNT,
            reason=workspace_rules.Reason.INSTANCE_RELEASED,
            acting="buyer",
            now=unlocked_at,
        )
        after = sample(workspace, "logs", date(2026, 11, 18), 9, 5)  # 09:00 Beijing, the unlock's hour
        before = sample(workspace, "logs", date(2026, 11, 18), 8, 5)
        assert post_usage(client, [after]).json() == {"accepted": 1}
        assert post_usage(client, [before]).status_code == 403


class TestTokenCheck:
    def test_active_counting_locked_unknown(self, client, clock):
        (active,) = workspaces(1, prefix="6", instance_ids=["710011"])
        locked = released()
        assert check_token(client, active.token).json() == {"workspace": active.pk, "state": "active", "locks_on": None}

        refused = check_token(client, locked.token)
        assert refused.status_code == 403
        assert refused.json() == {
            "workspace": locked.pk,
            "state": "locked",
            "reason": "instance_released",
            "locked_since": "2026-11-16",
            "message": "the workspace is locked: its data is refused until it is unlocked",
        }
        clock.now = COUNTING
        assert check_token(client, locked.token).json() == {
            "workspace": locked.pk,
            "state": "counting",
            "locks_on": "2026-11-16",
        }
        assert check_token(client, "tkn_" + "0" * 32).status_code == 404
        assert check_token(client, "not-a-token").status_code == 404

    def test_only_the_data_platform_may_ask(self, client, clock):
        workspace = released()
        assert check_token(client, workspace.token, bearer="").status_code == 401
        assert check_token(client, workspace.token, bearer="x" * 40).status_code == 401

    def test_documented_in_the_openapi(self, client):
        spec = client.get("/api/v1/openapi.json").json()
        operation = spec["paths"]["/api/v1/tokens/{token}"]["get"]
        assert set(operation["responses"]) == {"200", "401", "403", "404"}


class TestNoBillForLockedDays:
    def test_a_locked_day_has_no_bill_and_its_instance_no_record(self):
        (locked_ws,) = workspaces(1, instance_ids=["710021"])
        (paying,) = workspaces(1, instance_ids=["710022"], prefix="5")
        ingest.ingest_batch(
            raw=[sample(paying, "logs", LOCKED_DAY, 1, 9_000_000)], now=day_window(LOCKED_DAY)[0] + timedelta(hours=3)
        )
        release("710021", now=T0)

        closing.do_close_day(day=LOCKED_DAY, now=day_window(LOCKED_DAY)[1] + timedelta(minutes=1))

        assert list(DailyBill.objects.filter(day=LOCKED_DAY).values_list("workspace_id", flat=True)) == [paying.pk]
        assert not DailyBill.objects.filter(workspace=locked_ws).exists()
        assert list(MeteringRecord.objects.filter(day=LOCKED_DAY).values_list("instance_id", flat=True)) == ["710022"]

    def test_the_last_day_before_the_lock_and_the_day_of_an_unlock_are_billed(self):
        from kaitong.workspaces import domain as workspace_rules
        from kaitong.workspaces.settlement import do_change_settlement

        workspace = released()
        last_day = date(2026, 11, 15)
        ingest.ingest_batch(
            raw=[sample(workspace, "logs", last_day, 23, 3_000_000)], now=day_window(last_day)[0] + timedelta(hours=23)
        )
        closing.do_close_day(day=last_day, now=LOCKS_AT + timedelta(minutes=1))
        unlock_day = date(2026, 11, 20)
        do_change_settlement(
            workspace=workspace,
            to=workspace_rules.BY_BILLING_ACCOUNT,
            reason=workspace_rules.Reason.INSTANCE_RELEASED,
            acting="buyer",
            now=day_window(unlock_day)[0] + timedelta(hours=10),
        )
        for day in (date(2026, 11, 19), unlock_day):
            closing.do_close_day(day=day, now=day_window(day)[1] + timedelta(minutes=1))

        billed = dict(DailyBill.objects.filter(workspace=workspace).values_list("day", "total"))
        assert set(billed) == {last_day, unlock_day} and billed[last_day] > 0


class TestConsole:
    def test_the_banner_says_how_many_days_are_left_and_what_to_do_and_the_history_shows(self, client, clock):
        clock.now = COUNTING
        workspace = released()
        ingest.ingest_batch(raw=[sample(workspace, "logs", date(2026, 11, 9), 2, 1234)], now=COUNTING)
        client.force_login(workspace.owner)
        page = client.get(f"/console/workspaces/{workspace.pk}/").content.decode()
        banner = html.text(page, "countdown-banner")
        assert "2026-11-16" in banner and "剩余 6 天" in banner and "710001" in banner and "已关闭" in banner
        assert html.attribute(page, "countdown-fix", "href") == f"/billing/workspaces/{workspace.pk}/settlement/"
        assert "1,234" in html.text(page, "usage-history")
        assert workspace.token in page

    def test_in_english(self, client, clock):
        clock.now = COUNTING
        workspace = released()
        client.force_login(workspace.owner)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        banner = html.text(client.get(f"/console/workspaces/{workspace.pk}/").content.decode(), "countdown-banner")
        assert "6 days left" in banner and not any("\u4e00" <= ch <= "\u9fff" for ch in banner)

    def test_a_locked_workspace_shows_the_lock_page_and_none_of_its_data(self, client, clock):
        workspace = released()
        ingest.ingest_batch(raw=[sample(workspace, "logs", date(2026, 11, 9), 2, 1234)], now=COUNTING)
        client.force_login(workspace.owner)
        page = client.get(f"/console/workspaces/{workspace.pk}/").content.decode()
        assert html.texts(page, "lock-page")
        assert html.attribute(page, "unlock-now", "href") == f"/billing/workspaces/{workspace.pk}/settlement/"
        assert html.attribute(page, "dissolve", "href") == f"/console/workspaces/{workspace.pk}/dissolve/"
        assert "2026-11-16" in html.text(page, "lock-since")
        assert workspace.token not in page and "usage-history" not in page and "DK_DATAWAY" not in page

    @pytest.mark.parametrize(
        ("now", "phase", "says"),
        [(COUNTING, "counting", "将于 2026-11-16 锁定"), (NOW, "locked", "已于 2026-11-16 锁定")],
    )
    def test_unlock_now_lands_on_a_page_that_says_the_move_lifts_it(self, client, clock, now, phase, says):
        """立即解锁 opens 更改结算方式: it says why the workspace is (or will be) locked, and that a move
        lifts it; a workspace with no countdown shows no such line."""
        clock.now = now
        workspace = released()
        (calm,) = workspaces(1, instance_ids=["710041"], prefix="5", user=workspace.owner)
        client.force_login(workspace.owner)
        page = client.get(f"/billing/workspaces/{workspace.pk}/settlement/").content.decode()
        assert html.attribute(page, "lock-state", "data-phase") == phase
        line = html.text(page, "lock-state")
        assert says in line and "云市场实例已关闭" in line and "更改结算方式后" in line
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        english_page = client.get(f"/billing/workspaces/{workspace.pk}/settlement/").content.decode()
        english = html.text(english_page, "lock-state")
        assert "2026-11-16" in english and "Changing its settlement" in english
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in english), english
        calm_page = client.get(f"/billing/workspaces/{calm.pk}/settlement/").content.decode()
        assert not html.texts(calm_page, "lock-state")

    def test_the_workspace_list_marks_countdowns_and_locks(self, client, clock):
        workspace = released()
        (other,) = workspaces(1, instance_ids=["710031"], prefix="4")
        client.force_login(workspace.owner)
        page = client.get("/console/").content.decode()
        assert html.texts(page, "ws-locked") and other.name in page


class TestDataClearing:
    def test_the_lock_queues_an_audited_clearing_that_waits_for_the_last_bill(self):
        workspace = released()
        days = [date(2026, 11, 14), date(2026, 11, 15)]
        ingest.ingest_batch(
            raw=[sample(workspace, "logs", day, h, 100) for day in days for h in (1, 2)]
            + [sample(workspace, "time_series", days[1], 5, 7)],
            now=day_window(days[1])[0] + timedelta(hours=12),
        )
        closing.do_close_day(day=days[0], now=day_window(days[0])[1] + timedelta(minutes=1))
        forget_notices()
        run_duty(LOCKS_AT + timedelta(seconds=10))

        # The lock's job is queued; the 15th is not closed yet, so nothing is deleted and it comes back.
        first = actions.do_clear_workspace_data(workspace_id=workspace.pk, now=LOCKS_AT + timedelta(seconds=20))
        assert first.retry_at == LOCKS_AT + timedelta(seconds=20) + actions.CLEARING_RETRY
        assert UsageSample.objects.filter(workspace=workspace).count() == 5

        closing.do_close_day(day=days[1], now=LOCKS_AT + timedelta(minutes=1))
        cleared = actions.do_clear_workspace_data(workspace_id=workspace.pk, now=LOCKS_AT + timedelta(minutes=2))

        assert (cleared.removed, cleared.by_item) == (5, {"logs": 4, "time_series": 1})
        assert not UsageSample.objects.filter(workspace=workspace).exists()
        assert DailyBill.objects.filter(workspace=workspace).count() == 2  # the bills stay
        event = CountdownEvent.objects.get(workspace=workspace, kind="data_cleared")
        assert event.detail["usage_samples"] == 5 and event.detail["by_item"] == {"logs": 4, "time_series": 1}
        assert event.detail["why"] == "locked"
        assert Countdown.objects.get(workspace=workspace).data_cleared_at == LOCKS_AT + timedelta(minutes=2)

    def test_through_the_job_engine_with_the_data_platforms_event(self):
        workspace = released()
        closing.do_close_day(day=date(2026, 11, 15), now=LOCKS_AT + timedelta(minutes=1))
        run_duty(LOCKS_AT + timedelta(minutes=2))
        run_jobs(duties=False)
        assert history(workspace.pk) == ["started", "locked", "data_cleared", "data_platform_told"]
        told = CountdownEvent.objects.get(workspace=workspace, kind="data_platform_told")
        assert told.detail["why"] == "locked" and told.acting == "data platform event"

    def test_a_workspace_unlocked_before_the_job_runs_keeps_its_data(self):
        from kaitong.workspaces import domain as workspace_rules
        from kaitong.workspaces.settlement import do_change_settlement

        workspace = released()
        ingest.ingest_batch(raw=[sample(workspace, "logs", date(2026, 11, 9), 1, 1)], now=COUNTING)
        run_duty(LOCKS_AT + timedelta(seconds=10))
        do_change_settlement(
            workspace=workspace,
            to=workspace_rules.BY_BILLING_ACCOUNT,
            reason=workspace_rules.Reason.INSTANCE_RELEASED,
            acting="buyer",
            now=LOCKS_AT + timedelta(seconds=20),
        )
        skipped = actions.do_clear_workspace_data(workspace_id=workspace.pk, now=LOCKS_AT + timedelta(minutes=5))
        assert skipped.skipped and skipped.retry_at is None
        assert UsageSample.objects.filter(workspace=workspace).count() == 1


class TestDissolve:
    def test_a_wrong_name_changes_nothing(self, client, clock):
        workspace = released()
        client.force_login(workspace.owner)
        response = client.post(f"/console/workspaces/{workspace.pk}/dissolve/", {"name": workspace.name + "x"})
        assert response.status_code == 400
        assert "输入的名称与工作空间名称不一致" in response.content.decode()
        assert not Dissolution.objects.exists()

    def test_the_typed_name_dissolves_and_everything_follows(self, client, clock):
        workspace = released()
        client.force_login(workspace.owner)
        assert "解散工作空间" in client.get(f"/console/workspaces/{workspace.pk}/dissolve/").content.decode()

        response = client.post(f"/console/workspaces/{workspace.pk}/dissolve/", {"name": f"  {workspace.name} "})

        assert response.status_code == 302 and response["Location"] == "/console/"
        dissolution = Dissolution.objects.get()
        assert (dissolution.workspace_id, dissolution.name, dissolution.at) == (workspace.pk, workspace.name, NOW)
        assert dissolution.acting == f"owner {workspace.owner.username}"
        assert history(workspace.pk)[-1] == "dissolved"
        assert client.get(f"/console/workspaces/{workspace.pk}/").status_code == 404
        assert workspace.name not in client.get("/console/", follow=True).content.decode().split("已解散")[-1]
        assert check_token(client, workspace.token).status_code == 404
        # Sent twice (a double click): answered as the first was.
        again = client.post(f"/console/workspaces/{workspace.pk}/dissolve/", {"name": workspace.name})
        assert again.status_code == 302 and Dissolution.objects.count() == 1

    def test_no_bill_from_the_day_after(self, clock):
        workspace = released()
        actions.do_dissolve_workspace(
            workspace_id=workspace.pk, owner_id=workspace.owner_id, typed_name=workspace.name, acting="owner", now=T0
        )
        closing.do_close_day(day=date(2026, 11, 2), now=day_window(date(2026, 11, 2))[1])
        closing.do_close_day(day=date(2026, 11, 3), now=day_window(date(2026, 11, 3))[1])
        assert list(DailyBill.objects.filter(workspace=workspace).values_list("day", flat=True)) == [date(2026, 11, 2)]

    def test_only_in_a_countdown_and_only_the_owner(self, client, clock):
        (calm,) = workspaces(1, instance_ids=["710041"], prefix="3")
        client.force_login(calm.owner)
        assert client.post(f"/console/workspaces/{calm.pk}/dissolve/", {"name": calm.name}).status_code == 409
        with pytest.raises(actions.NotDissolvable):
            actions.do_dissolve_workspace(
                workspace_id=calm.pk, owner_id=calm.owner_id, typed_name=calm.name, acting="x", now=NOW
            )
        locked = released()
        with pytest.raises(actions.WorkspaceNotFound):
            actions.do_dissolve_workspace(
                workspace_id=locked.pk, owner_id=locked.owner_id + 1000, typed_name=locked.name, acting="x", now=NOW
            )
        assert not Dissolution.objects.exists()


def test_the_pure_rule_and_the_query_agree_on_locked_days():
    workspace = released()
    periods = [(LOCKS_AT, None)]
    for day in (date(2026, 11, 15), date(2026, 11, 16), LOCKED_DAY):
        from kaitong.countdown import queries

        unbilled = Workspace.objects.filter(queries.unbilled_workspaces(day)).filter(pk=workspace.pk).exists()
        assert unbilled == domain.day_is_locked(periods, day)


def test_a_dissolved_workspace_cannot_be_bound_again(client):
    from kaitong.workspaces import queries as workspace_queries

    workspace = released()
    actions.do_dissolve_workspace(
        workspace_id=workspace.pk, owner_id=workspace.owner_id, typed_name=workspace.name, acting="owner", now=NOW
    )
    rows = workspace_queries.bindable_workspaces(billing_account_id=workspace.billing_account_id, instance_id="x")
    assert workspace.pk not in [row.id for row in rows]
