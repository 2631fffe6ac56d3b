"""The exclusive edition in tests: the vendor pointed at a running simulator's STS and SLS, an exclusive
instance of a simulated buyer, and workspaces under it."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kaitong.marketplace import actions as marketplace
from kaitong.marketplace.aliyun.instances import scripted
from kaitong.workspaces import actions as workspace_actions
from kaitong.workspaces import domain as workspace_rules
from tests.support.billing import LONG_AGO, billing_account, owner
from tests.support.marketplace import create_params, isv_key, spi_query
from tests.support.simulator import RunningSimulator, cloud_env, start_simulator

REGION = "cn-hangzhou"  # the site cn1's
_uids = count(1)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[RunningSimulator]:
    """A simulator of a test's own: SLS project names are unique in a region across accounts, and the
    vendor's workspace ids (so its project names) start again with each test's database."""
    with start_simulator(tmp_path, KAITONG_SIMULATOR_RETRY_SECONDS="3600") as running:
        yield running


@pytest.fixture
def vendor(sim: RunningSimulator, settings) -> RunningSimulator:  # type: ignore[no-untyped-def]
    """The vendor's settings sending its STS and SLS calls to ``sim``, on site cn1 (cn-hangzhou)."""
    update = {name.removeprefix("KAITONG_").lower(): value for name, value in cloud_env(sim).items()}
    settings.ENV = settings.ENV.model_copy(update={**update, "site_code": "cn1"})
    return sim


def new_buyer(sim: RunningSimulator) -> str:
    """A new Alibaba account in the simulator (SLS activated); its UID, which no other test uses."""
    uid = f"17{next(_uids):014d}"
    sim.add_account(uid=uid, name=f"buyer {uid}")
    return uid


def open_exclusive_instance(instance_id: str, ali_uid: str) -> None:
    """An exclusive-edition instance bought by ``ali_uid``, created as the marketplace creates it."""
    product = settings.ENV.aliyun_exclusive_product_code
    params = create_params(instance_id, ali_uid=ali_uid, productCode=product, skuId=f"{product}-postpay")
    marketplace.do_receive_spi_call(
        raw_sources=[spi_query(params)],
        now=LONG_AGO,
        isv_key=isv_key(),
        auth_url="http://testserver/sso",
        marketplace=scripted,
        refused_calls_per_day=settings.ENV.spi_refused_calls_per_day,
    )


def exclusive_workspace(instance_id: str, *, language: str = "zh", username: str = "owner") -> int:
    """A workspace settled by the (exclusive) instance: created the way every activation path creates one."""
    with transaction.atomic():
        return workspace_actions.do_create_workspace(
            billing_account_id=billing_account(owner(username)).pk,
            name=f"ws-{instance_id}",
            language=language,
            settled_by=workspace_rules.by_instance(instance_id),
            reason=workspace_rules.Reason.CREATED,
            acting="test",
            now=timezone.now(),
        )
