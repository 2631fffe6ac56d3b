"""The client's errors: Alibaba's code and status kept, the credentials' secrets never in the text."""

from __future__ import annotations

from typing import Any

import pytest
from Tea.exceptions import TeaException

from kaitong.sls import client
from kaitong.sls.client import CloudError, Credentials

SECRET = "VerySecretAccessKeySecret0123456"
TOKEN = "CAIS-security-token-0123456789"


def test_an_sls_error_keeps_code_and_status_and_drops_the_secret(monkeypatch):
    from alibabacloud_sls20201230.client import Client

    def execute(self: Any, params: Any, request: Any, runtime: Any) -> dict[str, Any]:
        raise TeaException(
            {
                "code": "Unauthorized",
                "message": f"denied for {SECRET} with {TOKEN}",
                "data": {"statusCode": 403, "httpCode": 403},
            }
        )

    monkeypatch.setattr(Client, "execute", execute)
    with pytest.raises(CloudError) as caught:
        client.list_projects(Credentials("LTAI0000000000000000abcd", SECRET, TOKEN), "cn-hangzhou")
    error = caught.value
    assert (error.code, error.status) == ("Unauthorized", 403)
    assert SECRET not in str(error) and TOKEN not in str(error)
    assert client.SCRUBBED in error.message


def test_a_transport_failure_is_unreachable(monkeypatch):
    from alibabacloud_sls20201230.client import Client

    def execute(self: Any, params: Any, request: Any, runtime: Any) -> dict[str, Any]:
        raise ConnectionError(f"connection refused ({SECRET})")

    monkeypatch.setattr(Client, "execute", execute)
    with pytest.raises(CloudError) as caught:
        client.create_project(Credentials("LTAI0000000000000000abcd", SECRET), "cn-hangzhou", "guance-wksp-1", "d")
    assert caught.value.code == "Unreachable" and caught.value.status == 0
    assert SECRET not in str(caught.value)


def test_credentials_never_print_their_secret():
    assert SECRET not in repr(Credentials("LTAI0000000000000000abcd", SECRET, TOKEN))
    assert TOKEN not in repr(Credentials("LTAI0000000000000000abcd", SECRET, TOKEN))
