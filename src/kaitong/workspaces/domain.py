"""Pure workspace rules: names, tokens, the DataKit install commands (guance-domain §4), settlement."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

NAME_MAX = 64


class WorkspaceNameError(ValueError):
    """Empty, or longer than NAME_MAX characters."""


def clean_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name or len(name) > NAME_MAX:
        raise WorkspaceNameError(name)
    return name


TOKEN_RE = re.compile(r"^tkn_[0-9a-f]{32}$")


def new_token() -> str:
    """``tkn_`` + 32 hex digits (128 bits from the OS's CSPRNG)."""
    return "tkn_" + secrets.token_hex(16)


@dataclass(frozen=True)
class InstallCommands:
    linux: str
    windows: str


def datakit_commands(*, dataway_url: str, token: str, install_host: str) -> InstallCommands:
    """The install commands that carry this workspace's token to DataKit through ``DK_DATAWAY``."""
    dataway = f"{dataway_url.rstrip('/')}?token={token}"
    host = install_host.rstrip("/")
    linux = f'DK_DATAWAY="{dataway}" bash -c "$(curl -L {host}/datakit/install.sh)"'
    windows = "\n".join(
        [
            "Remove-Item -ErrorAction SilentlyContinue Env:DK_*;",
            f'$env:DK_DATAWAY="{dataway}";',
            "Set-ExecutionPolicy Bypass -scope Process -Force;",
            f"Import-Module bitstransfer; start-bitstransfer -source {host}/datakit/install.ps1 "
            "-destination .install.ps1;",
            "powershell ./.install.ps1;",
        ]
    )
    return InstallCommands(linux=linux, windows=windows)


# -- settlement: how a workspace's usage is paid for (DESIGN.md, Settlement) ---------------------------


class Method(StrEnum):
    BILLING_ACCOUNT = "billing_account"  # the billing-center account's own bill
    ALIYUN = "aliyun"  # an Alibaba Cloud Marketplace instance, a cloud account of that billing-center account


@dataclass(frozen=True)
class Settlement:
    """How a workspace settles: by its billing-center account, or by exactly one marketplace instance.

    Issue 12 (lock countdown) adds whether the workspace is locked to this value; the door compares and
    records whole values, so a lock or an unlock is one more kind of change through it.
    """

    method: Method
    instance_id: str = ""

    def __post_init__(self) -> None:
        if (self.method is Method.ALIYUN) != bool(self.instance_id):
            raise ValueError("an instance settles a workspace if and only if the method is aliyun")


BY_BILLING_ACCOUNT = Settlement(Method.BILLING_ACCOUNT)


def by_instance(instance_id: str) -> Settlement:
    return Settlement(Method.ALIYUN, instance_id)


class Reason(StrEnum):
    """Why a workspace's settlement was set or changed (the audit row says it)."""

    CREATED = "created"  # created by an operator, the demo or a test, settled as asked
    CREATED_BOUND = "created_bound"  # 创建工作空间 during activation: settled by the session's instance
    REGISTERED = "registered"  # 注册观测云账号: new console + billing-center account and this first workspace
    COMMERCIAL_OPENED = "commercial_opened"  # 立即注册观测云商业版, its last step (开通方式: 阿里云账号结算)
    BOUND = "bound"  # 绑定: the buyer bound an existing workspace to the instance
    # The settling instance was released: back to the billing-center account. No path writes it since
    # issue 12 (a release starts the lock countdown instead); rows written before keep it.
    INSTANCE_RELEASED = "instance_released"


# A workspace gets its first settlement when it is created, and only then.
OPENING_REASONS = frozenset({Reason.CREATED, Reason.CREATED_BOUND, Reason.REGISTERED, Reason.COMMERCIAL_OPENED})


class AlreadyBoundElsewhere(Exception):
    """The workspace is settled by another marketplace instance."""


def settlement_changes(*, current: Settlement | None, to: Settlement, reason: Reason) -> bool:
    """Whether a workspace settled as ``current`` (None: being created) moves to ``to`` for ``reason``.

    False when it already settles so: a double submit or a back button changes nothing. Raises
    AlreadyBoundElsewhere when an instance would take a workspace another instance settles (never away
    from a cloud account that still settles it; issue 12 adds the monthly move), and ValueError for a
    call that no path makes (a reason that does not fit the change).
    """
    if (current is None) != (reason in OPENING_REASONS):
        raise ValueError(f"{reason} does not fit a workspace {'being created' if current is None else 'that exists'}")
    if reason is Reason.BOUND and to.method is not Method.ALIYUN:
        raise ValueError("binding settles by an instance")
    if reason is Reason.INSTANCE_RELEASED and (
        current is None or current.method is not Method.ALIYUN or to != BY_BILLING_ACCOUNT
    ):
        raise ValueError("a release moves a workspace from its instance to its billing-center account")
    if current == to:
        return False
    if current is not None and current.method is Method.ALIYUN and to.method is Method.ALIYUN:
        raise AlreadyBoundElsewhere
    return True
