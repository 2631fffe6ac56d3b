"""Hostile SPI calls, correctly signed, against the real endpoint and database (issue 10, kept fixed).

hypothesis draws sequences of calls with random and known actions, unicode, control characters, values
over the length cap, odd and impossible dates, duplicated parameters, wrong keys and missing tokens, sent
as GET or as a POST form. After every call:

- the answer is the protocol's JSON, never a 5xx;
- an instance exists only for a signed, well-formed createInstance (the rule below, written from the
  protocol, not from the parser), with the expiry it asked for;
- a failure answer changed no instance, and an unauthenticated call stored nothing in the inbox;
- the lifecycle's invariants hold: a released instance stays released, an expiry never moves back,
  every instance's audit trail starts with its create and chains state to state.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from kaitong.marketplace.aliyun.token import signed
from kaitong.marketplace.domain import BEIJING, Action
from kaitong.marketplace.models import InstanceEvent, MarketplaceInstance, SpiCall
from tests.support.marketplace import SPI_PATH, create_params, isv_key

pytestmark = pytest.mark.django_db

IDENTIFIER = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
IDS_SENT = ("aliUid", "orderBizId", "orderId", "instanceId", "productCode", "skuId")
CREATE_REQUIRES = ("aliUid", "orderBizId", "orderId", "productCode", "skuId", "trial")

# -- what hostile callers send ---------------------------------------------------------------------------

hostile_text = st.one_of(
    st.text(max_size=12),  # any unicode, control characters and NUL included
    st.sampled_from(["", "\x00", "abc\n", "１２３", "0", "a b", "%00", "&", "=", "\u202e", "😀", "x" * 65, "'; --"]),
    # Around the 512-character cap (built, not drawn character by character: it keeps the test fast).
    st.builds(
        lambda text, size: (text * size)[:size], st.sampled_from(["a", "é", "中", "a\x01"]), st.integers(500, 520)
    ),
)
instance_ids = st.sampled_from(["f1", "f2", "f3"]) | hostile_text
dates = st.one_of(
    st.sampled_from(
        [
            "2026-12-31 23:59:59",
            "2030-06-01 00:00:00",
            "2000-01-01 00:00:00",
            "2100-12-31 23:59:59",
            "1999-12-31 23:59:59",
            "2101-01-01 00:00:00",
            "0001-01-01 00:00:00",
            "9999-12-31 23:59:59",
            "2026-02-30 00:00:00",
            "2026-13-01 00:00:00",
            "２０２６-01-01 00:00:00",
            "2026-01-01T00:00:00",
            "2026-01-01 00:00:00\n",
            "",
        ]
    ),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d} {d.hour:02d}:{d.minute:02d}:{d.second:02d}"
    ),
    hostile_text,
)
booleans = st.sampled_from(["true", "false", "TRUE", "1", "yes", ""]) | hostile_text
known_actions = [action.value for action in Action]
actions = st.sampled_from(known_actions) | st.just("verify") | hostile_text
orders = st.sampled_from(["o1", "o2", "o3"])
fields = {
    "aliUid": st.just("1234567890123456") | hostile_text,
    "orderBizId": instance_ids,
    "instanceId": instance_ids,
    "orderId": orders | hostile_text,
    "productCode": st.just("cmgj00053362") | hostile_text,
    "skuId": st.sampled_from(["basic", "pro"]) | hostile_text,
    "trial": booleans,
    "expiredOn": dates,
    "isRefund": booleans,
}


@st.composite
def well_formed(draw: st.DrawFn, action: str) -> dict[str, str]:
    """A call the marketplace could send for ``action``: the starting point that hostile values then spoil."""
    # Creates mostly for new instances, the rest mostly for the one every example starts with ("f1").
    if action == "createInstance":
        params = create_params(
            draw(st.sampled_from(["f2", "f3", "f1"])), trial=draw(st.sampled_from(["true", "false"]))
        )
        if draw(st.booleans()):
            params["expiredOn"] = draw(st.sampled_from(["2026-12-31 23:59:59", "2030-06-01 00:00:00"]))
        return params
    params = {"action": action, "instanceId": draw(st.sampled_from(["f1", "f1", "f2"]))}
    if action == "renewInstance":
        params.update(
            orderId=draw(orders), expiredOn=draw(st.sampled_from(["2027-01-01 00:00:00", "2031-01-01 00:00:00"]))
        )
    elif action == "upgradeInstance":
        params.update(orderId=draw(orders), skuId=draw(st.sampled_from(["basic", "pro"])))
    elif action == "releaseInstance":
        params["isRefund"] = draw(st.sampled_from(["true", "false"]))
    return params


@st.composite
def calls(draw: st.DrawFn) -> dict[str, Any]:
    action = draw(st.sampled_from(known_actions) if draw(st.integers(0, 3)) else actions)
    params = draw(well_formed(action)) if action in known_actions else {"action": action}
    mode = draw(st.sampled_from(["clean", "one value", "one value", "one value", "chaos"]))
    if mode == "one value":
        # One of the call's own parameters set to anything (the likeliest way a real bug hides).
        name = draw(st.sampled_from(sorted({*params, "expiredOn"} & set(fields))))
        params[name] = draw(fields[name])
    elif mode == "chaos":
        for name in draw(st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=3, unique=True)):
            if draw(st.integers(0, 4)) == 0:
                params.pop(name, None)
            else:
                params[name] = draw(fields[name])
        params.update(draw(st.dictionaries(st.text(min_size=1, max_size=8), hostile_text, max_size=2)))
    signing = draw(st.sampled_from(["signed"] * 8 + ["wrong key", "no token"]))
    if signing == "signed":
        sent = signed(params, isv_key())
    elif signing == "wrong key":
        sent = signed(params, "not-the-isv-key-0000")
    else:
        sent = {name: value for name, value in params.items() if name != "token"}
    query = urlencode(sent)
    duplicate = draw(st.sampled_from(sorted(sent))) if draw(st.integers(0, 4)) == 0 else None
    if duplicate is not None:
        query += "&" + urlencode({duplicate: sent[duplicate]})
    return {
        "params": sent,
        "query": query,
        "authentic": signing == "signed" and duplicate is None,
        "method": draw(st.sampled_from(["get", "get", "post"])),
    }


# -- what the protocol says a well-formed createInstance is ---------------------------------------------


def plausible_time(text: str) -> datetime | None:
    if not TIME.fullmatch(text):
        return None
    try:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    except ValueError:
        return None
    return moment if 2000 <= moment.year <= 2100 else None


def well_formed_create(call: dict[str, Any]) -> bool:
    params = call["params"]
    if not call["authentic"] or params.get("action") != "createInstance" or len(call["query"]) > 8192:
        return False
    if any(CONTROL.search(name) or CONTROL.search(value) or len(value) > 512 for name, value in params.items()):
        return False
    if len(params) > 64 or any(not params.get(name) for name in CREATE_REQUIRES):
        return False
    if any(params.get(name) and not IDENTIFIER.fullmatch(params[name]) for name in IDS_SENT):
        return False
    if params["trial"] not in ("true", "false"):
        return False
    if set(params["orderBizId"]) == {"0"}:
        return False  # instanceId "0" is the protocol's "not opened": never an instance
    return not params.get("expiredOn") or plausible_time(params["expiredOn"]) is not None


# -- the property -----------------------------------------------------------------------------------------


def send(client, call: dict[str, Any]):  # type: ignore[no-untyped-def]
    if call["method"] == "post":
        return client.post(SPI_PATH, data=call["query"], content_type="application/x-www-form-urlencoded")
    return client.get(SPI_PATH + "?" + call["query"])


def instances() -> dict[str, tuple[Any, ...]]:
    return {
        row[0]: row[1:]
        for row in MarketplaceInstance.objects.values_list(
            "instance_id", "state", "expires_at", "sku_id", "refunded", "applied_orders"
        )
    }


def audit_trails_chain() -> bool:
    trails: dict[int, list[tuple[str, str, str]]] = {}
    for instance, action, before, after in InstanceEvent.objects.order_by("id").values_list(
        "instance_id", "action", "from_state", "to_state"
    ):
        trails.setdefault(instance, []).append((action, before, after))
    if set(trails) != set(MarketplaceInstance.objects.values_list("pk", flat=True)):
        return False
    for trail in trails.values():
        if trail[0] != ("createInstance", "", "active"):
            return False
        if any(event[1] != previous[2] for previous, event in itertools.pairwise(trail)):
            return False
    return True


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(sequence=st.lists(calls(), min_size=1, max_size=6))
def test_hostile_signed_calls_get_json_and_leave_a_consistent_state(client, sequence):
    with transaction.atomic():
        # One real instance, so that lifecycle calls for "f1" find something to act on.
        client.get(SPI_PATH + "?" + urlencode(signed(create_params("f1"), isv_key())))
        for call in sequence:
            before, inbox_before = instances(), SpiCall.objects.count()
            response = send(client, call)

            assert response.status_code < 500, (call, response.content)
            assert response.status_code in (200, 413, 429), (call, response.status_code)
            assert response["Content-Type"] == "application/json", call
            body = response.json()
            assert isinstance(body, dict) and ("success" in body or "instanceId" in body), body
            failed = body.get("success") is False or body.get("instanceId") == "0"
            action = call["params"].get("action")
            hypothesis_event(f"{'refused' if failed else 'served'} {action if action in known_actions else 'other'}")

            after = instances()
            created = set(after) - set(before)
            if well_formed_create(call) and call["params"]["orderBizId"] not in before:
                instance_id = call["params"]["orderBizId"]
                assert created == {instance_id}, call
                assert body == {
                    "instanceId": instance_id,
                    "appInfo": {"authUrl": "http://testserver/marketplace/aliyun/sso"},
                }
                expected_expiry = plausible_time(call["params"].get("expiredOn") or "")
                assert after[instance_id][1] == expected_expiry
            else:
                assert created == set(), call
            if failed:
                assert after == before, call
            if not call["authentic"]:
                assert SpiCall.objects.count() == inbox_before, call
            for instance_id, (state, expires_at, *_rest) in before.items():
                if state == "released":
                    assert after[instance_id][0] == "released", call
                if expires_at is not None:
                    assert after[instance_id][1] is not None and after[instance_id][1] >= expires_at, call
            assert audit_trails_chain(), call
        transaction.set_rollback(True)
