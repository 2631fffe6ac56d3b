"""``/marketplace/aliyun/sso``: the browser arrives here from the marketplace's 免登 button."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from kaitong.marketplace import sso

# Session keys the activation pages read; everything the buyer may do hangs off these two.
SESSION_INSTANCE = "mp_instance"
SESSION_ALI_UID = "mp_ali_uid"
SESSION_PREFIX = "mp_"

_STATUS = {
    sso.Refusal.MALFORMED: 400,
    sso.Refusal.BAD_TOKEN: 401,
    sso.Refusal.STALE: 401,
    sso.Refusal.REPLAYED: 401,
    sso.Refusal.UNKNOWN_INSTANCE: 404,
    sso.Refusal.EXPIRED: 403,
    sso.Refusal.RELEASED: 403,
}


def _no_referrer(response: HttpResponse) -> HttpResponse:
    # The URL carries the token: never let it leave in a Referer header, and never cache the page.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def login_free_entry(request: HttpRequest) -> HttpResponse:
    env = settings.ENV
    try:
        entry = sso.do_enter_login_free(
            raw_sources=[request.META.get("QUERY_STRING", "")],
            isv_key=env.aliyun_isv_key,
            tolerance_seconds=env.verify_tolerance_seconds,
            now=timezone.now(),
        )
    except sso.EntryRefused as exc:
        page = render(
            request,
            "marketplace/sso_refused.html",
            {"refusal": exc.refusal.value, "instance_id": exc.instance_id},
            status=_STATUS[exc.refusal],
        )
        return _no_referrer(page)
    # A fresh session id, holding only this instance: nothing from an earlier entry carries over.
    for key in [key for key in list(request.session.keys()) if key.startswith(SESSION_PREFIX)]:
        del request.session[key]
    request.session.cycle_key()
    request.session[SESSION_INSTANCE] = entry.instance_id
    request.session[SESSION_ALI_UID] = entry.ali_uid
    return _no_referrer(HttpResponseRedirect(reverse("activation:start")))
