"""Who a mail is from, in the language it is written in.

KAITONG_MAIL_FROM (DEFAULT_FROM_EMAIL) names the sender as the Chinese product, "观测云 <no-reply@…>":
an English code mail or notice would come from "观测云" above an English subject. The display name is
translated like any page string, so the default sender reads "Guance Cloud" in English; a name the
catalogue does not know (an operator's own) is kept as configured, and the address never changes.
"""

from __future__ import annotations

from email.headerregistry import Address
from email.utils import parseaddr

from django.conf import settings
from django.utils import translation


def from_address(language: str) -> str:
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    if not name or not address:
        return str(settings.DEFAULT_FROM_EMAIL)
    with translation.override(language):
        translated = translation.gettext(name)
    # Quoted where the name needs it, not yet encoded: Django encodes a non-ASCII name when it sends.
    return str(Address(display_name=translated, addr_spec=address))
