"""The simulated marketplace console: product page, sign-in, 已购买的服务, bill, operator pages, hooks.

Dialogs (开通按量服务, 开通申请已提交, 免登, 业务关闭) are server-rendered overlays on their page, so
every step works without JavaScript.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kaitong_base import clock
from kaitong_sim import actions, api, catalogue, mailbox, queries, sms
from kaitong_sim.openapi import is_api_request

SESSION_UID = "sim_uid"
EVENT_LABELS = {
    "expire": "账单逾期 → expiredInstance",
    "renew": "结清欠费 → renewInstance",
    "resume": "结清欠费（混合付费）→ resumeInstance",
    "upgrade": "升级规格 → upgradeInstance",
}


def _buyer(request: HttpRequest) -> dict[str, Any] | None:
    uid = request.session.get(SESSION_UID)
    return queries.account(uid) if uid else None


# The demo clock's steps on 已购买的服务: enough to cross a 14-day countdown's 3-days-left notice and its end.
CLOCK_STEPS = (1, 3, 7, 14)


def _demo_clock() -> dict[str, Any] | None:
    """The demo's clock as the page shows it (None: real time, no control: not the demo)."""
    path = settings.SIMULATOR.clock_offset_file
    if not path:
        return None
    offset = clock.read_offset(path)
    return {
        "now": timezone.now(),
        "days": offset.days,
        "hours": offset.seconds // 3600,
        "ahead": offset.total_seconds() > 0,
        "steps": CLOCK_STEPS,
    }


def _product(request: HttpRequest) -> catalogue.Product:
    """The product a page is about: ``product`` (query or form), the commercial edition by default."""
    products = catalogue.products(settings.SIMULATOR)
    code = request.POST.get("product") or request.GET.get("product") or ""
    return products.get(code) or next(iter(products.values()))


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    config = settings.SIMULATOR
    return {
        "products": list(catalogue.products(config).values()),
        "product": _product(request),
        "buyer": _buyer(request),
        "demo_clock": _demo_clock(),
        "product_code": config.product_code,
        "spi_url": config.spi_url,
        "unit_price": config.unit_price,
        "trial_days": actions.TRIAL_DAYS,
        **extra,
    }


def signed_in(view):  # type: ignore[no-untyped-def]
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if _buyer(request) is None:
            return HttpResponseRedirect(
                reverse("simulator:signin") + "?" + urlencode({"next": request.get_full_path()})
            )
        return view(request, *args, **kwargs)

    return wrapper


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    """The root answers the SDK (POST / with ``x-acs-action`` or ``Action``) or shows the product page."""
    if is_api_request(method=request.method or "GET", query_params=request.GET, headers=api.headers_of(request)):
        return api.market_api(request)
    return render(request, "simulator/product.html", _context(request))


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


# --- sign-in -----------------------------------------------------------------------------------------


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


@require_http_methods(["GET", "POST"])
def signin(request: HttpRequest) -> HttpResponse:
    error = ""
    next_url = _safe_next(request, reverse("simulator:console"))
    if request.method == "POST":
        uid = request.POST.get("uid", "")
        if request.POST.get("create"):
            try:
                account = actions.do_create_account(
                    name=request.POST.get("name", ""),
                    uid=request.POST.get("new_uid", ""),
                    is_ram=request.POST.get("kind") == "ram",
                    main_uid=request.POST.get("main_uid", ""),
                    now=timezone.now(),
                    verified=request.POST.get("unverified") != "on",
                )
            except actions.SimulatorError as exc:
                error = str(exc)
            else:
                uid = account.uid
        if not error:
            if queries.account(uid) is None:
                error = "请选择一个账号 Choose an account."
            else:
                request.session.cycle_key()
                request.session[SESSION_UID] = uid
                return HttpResponseRedirect(next_url)
    return render(
        request,
        "simulator/signin.html",
        _context(request, accounts=queries.accounts(), error=error, next=next_url),
        status=400 if error else 200,
    )


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    return HttpResponseRedirect(reverse("simulator:home"))


# --- purchase ----------------------------------------------------------------------------------------


@signed_in
@require_http_methods(["GET", "POST"])
def buy(request: HttpRequest) -> HttpResponse:
    trial = request.GET.get("trial") == "1" or request.POST.get("trial") == "1"
    error = ""
    if request.method == "POST":
        if request.POST.get("agree") != "on":
            error = "请先阅读并同意服务协议 Please read and agree to the service agreement first."
        else:
            buyer = _buyer(request)
            assert buyer is not None
            try:
                instance = actions.do_purchase(
                    account_uid=buyer["uid"], now=timezone.now(), trial=trial, product_code=_product(request).code
                )
            except actions.SimulatorError as exc:
                error = str(exc)
            else:
                # The dialog 开通申请已提交 sits over the page of the product just bought.
                return HttpResponseRedirect(
                    reverse("simulator:submitted")
                    + "?"
                    + urlencode({"instance": instance.instance_id, "product": instance.product_code})
                )
    context = _context(request, dialog="buy", trial=trial, error=error)
    return render(request, "simulator/product.html", context, status=400 if error else 200)


@signed_in
@require_GET
def submitted(request: HttpRequest) -> HttpResponse:
    return render(
        request, "simulator/product.html", _context(request, dialog="submitted", instance=request.GET.get("instance"))
    )


# --- 已购买的服务 ------------------------------------------------------------------------------------


def _owner(request: HttpRequest) -> str:
    buyer = _buyer(request)
    assert buyer is not None
    return str(buyer["owner_uid"])


def _purchased(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    """What 已购买的服务 shows: the buyer's instances and the events they can simulate."""
    return _context(request, instances=queries.instances(owner_uid=_owner(request)), events=EVENT_LABELS, **extra)


def _console(request: HttpRequest, *, status: int = 200, **extra: Any) -> HttpResponse:
    return render(request, "simulator/console.html", _purchased(request, **extra), status=status)


@signed_in
@require_GET
def console(request: HttpRequest) -> HttpResponse:
    return _console(request, notice=request.GET.get("notice", "")[:200])


@signed_in
@require_GET
def console_rows(request: HttpRequest) -> HttpResponse:
    """The rows of 已购买的服务 alone, as the page shows them: its script fetches them while an instance
    is 开通中, so the buyer sees it turn 已开通 without a reload."""
    response = render(request, "simulator/_instance_rows.html", _purchased(request))
    response["Cache-Control"] = "no-store"
    return response


def _confirm_then(
    request: HttpRequest, instance_id: str, *, dialog: str, act: Callable[[str], HttpResponse]
) -> HttpResponse:
    """A buyer action on one of their instances: GET shows its confirm dialog, POST does it."""
    owner = _owner(request)
    instance = queries.instance(instance_id, owner_uid=owner)
    if instance is None:
        return _console(request, status=404, error="实例不存在 No such instance.")
    if request.method == "GET":
        return _console(request, dialog=dialog, target=instance)
    try:
        return act(owner)
    except actions.SimulatorError as exc:
        return _console(request, status=409, error=str(exc))


@signed_in
@require_http_methods(["GET", "POST"])
def login_free(request: HttpRequest, instance_id: str) -> HttpResponse:
    def go(owner: str) -> HttpResponse:
        url = actions.login_free_url(
            instance_id=instance_id, owner_uid=owner, isv_key=settings.SIMULATOR.isv_key, now=timezone.now()
        )
        return HttpResponseRedirect(url)

    return _confirm_then(request, instance_id, dialog="sso", act=go)


@signed_in
@require_http_methods(["GET", "POST"])
def close(request: HttpRequest, instance_id: str) -> HttpResponse:
    def release(owner: str) -> HttpResponse:
        actions.do_trigger_event(instance_id=instance_id, event="release", owner_uid=owner, now=timezone.now())
        return HttpResponseRedirect(reverse("simulator:console") + "?" + urlencode({"notice": "closed"}))

    return _confirm_then(request, instance_id, dialog="close", act=release)


def _seconds(value: str) -> float:
    """A delay typed into the operator form: whole seconds, 0 to one day; anything else is 0."""
    return float(min(int(value), 86400)) if value.strip().isdigit() else 0.0


@signed_in
@require_POST
def event(request: HttpRequest, instance_id: str) -> HttpResponse:
    """Operator-triggered marketplace events, on the buyer's own instance."""
    try:
        actions.do_trigger_event(
            instance_id=instance_id,
            event=request.POST.get("event", ""),
            owner_uid=_owner(request),
            now=timezone.now(),
            fault=request.POST.get("fault", ""),
            delay=_seconds(request.POST.get("delay", "")),
        )
    except actions.SimulatorError as exc:
        return _console(request, status=409, error=str(exc))
    return HttpResponseRedirect(reverse("simulator:console") + "?" + urlencode({"notice": "event"}))


def _advance_clock(days_text: str) -> timedelta:
    """Move the demo's clock ``days_text`` days forward; raises SimulatorError for anything else."""
    path = settings.SIMULATOR.clock_offset_file
    if not path:
        raise actions.SimulatorError("演示时钟未启用（仅演示环境） The demo clock is off (demo only).")
    if not days_text.strip().isdigit() or not 1 <= int(days_text) <= max(CLOCK_STEPS):
        raise actions.SimulatorError(
            f"请选择前进 1–{max(CLOCK_STEPS)} 天 Choose 1–{max(CLOCK_STEPS)} days to move forward."
        )
    try:
        return clock.advance(path, timedelta(days=int(days_text)))
    except clock.ClockOffsetError as exc:
        raise actions.SimulatorError(f"演示时钟不能再前进 The demo clock cannot move further: {exc}") from None


@signed_in
@require_POST
def advance_clock(request: HttpRequest) -> HttpResponse:
    """推进时钟: the demo's clock jumps forward for every process of the demo (vendor and marketplace)."""
    try:
        _advance_clock(request.POST.get("days", ""))
    except actions.SimulatorError as exc:
        return _console(request, status=409 if not settings.SIMULATOR.clock_offset_file else 400, error=str(exc))
    return HttpResponseRedirect(reverse("simulator:console") + "?" + urlencode({"notice": "clock"}))


@signed_in
@require_GET
def bill(request: HttpRequest) -> HttpResponse:
    return render(request, "simulator/bill.html", _context(request, bill=queries.metering(owner_uid=_owner(request))))


# --- operator pages ------------------------------------------------------------------------------------


@require_GET
def ops(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "simulator/ops.html",
        _context(
            request,
            deliveries=queries.deliveries(),
            api_calls=queries.api_calls(),
            all_instances=queries.instances(),
            max_attempts=settings.SIMULATOR.max_attempts,
            retry_seconds=settings.SIMULATOR.retry_seconds,
        ),
    )


@require_POST
def retry_delivery(request: HttpRequest, delivery_id: int) -> HttpResponse:
    actions.do_reset_delivery(delivery_id=delivery_id, now=timezone.now())
    return HttpResponseRedirect(reverse("simulator:ops"))


MAILBOX_KINDS = ("all", "mail", "sms")


@require_GET
def mailbox_page(request: HttpRequest) -> HttpResponse:
    """Mail and SMS in one list, newest first: what a buyer's inbox and phone received."""
    to = request.GET.get("to", "").strip()[:200]
    kind = request.GET.get("kind", "all")
    kind = kind if kind in MAILBOX_KINDS else "all"
    entries: list[dict[str, Any]] = []
    if kind != "sms":
        entries += [{**m, "kind": "mail"} for m in mailbox.read(settings.SIMULATOR.mailbox_dir, to=to or None)]
    if kind != "mail":
        entries += [{**m, "kind": "sms"} for m in sms.read(settings.SIMULATOR.sms_dir, to=to or None)]
    # Unknown times last; among equal times the later file first (names sort by time within each kind).
    entries.sort(key=lambda e: (e["sent_at"] is not None, e["sent_at"] or datetime.min.replace(tzinfo=UTC), e["id"]))
    entries.reverse()
    return render(request, "simulator/mailbox.html", _context(request, messages=entries, to=to, kind=kind))


# --- test hooks (JSON) ----------------------------------------------------------------------------------


@csrf_exempt
@require_POST
def hook_instances(request: HttpRequest) -> JsonResponse:
    """Create a buyer (if needed) and an instance without the pages: for the vendor's tests."""
    try:
        data = json.loads(request.body or b"{}")
        if not isinstance(data, dict):
            raise ValueError
    except ValueError:
        return JsonResponse({"error": "the body must be a JSON object"}, status=400)
    now = timezone.now()
    uid = str(data.get("aliUid") or "")
    try:
        if not uid or queries.account(uid) is None:
            uid = actions.do_create_account(
                name=str(data.get("name") or "test buyer"), uid=uid, is_ram=False, main_uid="", now=now, sls_active=True
            ).uid
        instance = actions.do_purchase(
            account_uid=uid,
            now=now,
            trial=bool(data.get("trial")),
            product_code=str(data.get("productCode") or ""),
            fault=str(data.get("fault") or ""),
        )
    except actions.SimulatorError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"instanceId": instance.instance_id, "orderId": instance.order_id, "aliUid": uid}, status=201)


@csrf_exempt
@require_POST
def hook_account(request: HttpRequest) -> JsonResponse:
    """Create a simulated Alibaba Cloud account unless its UID exists (the demo seeds one).

    Its SLS is activated unless ``"slsActive": false``: the demo's buyer can open the exclusive edition."""
    try:
        data = json.loads(request.body or b"{}")
        uid, name = str(data.get("uid") or ""), str(data.get("name") or "")
        sls_active = data.get("slsActive", True) is not False
    except (ValueError, AttributeError):
        return JsonResponse({"error": "the body must be a JSON object with uid and name"}, status=400)
    if queries.account(uid) is not None:
        return JsonResponse({"uid": uid, "created": False})
    try:
        actions.do_create_account(
            name=name, uid=uid, is_ram=False, main_uid="", now=timezone.now(), sls_active=sls_active
        )
    except actions.SimulatorError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"uid": uid, "created": True}, status=201)


@csrf_exempt
@require_POST
def hook_event(request: HttpRequest, instance_id: str) -> JsonResponse:
    try:
        data = json.loads(request.body or b"{}")
        delivery = actions.do_trigger_event(
            instance_id=instance_id,
            event=str(data.get("event") or ""),
            now=timezone.now(),
            fault=str(data.get("fault") or ""),
            delay=float(data.get("delay") or 0),
        )
    except (ValueError, TypeError, AttributeError):
        return JsonResponse({"error": "the body must be a JSON object with event"}, status=400)
    except actions.SimulatorError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"delivery": delivery.id, "action": delivery.action}, status=201)


@csrf_exempt
@require_POST
def hook_clock(request: HttpRequest) -> JsonResponse:
    """Move the demo's clock forward ``{"days": n}`` without the page (tests)."""
    try:
        data = json.loads(request.body or b"{}")
        offset = _advance_clock(str(data.get("days", "")))
    except (ValueError, AttributeError):
        return JsonResponse({"error": "the body must be a JSON object with days"}, status=400)
    except actions.SimulatorError as exc:
        return JsonResponse({"error": str(exc)}, status=409 if not settings.SIMULATOR.clock_offset_file else 400)
    return JsonResponse({"offset_seconds": int(offset.total_seconds()), "now": timezone.now().isoformat()})


@require_GET
def hook_state(request: HttpRequest) -> JsonResponse:
    """Everything the simulator holds, as JSON: instances, SPI deliveries, metering, API calls."""
    bill = queries.metering()
    return JsonResponse(
        {
            "instances": queries.instances(),
            "deliveries": queries.deliveries(),
            "metering": bill["records"],
            "total": str(bill["total"]),
            "api_calls": queries.api_calls(),
        },
        json_dumps_params={"ensure_ascii": False},
    )
