"""Pure workspace rules: names, tokens, the DataKit install commands (guance-domain §4), settlement."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kaitong.marketplace.domain import BEIJING

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
    MOVED = "moved"  # 更改结算方式: the owner moved it in the billing center's 工作空间管理


# A workspace gets its first settlement when it is created, and only then.
OPENING_REASONS = frozenset({Reason.CREATED, Reason.CREATED_BOUND, Reason.REGISTERED, Reason.COMMERCIAL_OPENED})


class AlreadyBoundElsewhere(Exception):
    """The workspace is settled by another marketplace instance."""


def settlement_changes(*, current: Settlement | None, to: Settlement, reason: Reason) -> bool:
    """Whether a workspace settled as ``current`` (None: being created) moves to ``to`` for ``reason``.

    False when it already settles so: a double submit or a back button changes nothing. Raises
    AlreadyBoundElsewhere when binding (绑定) would take a workspace another instance settles, and
    ValueError for a call that no path makes (a reason that does not fit the change). Whether a buyer's
    move is allowed now (once a month, never away from a subscribed instance) is ``check_move``.
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
    # 更改结算方式 may move a workspace from one instance to another (its instance lapsed: check_move);
    # 绑定 from the marketplace's login-free entry never takes a workspace from another instance.
    moves_between_instances = current is not None and current.method is Method.ALIYUN and to.method is Method.ALIYUN
    if moves_between_instances and reason is not Reason.MOVED:
        raise AlreadyBoundElsewhere
    return True


# -- moves: a buyer changing how an existing workspace settles (issue 12) ---------------------------------
#
# A buyer moves a workspace by binding it to an instance (绑定, from the login-free entry) or in the billing
# center (更改结算方式). Guance allows a move at most once per calendar month (Beijing time), except that
# the expiry or release of the instance settling a workspace always allows one move, and never lets a
# workspace leave a cloud account that is still subscribed (guance-domain.md §3.3, §3.5).

# The reasons that are a buyer's move of an existing workspace: they count toward the monthly limit.
MOVE_REASONS = frozenset({Reason.BOUND, Reason.MOVED})


class MoveRule(StrEnum):
    """Why a move is refused."""

    STILL_SUBSCRIBED = "still_subscribed"  # settled by a cloud account whose instance is still active
    ONCE_A_MONTH = "once_a_month"  # already moved this calendar month, and no lapse since


class StorageMismatch(Exception):
    """A workspace would settle by an instance of the other edition: a commercial (Guance-stored)
    workspace by an exclusive-edition instance, or an exclusive (SLS) one by anything but an
    exclusive-edition instance. Storage is set at creation and never changes (issue 13)."""


class MoveRefused(Exception):
    """The workspace cannot move now: ``rule`` says why; ``next_move_from`` (ONCE_A_MONTH) is the first
    moment of the next Beijing month, when it may move again."""

    def __init__(self, rule: MoveRule, next_move_from: datetime | None = None) -> None:
        super().__init__(rule.value)
        self.rule = rule
        self.next_move_from = next_move_from


@dataclass(frozen=True)
class MoveFacts:
    """What the move rules need to know of a workspace, read under its row lock.

    ``instance_subscribed``: whether the instance settling it is active (None: it settles by its
    billing-center account). ``last_move_at``: its latest move (a row with a reason in MOVE_REASONS).
    ``fell_back_since_last_move``: a release of its instance moved it to its billing-center account after
    that move (the lapse happened; the workspace just no longer shows it).
    """

    current: Settlement
    instance_subscribed: bool | None
    last_move_at: datetime | None
    fell_back_since_last_move: bool = False

    def __post_init__(self) -> None:
        if (self.instance_subscribed is None) != (self.current.method is Method.BILLING_ACCOUNT):
            raise ValueError("an instance's standing is known if and only if an instance settles the workspace")


def move_refusal_params(refused: MoveRefused) -> dict[str, object]:
    """The placeholders of a refusal's message: the Beijing date from which the workspace may move again."""
    when = refused.next_move_from
    return {"date": when.astimezone(BEIJING).date().isoformat() if when else ""}


def month_start(moment: datetime) -> datetime:
    """The first instant of ``moment``'s calendar month in Beijing time."""
    local = moment.astimezone(BEIJING)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(moment: datetime) -> datetime:
    """The first instant of the Beijing calendar month after ``moment``'s."""
    start = month_start(moment)
    # Day 1 + 32 days always lands in the next month; then back to its first day (no DST in Beijing).
    return month_start(start + timedelta(days=32))


def lapsed(facts: MoveFacts) -> bool:
    """Whether the instance settling the workspace expired or was released since its last move: the
    release/expiry exception, one move whatever the month holds."""
    return facts.instance_subscribed is False or facts.fell_back_since_last_move


def check_move(facts: MoveFacts, *, now: datetime) -> None:
    """Raise MoveRefused when the workspace cannot move away from its settlement at ``now``.

    The checks, in order: a subscribed cloud account keeps its workspace (the buyer cancels or lets
    the subscription lapse first); a lapse since the last move allows one move; otherwise at most one
    move per Beijing calendar month.
    """
    if facts.instance_subscribed is True:
        raise MoveRefused(MoveRule.STILL_SUBSCRIBED)
    if lapsed(facts):
        return
    if facts.last_move_at is not None and month_start(facts.last_move_at) == month_start(now):
        raise MoveRefused(MoveRule.ONCE_A_MONTH, next_move_from=next_month_start(now))


# -- the one-time link of 立即解锁 -------------------------------------------------------------------------
# A locked workspace's owner opens its 更改结算方式 page without signing in, through a link mailed to them
# or shown to them. The link carries a random token; only its digest is stored, it works once, briefly.

UNLOCK_LINK_LIFETIME = timedelta(minutes=30)
# How long the page it opens stays usable without signing in, counted from following the link.
UNLOCK_GRANT_LIFETIME = timedelta(minutes=30)
UNLOCK_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def new_unlock_token() -> str:
    """256 bits from the OS's CSPRNG, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def unlock_token_digest(token: str) -> str:
    """What is stored of a token: its SHA-256. The token is random and long, so no key is needed: the
    digest cannot be turned back into a working link."""
    return hashlib.sha256(token.encode()).hexdigest()


class UnlockLinkState(StrEnum):
    USABLE = "usable"
    USED = "used"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


def unlock_link_state(*, expires_at: datetime | None, used_at: datetime | None, now: datetime) -> UnlockLinkState:
    """A stored link's state at ``now`` (``expires_at`` None: no such link). Used wins over expired:
    the page then says it was used, which is what its reader needs to know."""
    if expires_at is None:
        return UnlockLinkState.UNKNOWN
    if used_at is not None:
        return UnlockLinkState.USED
    if now >= expires_at:
        return UnlockLinkState.EXPIRED
    return UnlockLinkState.USABLE
