"""Small facts about an HTTP request that several capabilities need."""

from django.http import HttpRequest


def client_ip(request: HttpRequest | None) -> str:
    """The client's address for rate limits and the SPI inbox.

    No proxy header is trusted: a deployment puts kaitong directly behind its own front end, so a
    forged X-Forwarded-For cannot buy an attacker a fresh rate-limit budget (reliability C.18).
    """
    if request is None:
        return ""
    return str(request.META.get("REMOTE_ADDR", ""))[:64]
