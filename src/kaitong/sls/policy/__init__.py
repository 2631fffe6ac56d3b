"""The RAM policy a buyer attaches to the RAM user whose AccessKey they give us (RAM 账号授权).

``guance-sls-policy.json`` is the one list of what the vendor may do in the buyer's Log Service: the
activation page offers it for download as it is, and a unit test holds it equal to the calls
``kaitong.sls.client`` makes (tests/unit/sls/test_policy.py)."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files

FILE_NAME = "guance-sls-policy.json"


@cache
def document() -> bytes:
    """The policy file's bytes, for download."""
    return (files(__package__) / FILE_NAME).read_bytes()


def actions() -> set[str]:
    """Every action the policy allows (``log:ListProject`` …)."""
    statements = json.loads(document())["Statement"]
    return {action for statement in statements for action in statement["Action"]}
