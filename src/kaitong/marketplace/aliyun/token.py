"""The marketplace's md5 token (安全令牌), exactly as Alibaba specifies it (protocol §1.2).

md5 over every parameter but ``token`` (unknown ones included), sorted by name in byte order, joined as
``name=value`` with ``&``, then ``&key=<ISV key>``; 32 lower-case hex digits. Compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping


def spi_token(params: Mapping[str, str], key: str) -> str:
    """Return the token the marketplace would send for ``params`` (``token`` itself is ignored)."""
    # sorted() on str compares code points, which for the ASCII parameter names is byte order:
    # "Count" sorts before "action", "orderBizId" before "orderId".
    joined = "&".join(f"{name}={params[name]}" for name in sorted(params) if name != "token")
    return hashlib.md5((joined + "&key=" + key).encode("utf-8"), usedforsecurity=False).hexdigest()


def token_is_valid(params: Mapping[str, str], key: str) -> bool:
    """True when ``params['token']`` is the token of the other parameters, compared in constant time."""
    given = params.get("token", "")
    if len(given) != 32:
        return False
    return hmac.compare_digest(spi_token(params, key).encode(), given.encode())


def signed(params: Mapping[str, str], key: str) -> dict[str, str]:
    """``params`` plus its token: what the marketplace (or our simulator) sends."""
    out = {name: value for name, value in params.items() if name != "token"}
    out["token"] = spi_token(out, key)
    return out
