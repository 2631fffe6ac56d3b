"""How the marketplace signs what it sends a vendor. Pure: no Django, no I/O, time passed in.

Written from the protocol reference (``aliyun-marketplace-protocol.md``), not from the vendor's code,
so that a mistake in either side's reading of the rule shows up when the two talk:

- §1.2 the SPI token (安全令牌): every parameter but ``token``, URL-decoded, sorted by name in byte
  order (``Count`` before ``action``), as ``name=value`` (an empty value still counts, as ``name=``)
  joined by ``&``, then ``&key=<ISV key>``; the MD5 of the UTF-8 bytes as 32 lower-case hex digits.
- §1.3 times (``expiredOn``, ``timeStamp``) are ``yyyy-MM-dd HH:mm:ss`` wall-clock time in Beijing
  (UTC+8), with no offset written.
- §2 the login-free link (免登): the vendor's ``authUrl`` plus ``token``, ``action=verify``,
  ``instanceId`` and ``timeStamp``, signed by the same rule with the same key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
WIRE_TIME = "%Y-%m-%d %H:%M:%S"


def beijing_time(moment: datetime) -> str:
    """``moment`` (aware) as the marketplace writes a time: Beijing wall clock, no offset."""
    if moment.tzinfo is None:
        raise ValueError("a marketplace time needs an aware datetime")
    return moment.astimezone(BEIJING).strftime(WIRE_TIME)


def string_to_sign(params: Mapping[str, str], isv_key: str) -> str:
    """The text the token is the MD5 of (shown by the tests next to the reference's examples)."""
    names = sorted((name for name in params if name != "token"), key=lambda name: name.encode("utf-8"))
    pairs = [name + "=" + params[name] for name in names]
    pairs.append("key=" + isv_key)
    return "&".join(pairs)


def token(params: Mapping[str, str], isv_key: str) -> str:
    """The SPI token of ``params`` (any ``token`` among them is left out of the sum)."""
    return hashlib.md5(string_to_sign(params, isv_key).encode("utf-8"), usedforsecurity=False).hexdigest()


def sign(params: Mapping[str, str], isv_key: str) -> dict[str, str]:
    """The parameters as the marketplace sends them: ``params`` and their ``token``."""
    unsigned = {name: value for name, value in params.items() if name != "token"}
    return {**unsigned, "token": token(unsigned, isv_key)}


def login_free_url(*, auth_url: str, instance_id: str, isv_key: str, now: datetime) -> str:
    """Where the buyer's browser is sent to enter the vendor's console: ``authUrl`` + a signed verify query.

    ``instance_id`` is the ID the vendor gave in its createInstance answer.
    """
    query = urlencode(sign({"action": "verify", "instanceId": instance_id, "timeStamp": beijing_time(now)}, isv_key))
    # The reference leaves open how the marketplace joins a query to an authUrl that has one already.
    return auth_url + ("&" if "?" in auth_url else "?") + query


def role_link_token(role: str, isv_key: str) -> str:
    """The token of the marketplace's cross-account authorisation link: MD5 of ``role=<role>&key=<ISV key>``."""
    return hashlib.md5(f"role={role}&key={isv_key}".encode(), usedforsecurity=False).hexdigest()


def signatures_match(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())
