"""``/marketplace/aliyun/sso``: the browser arrives here from the marketplace's 免登 button."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from kaitong.activation import refusals
from kaitong.activation.session import open_buyer_session
from kaitong.marketplace import sso


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
        answer = refusals.answer(exc)
        return _no_referrer(render(request, answer.page, {"refusal": answer}, status=answer.status))
    open_buyer_session(request, instance_id=entry.instance_id, ali_uid=entry.ali_uid)
    return _no_referrer(HttpResponseRedirect(reverse("activation:start")))
