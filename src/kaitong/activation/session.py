"""The session of a buyer in activation: what the login-free entry opened and what the pages added;
and the billing center's grant from a one-time unlock link (立即解锁).

This module alone reads and writes these keys (tests/functional/test_activation_state.py checks it):
the login-free entry (``marketplace/sso_views.py``) calls ``open_buyer_session``, the activation
pages read and write through ``BuyerSession``'s typed accessors. Everything the buyer may do hangs
off the instance and its aliUid; the rest records how far the buyer got. The billing center's unlock
link (``billing/views.py``) records what it opened through ``UnlockGrant``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import cast

from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

_PREFIX = "mp_"  # every key below starts so: a new entry drops them all
_INSTANCE = "mp_instance"
_ALI_UID = "mp_ali_uid"
_BILLING_ACCOUNT = "mp_billing"
_BOUND = "mp_bound"
_HINT_SEEN = "mp_hint_seen"
_REGISTRATION = "mp_registration"
_OPENED = "mp_opened"
_ALIYUN_NEXT = "mp_aliyun_next"
_ROLE_RETURNED = "mp_role_returned"
# Not a buyer's key: a login-free entry leaves it alone, and it leaves the buyer's alone.
_UNLOCK_GRANT = "unlock_grant"
_ECHO = "mp_echo"


class NoEntry(Exception):
    """This browser did not come through the login-free entry (or its session ended)."""


@dataclass(frozen=True)
class RegistrationDraft:
    """Step 1 of the commercial registration, kept for step 2: the mailbox is proved, the password is
    kept only as its Argon2 hash."""

    username: str
    password_hash: str
    email: str
    phone: str


@dataclass(frozen=True)
class CodeNotice:
    """What 获取验证码 answered, shown beside the button: the words, whether they are a refusal (red)
    rather than a notice, when to ask again (a second click within the cooldown), and when (epoch
    seconds) the address takes another code: the button counts down to it (0: no countdown)."""

    message: str
    refused: bool = False
    later: str = ""
    ready_at: float = 0.0


@dataclass(frozen=True)
class FormEcho:
    """A posted form, kept for the one GET of its page that follows the redirect (Post/Redirect/Get):
    what was typed (never a password or a code), the errors by field ("__all__": above the form), a
    message above the form, the status and Retry-After to answer that GET with, and 获取验证码's answer."""

    path: str
    typed: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    alert: str = ""
    status: int = 200
    retry_after: int | None = None
    notice: CodeNotice | None = None


def open_buyer_session(request: HttpRequest, *, instance_id: str, ali_uid: str) -> None:
    """Start afresh for one login-free entry: a new session id holding only this instance and its
    aliUid; nothing from an earlier entry carries over (another instance, a half-done registration)."""
    session = request.session
    for key in [key for key in list(session.keys()) if key.startswith(_PREFIX)]:
        del session[key]
    session.cycle_key()
    session[_INSTANCE] = instance_id
    session[_ALI_UID] = ali_uid


class BuyerSession:
    """Typed access to the activation state of one browser session."""

    def __init__(self, session: SessionBase) -> None:
        self._session = session
        # Whether the instance is of the exclusive edition, read once a request by the views (never kept
        # in the session: it is the marketplace's fact, not the buyer's state). None: not read yet.
        self.exclusive: bool | None = None

    @classmethod
    def of(cls, request: HttpRequest) -> BuyerSession:
        """The request's one BuyerSession (the decorator's and the page's are the same object)."""
        kept = vars(request)
        if "_buyer_session" not in kept:
            kept["_buyer_session"] = cls(request.session)
        return cast(BuyerSession, kept["_buyer_session"])

    # -- what the entry opened --------------------------------------------------------------------

    @property
    def entered(self) -> bool:
        return bool(self._session.get(_INSTANCE))

    @property
    def instance_id(self) -> str:
        """The instance this session may settle by; NoEntry when the browser did not come in through it."""
        instance_id = self._session.get(_INSTANCE)
        if not instance_id:
            raise NoEntry
        return str(instance_id)

    @property
    def ali_uid(self) -> str:
        return str(self._session.get(_ALI_UID, ""))

    # -- how far the buyer got --------------------------------------------------------------------

    @property
    def billing_account_id(self) -> int | None:
        """The billing-center account bound, registered or recognised by aliUid in this session."""
        value = self._session.get(_BILLING_ACCOUNT)
        return int(value) if value else None

    @billing_account_id.setter
    def billing_account_id(self, account_id: int) -> None:
        self._session[_BILLING_ACCOUNT] = account_id

    @property
    def registration(self) -> RegistrationDraft | None:
        draft = self._session.get(_REGISTRATION)
        return RegistrationDraft(**draft) if draft else None

    @registration.setter
    def registration(self, draft: RegistrationDraft | None) -> None:
        if draft is None:
            self._session.pop(_REGISTRATION, None)
        else:
            self._session[_REGISTRATION] = asdict(draft)

    @property
    def hint_seen(self) -> bool:
        """The 如何快速绑定阿里云账号结算 dialog was dismissed (知道了)."""
        return bool(self._session.get(_HINT_SEEN))

    def mark_hint_seen(self) -> None:
        self._session[_HINT_SEEN] = True

    @property
    def opened(self) -> bool:
        """The commercial registration's last step (开通) succeeded: it is not done twice."""
        return bool(self._session.get(_OPENED))

    def mark_opened(self) -> None:
        self._session[_OPENED] = True

    @property
    def aliyun_next(self) -> str:
        """The step 绑定阿里云账号's 下一步 leads to (a URL name of these pages; "" for the default): the
        step that sent the buyer there because it creates an exclusive workspace."""
        return str(self._session.get(_ALIYUN_NEXT, ""))

    @aliyun_next.setter
    def aliyun_next(self, name: str) -> None:
        self._session[_ALIYUN_NEXT] = name

    @property
    def role_returned(self) -> bool:
        """The marketplace's authorisation page sent the buyer back (returnurl): 验证 is what is left.
        Its token is not kept: no API exchanges it (other-marketplaces-and-sls.md §3.2), and the
        vendor proves the grant by assuming the role instead."""
        return bool(self._session.get(_ROLE_RETURNED))

    @role_returned.setter
    def role_returned(self, returned: bool) -> None:
        self._session[_ROLE_RETURNED] = returned

    @property
    def bound_workspace_ids(self) -> list[int]:
        """Workspaces bound or created in this session, for 开通成功, in the order they were."""
        return [int(i) for i in self._session.get(_BOUND, [])]

    def remember_bound(self, workspace_id: int) -> None:
        bound = self.bound_workspace_ids
        if workspace_id not in bound:
            bound.append(workspace_id)
        self._session[_BOUND] = bound

    # -- a posted form, shown once by the page it redirects to ------------------------------------------

    def keep_echo(self, echo: FormEcho) -> None:
        self._session[_ECHO] = asdict(echo)

    def take_echo(self, path: str) -> FormEcho | None:
        """The form posted to ``path``, once: any page's GET drops what was kept, so it never shows up
        later, on another visit or another page."""
        kept = self._session.pop(_ECHO, None)
        if not kept or kept.get("path") != path:
            return None
        notice = kept.pop("notice", None)
        return FormEcho(**kept, notice=CodeNotice(**notice) if notice else None)


class UnlockGrant:
    """What a followed unlock link (立即解锁) lets this browser do without signing in: open one
    workspace's 更改结算方式 page, until a moment. Nothing else of the billing center or the console.
    Why so narrow: docs/decisions/2026-11-30-settlement-moves-and-unlock-links.md."""

    def __init__(self, session: SessionBase) -> None:
        self._session = session

    @classmethod
    def of(cls, request: HttpRequest) -> UnlockGrant:
        return cls(request.session)

    def give(self, *, workspace_id: int, until: datetime) -> None:
        """Grant the workspace's page until ``until``, under a new session id (the link was the proof;
        a session id seen before it must not carry the grant). A grant given before is replaced."""
        self._session.cycle_key()
        self._session[_UNLOCK_GRANT] = {"workspace": workspace_id, "until": until.isoformat()}

    def workspace_id(self, *, now: datetime) -> int | None:
        """The workspace granted, if the grant still holds at ``now``."""
        grant = self._session.get(_UNLOCK_GRANT)
        if not grant:
            return None
        if datetime.fromisoformat(grant["until"]) <= now:
            self._session.pop(_UNLOCK_GRANT, None)
            return None
        return int(grant["workspace"])
