"""Every label of the operator console (/ops/) speaks the operator's language: in Chinese no English or
half-English label ("以 product code", "Task Results"), in English no Chinese one. Labels are what the
console names things with: app and model names, column headers, filter titles, field labels, help texts,
actions; not the data (a task's path, a workspace's name)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import Client
from django.urls import reverse

from kaitong.accounts.models import ConsoleAccount
from kaitong.billing import breaker_writer, closing, payments
from kaitong.billing import tasks as billing_tasks
from kaitong.billing.ingest import ingest_batch
from kaitong.billing.queries import unpaid_bill_ids
from kaitong.countdown import actions as countdown
from kaitong.notices import actions as notices
from kaitong.notices.domain import Notice
from kaitong.sls.models import AliyunGrant, SlsStorage
from tests.support import accounts, billing
from tests.support.jobs import run_jobs
from tests.support.marketplace import call_spi

pytestmark = pytest.mark.django_db

# Names the Chinese console keeps as they are: protocol and product terms.
# Names as Alibaba writes them in Chinese too.
KEPT_AS_IS = {"ID", "SKU", "SPI", "SLS", "RAM", "AccessKey", "ExternalId", "Project"}
HAN = re.compile(r"[\u4e00-\u9fff]")


class Labels(HTMLParser):
    """The texts of the elements that carry labels on Django admin pages."""

    # The page's <title> is its <h1> with the record's own name (data) before it: the <h1> is read.
    LABEL_ELEMENTS = ("h1", "caption", "summary", "label")

    def __init__(self) -> None:
        super().__init__()
        self.labels: list[str] = []
        self._stack: list[tuple[str, bool]] = []  # (tag, collecting)
        self._hidden_depth = 0
        self._in_thead = False
        self._text: list[str] = []

    def _collecting(self) -> bool:
        return any(collecting for _, collecting in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag in ("br", "input", "img", "meta", "link", "hr"):
            return
        if tag == "thead":
            self._in_thead = "visually-hidden" not in classes  # screen-reader headers: Django's own strings
        label = (
            tag in self.LABEL_ELEMENTS
            or (tag == "th" and (self._in_thead or attributes.get("scope") == "row"))
            or (tag == "div" and "help" in classes)
            or (tag == "option" and self._stack and self._stack[-1][0] == "select-action")
        )
        if tag == "select" and attributes.get("name") == "action":
            tag = "select-action"
        self._stack.append((tag, label and not self._collecting()))

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_thead = False
        if tag == "select":
            tag = "select-action" if self._stack and self._stack[-1][0] == "select-action" else tag
        while self._stack:
            opened, collecting = self._stack.pop()
            if collecting:
                text = " ".join("".join(self._text).split())
                if text:
                    self.labels.append(text)
                self._text = []
            if opened == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._collecting():
            self._text.append(data)


def labels_of(page: str) -> list[str]:
    parser = Labels()
    parser.feed(page)
    return parser.labels


def foreign_words(label: str, language: str) -> list[str]:
    if language == "en":
        return HAN.findall(label)
    return [word for word in re.findall(r"[A-Za-z][A-Za-z_]*", label) if word not in KEPT_AS_IS]


@pytest.fixture
def everything(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row in every table the console shows: a buyer's workspaces settled by an instance, a closed day
    with its bills and ledger record, a notice sent, the tasks that ran, the duties that fired, the SPI
    inbox and the tally of unauthenticated calls."""
    monkeypatch.setattr(billing_tasks, "push_concurrency", lambda: 1)  # threads would not see the test's transaction
    workspaces = billing.workspaces(2)
    (own,) = billing.workspaces(1, alibaba=False, prefix="own")
    call_spi(client, {"action": "expiredInstance", "instanceId": workspaces[0].cloud_account.instance.instance_id})
    client.get("/marketplace/aliyun/spi?action=expiredInstance&instanceId=1")  # unsigned: counted in the tally
    ingest_batch(
        raw=[billing.sample(ws, "logs", billing.DAY, 3, 5_000_000) for ws in (workspaces[0], own)],
        now=billing.after_close(),
    )
    closing.do_close_day(day=billing.DAY, now=billing.after_close())
    # A notice to the owner (email; SMS too: the owner has a phone number).
    ConsoleAccount.objects.filter(pk=workspaces[0].owner_id).update(phone="13800138000")
    context = {"locks_on": "2026-12-04", "cause": "instance_expired", "instance_id": "i-1"}
    with transaction.atomic():
        notices.do_send_workspace_notice(
            workspace_id=workspaces[0].pk, notice=Notice.LOCKED, context=context, now=billing.after_close()
        )
    # The billing-center bill paid (an operator's record), the expired instance's workspace dissolved.
    payments.do_record_bill_payments(
        bill_ids=unpaid_bill_ids(workspace_ids=[own.pk]), recorded_by="operator", now=billing.after_close()
    )
    countdown.do_dissolve_workspace(
        workspace_id=workspaces[0].pk,
        owner_id=workspaces[0].owner_id,
        typed_name=workspaces[0].name,
        acting="owner",
        now=billing.after_close(),
    )
    run_jobs(now=billing.after_close())
    # An exclusive edition's grant and an SLS project (the rows alone: no cloud here).
    AliyunGrant.objects.create(ali_uid="1999", role_name="AliyunMarketGuanceSLSRole", verified_at=billing.after_close())
    SlsStorage.objects.create(
        workspace=workspaces[1], ali_uid="1999", region="cn-hangzhou", project="p", created_at=billing.after_close()
    )
    # The Market API once left a push unanswered: the push breaker has its row.
    with transaction.atomic():
        breaker_writer.do_record_answer(unknown=True, now=billing.after_close(), probe_token=None, reason="timeout")


def console_pages(client: Client) -> list[str]:
    """The index, every list (with its filters), and the detail page of each list's first row."""
    pages = [reverse("admin:index")]
    for model in admin.site._registry:
        listing = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        pages.append(listing)
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            pages.append(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[first.pk]))
    return pages


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_label_is_in_the_operators_language(client, everything, language):
    client.force_login(accounts.operator())
    client.cookies["django_language"] = language
    pages = console_pages(client)
    # A list without rows shows no column headers, and a detail page needs a row: every model has one.
    empty = [model.__name__ for model in admin.site._registry if not model._default_manager.exists()]
    assert empty == ["Group"]
    wrong = {}
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        for label in labels_of(response.content.decode()):
            if foreign_words(label, language):
                wrong.setdefault(page, []).append(label)
    assert wrong == {}


def test_the_labels_found_include_columns_filters_and_fields(client, everything):
    """The check above reads the labels where Django puts them (a parser reading nothing passes anything)."""
    client.force_login(accounts.operator())
    listing = labels_of(client.get("/ops/billing/meteringrecord/").content.decode())
    assert "推送次数" in listing and "以 商品编码" in listing and "以 状态" in listing
    tasks = labels_of(client.get("/ops/jobs/taskrun/").content.decode())
    assert "任务名称" in tasks and "以 队列" in tasks and any("重新执行失败的任务" in label for label in tasks)
    detail = labels_of(client.get(console_pages(client)[-1]).content.decode())
    assert len(detail) > 20 and any(label.endswith(":") for label in detail)  # the fields' labels
    index = labels_of(client.get("/ops/").content.decode())
    assert "任务" in index and "费用中心账号" in index and "控制台账号" in index
    assert foreign_words("以 product code", "zh-hans") == ["product", "code"]


@pytest.mark.parametrize(
    ("language", "said"), [("zh-hans", "AccessKey 已失效"), ("en", "the AccessKey no longer works")]
)
def test_a_grants_problem_is_a_label_not_its_code(client, language, said):
    """The 问题 column and field say why a grant was lost in the operator's words, never the stored code."""
    grant = AliyunGrant.objects.create(
        ali_uid="1998", access_key_id="LTAI5tExample", state="revoked", problem="invalid_key"
    )
    client.force_login(accounts.operator())
    client.cookies["django_language"] = language
    for page in ("/ops/sls/aliyungrant/", f"/ops/sls/aliyungrant/{grant.pk}/change/"):
        content = client.get(page).content.decode()
        assert said in content and "invalid_key" not in content, page
