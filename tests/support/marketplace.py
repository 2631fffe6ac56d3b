"""Build SPI calls the way the marketplace signs them."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from django.conf import settings

from kaitong.marketplace.aliyun.instances import ScriptedInstanceLookup, scripted
from kaitong.marketplace.aliyun.token import signed

SPI_PATH = "/marketplace/aliyun/spi"


def isv_key() -> str:
    return settings.ENV.aliyun_isv_key


def spi_query(params: dict[str, str], *, key: str | None = None) -> str:
    return urlencode(signed(params, key or isv_key()))


def create_params(instance_id: str = "100001", *, ali_uid: str = "1234567890123456", **extra: str) -> dict[str, str]:
    params = {
        "action": "createInstance",
        "aliUid": ali_uid,
        "orderBizId": instance_id,
        "orderId": "200001" + instance_id,
        "productCode": "cmgj00053362",
        "skuId": "cmgj00053362-postpay",
        "trial": "false",
    }
    params.update(extra)
    return params


def call_spi(client, params: dict[str, str], *, key: str | None = None):  # type: ignore[no-untyped-def]
    response = client.get(SPI_PATH + "?" + spi_query(params, key=key))
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def marketplace() -> Iterator[ScriptedInstanceLookup]:
    """The scripted marketplace the SPI asks in tests (the test settings choose it): ``marketplace.says(id,
    MarketView(...))`` sets what DescribeInstanceForIsv answers; about any other instance it cannot be
    asked. ``marketplace.asked`` lists every question."""
    scripted.reset()
    yield scripted
    scripted.reset()
