"""The Content-Security-Policy both web apps send (django-csp's setting): nothing inline, nothing from
elsewhere. Scripts and styles are files under /static/; a page that ever needs an inline script gets it
with a nonce ({{ request.csp_nonce }})."""

from __future__ import annotations

from typing import Any

from csp.constants import NONE, SELF


def strict_content_security_policy(*, restrict_form_action: bool = True) -> dict[str, Any]:
    """``restrict_form_action=False`` for a page whose form posts here and is redirected to another
    site (the simulator's 免登), which ``form-action 'self'`` would stop."""
    directives: dict[str, list[str]] = {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    }
    if restrict_form_action:
        directives["form-action"] = [SELF]
    return {"DIRECTIVES": directives}
