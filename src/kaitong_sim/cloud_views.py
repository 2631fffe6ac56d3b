"""The buyer's Alibaba account pages: 访问控制 RAM (users, AccessKeys, role grants), 日志服务 SLS (activation,
projects and stores), the marketplace's cross-account authorisation page (第三方快捷授权), and their test hooks.

Pages are for the signed-in buyer's MAIN account (a RAM user signed in manages its main account's, as a
RAM administrator would). A new AccessKey's secret is in the answer to the POST that created it, once:
it is never shown again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kaitong_sim import actions, cloud_domain, queries, signer
from kaitong_sim.cloud_domain import SlsError
from kaitong_sim.views import _buyer, _context, signed_in

# What the marketplace's SLS role template lets the ISV do (shown on the authorisation page).
ROLE_ALLOWS = (
    "日志服务 SLS：查看 Project 列表，创建 Project、Logstore、Metricstore",
    "Log Service (SLS): list projects; create projects, Logstores and Metricstores",
)


def _owner(request: HttpRequest) -> str:
    buyer = _buyer(request)
    assert buyer is not None
    return str(buyer["owner_uid"])


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


# --- 访问控制 RAM ------------------------------------------------------------------------------------------


def _ram_page(request: HttpRequest, *, status: int = 200, **extra: Any) -> HttpResponse:
    owner = _owner(request)
    context = _context(request, users=queries.ram_users(owner), grants=queries.grants(owner), owner_uid=owner, **extra)
    return _no_store(render(request, "simulator/ram.html", context, status=status))


@signed_in
@require_GET
def ram(request: HttpRequest) -> HttpResponse:
    return _ram_page(request, notice=request.GET.get("notice", "")[:40])


@signed_in
@require_POST
def create_ram_user(request: HttpRequest) -> HttpResponse:
    try:
        actions.do_create_ram_user(
            main_uid=_owner(request),
            name=request.POST.get("name", ""),
            sls_policy=request.POST.get("sls_policy") == "on",
            now=timezone.now(),
        )
    except actions.SimulatorError as exc:
        return _ram_page(request, status=400, error=str(exc))
    return HttpResponseRedirect(reverse("simulator:ram") + "?notice=user")


@signed_in
@require_POST
def create_access_key(request: HttpRequest) -> HttpResponse:
    """创建 AccessKey: the answer shows the secret, this once (not a redirect: nothing keeps it)."""
    user = request.POST.get("ram_user", "")
    try:
        key = actions.do_create_access_key(
            main_uid=_owner(request), ram_user_id=int(user) if user.isdigit() else None, now=timezone.now()
        )
    except actions.SimulatorError as exc:
        return _ram_page(request, status=400, error=str(exc))
    return _ram_page(request, new_key={"access_key_id": key.access_key_id, "secret": key.secret})


@signed_in
@require_POST
def revoke_access_key(request: HttpRequest, access_key_id: str) -> HttpResponse:
    try:
        actions.do_revoke_access_key(access_key_id=access_key_id, main_uid=_owner(request), now=timezone.now())
    except actions.SimulatorError as exc:
        return _ram_page(request, status=404, error=str(exc))
    return HttpResponseRedirect(reverse("simulator:ram") + "?notice=revoked")


@signed_in
@require_POST
def revoke_grant(request: HttpRequest, grant_id: int) -> HttpResponse:
    actions.do_revoke_grants(buyer_uid=_owner(request), grant_id=grant_id, now=timezone.now())
    return HttpResponseRedirect(reverse("simulator:ram") + "?notice=grant-revoked#grants")


# --- 日志服务 SLS ------------------------------------------------------------------------------------------


@signed_in
@require_GET
def sls(request: HttpRequest) -> HttpResponse:
    owner = _owner(request)
    return render(
        request,
        "simulator/sls.html",
        _context(
            request,
            owner_uid=owner,
            sls_on=queries.sls_active(owner),
            projects=queries.sls_projects(owner),
            notice=request.GET.get("notice", "")[:40],
        ),
    )


@signed_in
@require_POST
def toggle_sls(request: HttpRequest) -> HttpResponse:
    active = request.POST.get("active") == "1"
    actions.do_set_sls_active(uid=_owner(request), active=active)
    return HttpResponseRedirect(reverse("simulator:sls") + "?notice=" + ("on" if active else "off"))


# --- 第三方快捷授权: the cross-account role authorisation page ----------------------------------------------------

AUTHORIZE_FIELDS = ("role", "aliyunuid", "returnurl", "token")


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit(parts._replace(query=query))


def _authorisation_problem(request: HttpRequest, link: dict[str, str]) -> tuple[int, str]:
    """(status, message) of a link the marketplace refuses; (200, "") when it may be shown."""
    config = settings.SIMULATOR
    if not all(link.values()):
        return 400, "授权链接缺少参数（role、aliyunuid、returnurl、token） The link lacks a parameter."
    if not signer.signatures_match(signer.role_link_token(link["role"], config.isv_key), link["token"]):
        return 400, "授权链接校验失败（token 不正确） The link's token is wrong."
    if link["role"] != config.sls_role:
        return 400, "服务商没有这个角色模板 The ISV has no such role template."
    if urlsplit(link["returnurl"]).scheme not in ("http", "https"):
        return 400, "returnurl 必须是 http(s) 地址 returnurl must be an http(s) URL."
    buyer = _buyer(request)
    if buyer is None or buyer["uid"] != link["aliyunuid"]:
        return 403, (
            "授权链接中的阿里云账号与当前登录账号不一致，请使用主账号 "
            f"{link['aliyunuid'][:20]} 登录 The link is for another Alibaba Cloud account: sign in as it."
        )
    return 200, ""


def _grant_role(uid: str) -> dict[str, Any]:
    config = settings.SIMULATOR
    actions.do_grant_role(
        buyer_uid=uid,
        role_name=config.sls_role,
        trusted_uid=config.isv_uid,
        external_id=config.sls_role_external_id,
        now=timezone.now(),
    )
    return {"arn": cloud_domain.role_arn(uid, config.sls_role)}


@signed_in
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    """GET shows what the ISV asks for; POST 同意授权 creates the role and returns with ``token``, 取消 returns
    without it. Every parameter is checked again on POST (they travel in hidden fields)."""
    source = request.POST if request.method == "POST" else request.GET
    link = {name: source.get(name, "")[:2000] for name in AUTHORIZE_FIELDS}
    status, problem = _authorisation_problem(request, link)
    if problem:
        context = _context(request, error=problem, link=link)
        return render(request, "simulator/authorize.html", context, status=status)
    if request.method == "POST":
        if request.POST.get("decision") != "agree":
            return HttpResponseRedirect(link["returnurl"])
        _grant_role(link["aliyunuid"])
        # The marketplace's own token for the ISV (opaque to it: the ISV proves the grant by AssumeRole).
        answer = signer.role_link_token(f"{link['role']}&aliyunuid={link['aliyunuid']}", settings.SIMULATOR.isv_key)
        return HttpResponseRedirect(_with_query(link["returnurl"], token=answer))
    config = settings.SIMULATOR
    context = _context(
        request,
        link=link,
        isv_uid=config.isv_uid,
        role_arn=cloud_domain.role_arn(link["aliyunuid"], link["role"]),
        role_allows=ROLE_ALLOWS,
        granted=queries.active_grant(buyer_uid=link["aliyunuid"], role_name=link["role"]) is not None,
    )
    return render(request, "simulator/authorize.html", context)


# --- test hooks (JSON, demo and tests; tests/support/simulator.py wraps them) ---------------------------------


def _hook_body(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise actions.SimulatorError("the body must be a JSON object")
    return data


def _hook(view: Callable[[HttpRequest, dict[str, Any]], JsonResponse]) -> Callable[..., JsonResponse]:
    """A JSON hook: POST a JSON object, get JSON back; a refusal is 400 with ``error``."""

    @csrf_exempt
    @require_POST
    @wraps(view)
    def wrapper(request: HttpRequest, **kwargs: Any) -> JsonResponse:
        try:
            return view(request, {**_hook_body(request), **kwargs})
        except actions.SimulatorError as exc:
            return JsonResponse({"error": str(exc)}, status=400)

    return wrapper


@_hook
def hook_access_key(request: HttpRequest, data: dict[str, Any]) -> JsonResponse:
    """``{"uid", "ramUser": name | null, "slsPolicy": bool}`` → a new AccessKey (of the RAM user, created
    or updated with the policy as asked; of the main account when ``ramUser`` is null)."""
    uid, now = str(data.get("uid") or ""), timezone.now()
    ram_user = data.get("ramUser", "guance")
    user_id = None
    if ram_user is not None:
        user_id = actions.do_create_ram_user(
            main_uid=uid, name=str(ram_user), sls_policy=data.get("slsPolicy", True) is not False, now=now
        ).id
    key = actions.do_create_access_key(main_uid=uid, ram_user_id=user_id, now=now)
    return JsonResponse({"accessKeyId": key.access_key_id, "accessKeySecret": key.secret}, status=201)


@_hook
def hook_revoke_access_key(request: HttpRequest, data: dict[str, Any]) -> JsonResponse:
    actions.do_revoke_access_key(access_key_id=str(data["access_key_id"]), now=timezone.now())
    return JsonResponse({"revoked": True})


@_hook
def hook_sls(request: HttpRequest, data: dict[str, Any]) -> JsonResponse:
    """``{"uid", "active": bool}``: 日志服务 SLS 开通 / 关闭."""
    actions.do_set_sls_active(uid=str(data.get("uid") or ""), active=bool(data.get("active")))
    return JsonResponse({"active": bool(data.get("active"))})


@_hook
def hook_grant(request: HttpRequest, data: dict[str, Any]) -> JsonResponse:
    """``{"uid"}``: what 同意授权 does on the authorisation page (the configured role, trusting the ISV)."""
    grant = _grant_role(str(data.get("uid") or ""))
    return JsonResponse({"roleArn": grant["arn"]}, status=201)


@_hook
def hook_revoke_grant(request: HttpRequest, data: dict[str, Any]) -> JsonResponse:
    """``{"uid"}``: 撤销授权 of every active grant of the buyer."""
    return JsonResponse({"revoked": actions.do_revoke_grants(buyer_uid=str(data.get("uid") or ""), now=timezone.now())})


@csrf_exempt
@require_http_methods(["GET", "POST"])
def hook_sls_projects(request: HttpRequest) -> JsonResponse:
    """GET ``?uid=``: the account's projects with their stores. POST ``{"uid", "region", "name"}``: create one."""
    if request.method == "GET":
        uid = request.GET.get("uid", "")
        return JsonResponse({"projects": queries.sls_projects(uid)}, json_dumps_params={"ensure_ascii": False})
    try:
        data = _hook_body(request)
        project = actions.do_create_sls_project(
            owner_uid=str(data.get("uid") or ""),
            region=str(data.get("region") or "cn-hangzhou"),
            name=str(data.get("name") or ""),
            description=str(data.get("description") or ""),
            now=timezone.now(),
        )
    except actions.SimulatorError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except SlsError as exc:
        return JsonResponse({"error": exc.code}, status=400)
    return JsonResponse({"name": project.name, "region": project.region}, status=201)
