"""The RAM policy the buyer attaches allows exactly what kaitong.sls.client calls in SLS, nothing more.

The calls are not listed by hand: each wrapper in the client is run against the official SDK with its
transport replaced, and the SDK's own action names are recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kaitong.sls import client, domain, policy
from kaitong.sls.client import Credentials

CREDS = Credentials("LTAI0000000000000000abcd", "s" * 30)


@pytest.fixture
def sls_actions(monkeypatch) -> list[str]:
    from alibabacloud_sls20201230.client import Client

    seen: list[str] = []

    def execute(self: Any, params: Any, request: Any, runtime: Any) -> dict[str, Any]:
        seen.append(params.action)
        return {"body": {"projects": [], "count": 0, "total": 0}, "headers": {}, "statusCode": 200}

    monkeypatch.setattr(Client, "execute", execute)
    return seen


def every_sls_call() -> None:
    region, project = "cn-hangzhou", domain.project_name(1)
    client.list_projects(CREDS, region)
    client.create_project(CREDS, region, project, domain.project_description(1))
    for store in domain.STORES:
        if store.kind is domain.StoreKind.METRICSTORE:
            client.create_metricstore(CREDS, region, project, store.name, ttl=domain.TTL_DAYS)
        else:
            client.create_logstore(CREDS, region, project, store.name, mode=store.mode, ttl=domain.TTL_DAYS)


def test_the_policy_allows_exactly_the_sls_calls_the_client_makes(sls_actions):
    every_sls_call()
    assert policy.actions() == {f"log:{action}" for action in sls_actions}


def test_every_client_function_that_talks_to_sls_is_covered():
    # A new SLS wrapper in the client must be added to every_sls_call (and so to the policy).
    covered = {"list_projects", "create_project", "create_logstore", "create_metricstore"}
    sls_functions = {
        name
        for name, value in vars(client).items()
        if callable(value)
        and not name.startswith("_")
        and getattr(value, "__module__", "") == client.__name__
        and "_sls(" in _source(value)
    }
    assert sls_functions == covered


def _source(function: Any) -> str:
    import inspect

    return inspect.getsource(function)


def test_the_policy_file_is_a_ram_policy_scoped_to_guance_projects():
    document = json.loads(policy.document())
    assert document["Version"] == "1"
    creating = [s for s in document["Statement"] if "log:CreateProject" in s["Action"]]
    assert creating and all(r.startswith("acs:log:*:*:project/guance-wksp-") for r in creating[0]["Resource"])
