"""The seed page's screens, after the login-free entry: chooser → register or bind → workspace → 开通成功.

Views read through ``queries`` and write through ``actions``; they never touch models. The session
(opened by the login-free entry) holds the instance and its aliUid; binding a billing-center account
adds its id; every workspace bound or created in this session is listed on the success page.
Every form posts with CSRF; 获取验证码 is a second submit button, so the pages work without JavaScript.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django import forms as django_forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.hashers import make_password
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from kaitong.accounts import actions as account_actions
from kaitong.accounts import domain as account_rules
from kaitong.accounts import queries as account_queries
from kaitong.activation import forms
from kaitong.config.http import client_ip
from kaitong.marketplace import sso
from kaitong.marketplace.sso_views import SESSION_ALI_UID, SESSION_INSTANCE
from kaitong.workspaces import actions as workspace_actions
from kaitong.workspaces import domain as workspace_rules
from kaitong.workspaces import queries as workspace_queries

SESSION_BILLING = "mp_billing"
SESSION_BOUND = "mp_bound"
SESSION_HINT_SEEN = "mp_hint_seen"
SESSION_REGISTRATION = "mp_registration"  # step 1 of the commercial registration, password hashed
SESSION_OPENED = "mp_opened"

View = Callable[..., HttpResponse]
FormT = TypeVar("FormT", bound=django_forms.Form)
Purpose = account_rules.Purpose


# -- helpers ----------------------------------------------------------------------------------------


def needs_entry(view: View) -> View:
    """Only a browser that came through the login-free entry may use these pages."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        instance_id = request.session.get(SESSION_INSTANCE)
        if not instance_id:
            return render(request, "activation/no_entry.html", status=403)
        if not sso.instance_is_active(str(instance_id)):
            # Expired or released since the entry: the session can no longer bind anything.
            return _instance_gone(request)
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    # Passwords and codes never reach an error report or a log.
    hidden = sensitive_post_parameters("password1", "password2", "code")
    return require_http_methods(["GET", "POST"])(hidden(wrapped))


def _instance(request: HttpRequest) -> str:
    return str(request.session[SESSION_INSTANCE])


def _language() -> str:
    return "en" if translation.get_language() == "en" else "zh-hans"


def _remember_bound(request: HttpRequest, workspace_id: int) -> None:
    bound = list(request.session.get(SESSION_BOUND, []))
    if workspace_id not in bound:
        bound.append(workspace_id)
    request.session[SESSION_BOUND] = bound


def _code_message(exc: account_actions.CodeRefused) -> str:
    verdict = account_rules.Verdict
    if exc.verdict is verdict.WRONG:
        return _("验证码错误，还可尝试 %(n)s 次") % {"n": exc.tries_left}
    return {
        verdict.MISSING: _("请先获取验证码"),
        verdict.EXPIRED: _("验证码已过期，请重新获取"),
        verdict.USED: _("验证码已使用，请重新获取"),
        verdict.BURNED: _("验证码错误次数过多，已失效，请重新获取"),
        verdict.LOCKED: _("验证码错误次数过多，请一小时后再试"),
    }[exc.verdict]


def _issue_message(exc: account_rules.IssueRefused) -> str:
    if exc.reason == "cooldown":
        return _("验证码发送过于频繁，请 %(s)s 秒后再试") % {"s": exc.retry_after}
    minutes = max(1, (exc.retry_after + 59) // 60)
    return _("获取验证码次数已达上限，请 %(m)s 分钟后再试") % {"m": minutes}


_SECRET_FIELDS = {"password1", "password2", "code", "csrfmiddlewaretoken", "op"}


def _send_code(
    request: HttpRequest, form_class: type[django_forms.Form], purpose: account_rules.Purpose
) -> dict[str, Any]:
    """Handle 获取验证码: send a code to the form's email; return the context to show the form again
    (inputs kept, secrets dropped) and, if the code could not be sent, why, under the email field."""
    kept = {name: value for name, value in request.POST.items() if name not in _SECRET_FIELDS}
    form = form_class(initial=kept)
    email_form = forms.EmailOnlyForm(request.POST)
    if not email_form.is_valid():
        return {"form": form, "email_error": email_form.errors["email"][0]}
    email = email_form.cleaned_data["email"]
    try:
        account_actions.do_send_verification_code(
            email=email, purpose=purpose, ip=client_ip(request), language=_language(), now=timezone.now()
        )
    except account_rules.IssueRefused as exc:
        return {"form": form, "email_error": _issue_message(exc)}
    # The same words whether or not an account uses this email (no enumeration).
    messages.success(request, _("验证码已发送至 %(email)s，10 分钟内有效") % {"email": email})
    return {"form": form}


def _is_send_code(request: HttpRequest) -> bool:
    return request.method == "POST" and request.POST.get("op") == "send_code"


def _submitted(
    request: HttpRequest,
    template: str,
    form_class: type[FormT],
    *,
    code_purpose: account_rules.Purpose | None = None,
    **context: Any,
) -> FormT | HttpResponse:
    """The start every form view shares: 获取验证码 (when the form takes an email code), the empty form,
    or the refused form with its errors, each as the page to answer; otherwise the valid bound form."""
    if code_purpose is not None and _is_send_code(request):
        return _page(request, template, **_send_code(request, form_class, code_purpose), **context)
    if request.method != "POST":
        return _page(request, template, form=form_class(), **context)
    form = form_class(request.POST)
    if not form.is_valid():
        return _invalid(request, template, form=form, **context)
    return form


# English names of the sites the docs list (guance-domain §2); the configured name is Chinese.
_SITE_NAMES_EN = {
    "cn1": "China 1 (Hangzhou)",
    "cn2": "China 2 (Ningxia)",
    "cn3": "China 3 (Zhangjiakou)",
    "cn4": "China 4 (Guangzhou)",
    "cn6": "China 6 (Hong Kong)",
    "us1": "Americas 1 (Oregon)",
    "eu1": "Europe 1 (Frankfurt)",
    "ap1": "Asia-Pacific 1 (Singapore)",
}


def _site_name() -> str:
    env = settings.ENV
    if _language() == "en":
        return _SITE_NAMES_EN.get(env.site_code, env.site_name)
    return env.site_name


def _page(request: HttpRequest, template: str, *, status: int = 200, **context: Any) -> HttpResponse:
    context.setdefault("instance_id", request.session.get(SESSION_INSTANCE, ""))
    context.setdefault("ali_uid", request.session.get(SESSION_ALI_UID, ""))
    context.setdefault("account", account_queries.billing_account(request.session.get(SESSION_BILLING)))
    context.setdefault("site_name", _site_name())
    return render(request, template, context, status=status)


def _invalid(request: HttpRequest, template: str, **context: Any) -> HttpResponse:
    """A form that was refused: 400, so scripts and tests can tell a refusal from a fresh page."""
    return _page(request, template, status=400, **context)


# Every failure an action can announce; views catch this tuple and let _refused answer it.
REFUSALS: tuple[type[Exception], ...] = (
    account_actions.CodeRefused,
    account_actions.AccountMismatch,
    account_actions.UsernameTaken,
    account_actions.InstanceBoundElsewhere,
    account_actions.InstanceNotActive,
    workspace_rules.WorkspaceNameError,
    workspace_actions.WorkspaceNotFound,
    workspace_actions.AlreadyBoundElsewhere,
    workspace_actions.EmailMismatch,
    workspace_actions.NoConsoleAccount,
)


def _refused(
    request: HttpRequest,
    template: str,
    form: django_forms.Form,
    exc: Exception,
    *,
    email_message: str = "",
    **context: Any,
) -> HttpResponse:
    """Answer an action's refusal: the message on the field it concerns, the form kept, nothing changed."""
    if isinstance(exc, account_actions.InstanceNotActive):
        return _instance_gone(request)
    if isinstance(exc, workspace_actions.WorkspaceNotFound):
        return _page(request, "activation/not_found.html", status=404)
    status = 400
    if isinstance(exc, account_actions.CodeRefused):
        form.add_error("code", _code_message(exc))
    elif isinstance(exc, account_actions.UsernameTaken):
        account_actions.do_count_taken_answer(ip=client_ip(request), now=timezone.now())
        form.add_error("username", _("该用户名已被注册，请更换用户名"))
        status = 409
    elif isinstance(exc, account_actions.AccountMismatch):
        form.add_error("username", _("用户名与邮箱不匹配，请检查后重试"))
    elif isinstance(exc, workspace_rules.WorkspaceNameError):
        form.add_error("name", _("请填写工作空间名称"))
    elif isinstance(exc, workspace_actions.EmailMismatch | workspace_actions.NoConsoleAccount) and email_message:
        form.add_error("email", email_message)
    elif isinstance(exc, workspace_actions.AlreadyBoundElsewhere):
        form.add_error(None, _("该工作空间已由其他云市场实例结算，无法绑定。"))
    elif isinstance(exc, workspace_actions.NoConsoleAccount):
        form.add_error(None, _("该费用中心账号没有控制台账号，请通过「已有企业账号，去绑定」创建工作空间。"))
    elif isinstance(exc, account_actions.InstanceBoundElsewhere):
        form.add_error(None, _("此云市场实例已绑定其他费用中心账号，无法重复绑定。"))
    else:
        raise exc  # a refusal added to REFUSALS needs its own message here, never a wrong one
    return _page(request, template, status=status, form=form, **context)


# -- chooser ----------------------------------------------------------------------------------------


@needs_entry
def start(request: HttpRequest) -> HttpResponse:
    """立即注册观测云商业版 / 已有企业账号，去绑定 — unless this Alibaba account is already bound."""
    if request.session.get(SESSION_BILLING):
        return redirect("activation:workspaces")
    bound = account_queries.billing_account_id_for_ali_uid(str(request.session[SESSION_ALI_UID]))
    if bound is not None:
        request.session[SESSION_BILLING] = bound
        messages.info(request, _("您的阿里云账号已绑定费用中心账号，请选择要绑定的工作空间。"))
        return redirect("activation:workspaces")
    return _page(request, "activation/start.html")


# -- B2: bind a billing-center account ---------------------------------------------------------------


@needs_entry
def bind_account(request: HttpRequest) -> HttpResponse:
    if request.GET.get("hint") == "ok":
        request.session[SESSION_HINT_SEEN] = True
        return redirect("activation:bind_account")
    template = "activation/bind_account.html"
    if request.method != "POST":
        show_hint = not request.session.get(SESSION_HINT_SEEN)
        return _page(request, template, form=forms.BindAccountForm(), show_hint=show_hint)
    form = _submitted(request, template, forms.BindAccountForm, code_purpose=Purpose.BIND_BILLING_ACCOUNT)
    if isinstance(form, HttpResponse):
        return form
    data = form.cleaned_data
    try:
        account_id = account_actions.do_bind_billing_account(
            username=data["username"],
            email=data["email"],
            code=data["code"],
            instance_id=_instance(request),
            now=timezone.now(),
        )
    except REFUSALS as exc:
        return _refused(request, template, form, exc)
    request.session[SESSION_BILLING] = account_id
    messages.success(request, _("费用中心账号绑定成功"))
    return redirect("activation:workspaces")


def _instance_gone(request: HttpRequest) -> HttpResponse:
    return _page(request, "activation/instance_gone.html", status=409)


# -- B2: bind a workspace, three ways ------------------------------------------------------------


def _workspace_list(request: HttpRequest) -> list[workspace_queries.WorkspaceRow]:
    return workspace_queries.bindable_workspaces(
        billing_account_id=int(request.session[SESSION_BILLING]), instance_id=_instance(request)
    )


@needs_entry
def workspaces(request: HttpRequest) -> HttpResponse:
    """绑定观测云工作空间: the account's workspaces, each 绑定 or 已绑定, and 确定 when one is bound."""
    if not request.session.get(SESSION_BILLING):
        return redirect("activation:bind_account")
    rows = _workspace_list(request)
    return _page(
        request, "activation/workspaces.html", rows=rows, tab="bind", any_bound=any(r.bound_here for r in rows)
    )


@needs_entry
def bind_workspace(request: HttpRequest, workspace_id: int) -> HttpResponse:
    """The 绑定 dialog: email + code → 确认 → back to the list, the row now 已绑定."""
    if not request.session.get(SESSION_BILLING):
        return redirect("activation:bind_account")
    rows = _workspace_list(request)
    row = next((r for r in rows if r.id == workspace_id), None)
    if row is None:
        return _page(request, "activation/not_found.html", status=404)
    context: dict[str, Any] = {"rows": rows, "tab": "bind", "target": row, "any_bound": any(r.bound_here for r in rows)}
    template = "activation/workspaces.html"
    form = _submitted(request, template, forms.BindWorkspaceForm, code_purpose=Purpose.BIND_WORKSPACE, **context)
    if isinstance(form, HttpResponse):
        return form
    try:
        workspace_actions.do_bind_workspace(
            workspace_id=workspace_id,
            billing_account_id=int(request.session[SESSION_BILLING]),
            instance_id=_instance(request),
            email=form.cleaned_data["email"],
            code=form.cleaned_data["code"],
            now=timezone.now(),
        )
    except REFUSALS as exc:
        message = _("请输入该工作空间所属费用中心账号或拥有者的邮箱")
        return _refused(request, template, form, exc, email_message=message, **context)
    _remember_bound(request, workspace_id)
    messages.success(request, _("工作空间「%(name)s」已绑定") % {"name": row.name})
    return redirect("activation:workspaces")


@needs_entry
def create_workspace(request: HttpRequest) -> HttpResponse:
    """创建工作空间 (has a console account): name, language, the console account's email + code."""
    if not request.session.get(SESSION_BILLING):
        return redirect("activation:bind_account")
    template = "activation/workspace_create.html"
    context: dict[str, Any] = {"tab": "create"}
    form = _submitted(request, template, forms.CreateWorkspaceForm, code_purpose=Purpose.CREATE_WORKSPACE, **context)
    if isinstance(form, HttpResponse):
        return form
    data = form.cleaned_data
    try:
        workspace_id = workspace_actions.do_create_bound_workspace(
            billing_account_id=int(request.session[SESSION_BILLING]),
            instance_id=_instance(request),
            name=data["name"],
            language=data["language"],
            email=data["email"],
            code=data["code"],
            now=timezone.now(),
        )
    except REFUSALS as exc:
        message = _("请输入注册观测云账号时使用的邮箱")
        return _refused(request, template, form, exc, email_message=message, **context)
    _remember_bound(request, workspace_id)
    messages.success(request, _("工作空间「%(name)s」创建成功，已绑定") % {"name": data["name"]})
    return redirect("activation:workspaces")


def _throttled(request: HttpRequest, template: str, form: django_forms.Form, **context: Any) -> HttpResponse | None:
    try:
        account_actions.check_taken_answers(ip=client_ip(request), now=timezone.now())
    except account_actions.TooManyAttempts:
        form.add_error(None, _("尝试次数过多，请一小时后再试"))
        response = _page(request, template, status=429, form=form, **context)
        response["Retry-After"] = "3600"
        return response
    return None


@needs_entry
def register_workspace(request: HttpRequest) -> HttpResponse:
    """注册观测云账号 (new user): console + same-named billing-center account + first workspace."""
    template = "activation/workspace_register.html"
    context: dict[str, Any] = {"tab": "register"}
    form = _submitted(request, template, forms.RegisterWorkspaceForm, code_purpose=Purpose.REGISTER, **context)
    if isinstance(form, HttpResponse):
        return form
    throttled = _throttled(request, template, form, **context)
    if throttled is not None:
        return throttled
    data = form.cleaned_data
    try:
        account_id, workspace_id = workspace_actions.do_register_and_create_workspace(
            instance_id=_instance(request),
            name=data["name"],
            language=data["language"],
            username=data["username"],
            password=data["password1"],
            email=data["email"],
            code=data["code"],
            phone=data["phone"],
            page_language=_language(),
            now=timezone.now(),
        )
    except REFUSALS as exc:
        return _refused(request, template, form, exc, **context)
    request.session[SESSION_BILLING] = account_id
    _remember_bound(request, workspace_id)
    return redirect("activation:done")


# -- B1: register the commercial edition (basic info → enterprise info → open method) -----------------


@needs_entry
def register_basic(request: HttpRequest) -> HttpResponse:
    if request.session.get(SESSION_BILLING):
        return redirect("activation:register_open")
    template = "activation/register_basic.html"
    form = _submitted(request, template, forms.RegisterBasicForm, code_purpose=Purpose.REGISTER)
    if isinstance(form, HttpResponse):
        return form
    data = form.cleaned_data
    throttled = _throttled(request, template, form)
    if throttled is not None:
        return throttled
    if account_queries.username_is_taken(data["username"]):
        # Checked here for a kind answer; step 2's UNIQUE constraint is what decides.
        return _refused(request, template, form, account_actions.UsernameTaken())
    try:
        email = account_actions.do_verify_email(
            email=data["email"], purpose=Purpose.REGISTER, code=data["code"], now=timezone.now()
        )
    except REFUSALS as exc:
        return _refused(request, template, form, exc)
    # The mailbox is proved; keep the rest for step 2, the password only as its Argon2 hash.
    request.session[SESSION_REGISTRATION] = {
        "username": data["username"],
        "password_hash": make_password(data["password1"]),
        "email": email,
        "phone": data["phone"],
    }
    return redirect("activation:register_enterprise")


@needs_entry
def register_enterprise(request: HttpRequest) -> HttpResponse:
    if request.session.get(SESSION_BILLING):
        return redirect("activation:register_open")
    pending = request.session.get(SESSION_REGISTRATION)
    if not pending:
        return redirect("activation:register_basic")
    template = "activation/register_enterprise.html"
    form = _submitted(request, template, forms.RegisterEnterpriseForm, pending=pending)
    if isinstance(form, HttpResponse):
        return form
    try:
        account = account_actions.do_register_verified_console_account(
            username=pending["username"],
            password_hash=pending["password_hash"],
            email=pending["email"],
            phone=pending["phone"],
            enterprise_name=form.cleaned_data["enterprise_name"],
            language=_language(),
            now=timezone.now(),
        )
    except account_actions.UsernameTaken:
        del request.session[SESSION_REGISTRATION]
        account_actions.do_count_taken_answer(ip=client_ip(request), now=timezone.now())
        messages.error(request, _("该用户名已被注册，请更换用户名"))
        return redirect("activation:register_basic")
    del request.session[SESSION_REGISTRATION]
    request.session[SESSION_BILLING] = account.pk
    return redirect("activation:register_open")


@needs_entry
def register_open(request: HttpRequest) -> HttpResponse:
    if not request.session.get(SESSION_BILLING):
        return redirect("activation:register_basic")
    if request.session.get(SESSION_OPENED):
        messages.info(request, _("已开通，无需重复提交"))
        return redirect("activation:done")
    template = "activation/register_open.html"
    form = _submitted(request, template, forms.RegisterOpenForm)
    if isinstance(form, HttpResponse):
        return form
    try:
        workspace_id = workspace_actions.do_open_commercial_workspace(
            billing_account_id=int(request.session[SESSION_BILLING]),
            instance_id=_instance(request),
            name=form.cleaned_data["name"],
            language=form.cleaned_data["language"],
            now=timezone.now(),
        )
    except REFUSALS as exc:
        return _refused(request, template, form, exc)
    request.session[SESSION_OPENED] = True
    _remember_bound(request, workspace_id)
    return redirect("activation:done")


# -- 开通成功 --------------------------------------------------------------------------------------


@needs_entry
def done(request: HttpRequest) -> HttpResponse:
    bound = [int(i) for i in request.session.get(SESSION_BOUND, [])]
    if not bound:
        return redirect("activation:start")
    names = workspace_queries.names_of(bound)
    login = reverse("workspaces:login") + "?next=" + reverse("workspaces:home")
    return _page(request, "activation/done.html", names=names, login_url=login)
