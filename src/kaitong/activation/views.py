"""The seed page's screens, after the login-free entry: chooser → register or bind → workspace → 开通成功.

Views read through ``queries`` and write through ``actions``; they never touch models. The buyer's
state lives in the session (``session.BuyerSession``, opened by the login-free entry): the instance and
its aliUid, then the billing-center account, the registration draft, and every workspace bound or
created, listed on the success page. Every refusal is answered as ``refusals`` says.
Every form posts with CSRF; 获取验证码 is a second submit button, so the pages work without JavaScript.
With JavaScript it is an in-page request (htmx): the answer replaces the button and the line under it
(notice, countdown), and nothing typed is lost.

Post/Redirect/Get: a POST never answers with a page. It answers with a redirect, to the next step or
back to its own page, whose next GET shows what was typed (never a password or a code), the errors and
the refusal's status (``session.FormEcho``); so Back and reload never offer to send a form again.

Every page's form carries a fresh ``form_token``; each state-changing submit (获取验证码 too) passes
it to its action, which records it in its transaction: a repeat of the same submission (a double
click, a retried request) changes nothing and is answered like the first, from its outcome.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
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
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from kaitong.accounts import actions as account_actions
from kaitong.accounts import domain as account_rules
from kaitong.accounts import queries as account_queries
from kaitong.activation import forms, refusals
from kaitong.activation.session import BuyerSession, CodeNotice, FormEcho, NoEntry, RegistrationDraft
from kaitong.config.http import client_ip
from kaitong.marketplace import queries as marketplace_queries
from kaitong.sls import actions as sls_actions
from kaitong.sls import domain as sls_rules
from kaitong.sls import policy as sls_policy
from kaitong.sls import queries as sls_queries
from kaitong.workspaces import actions as workspace_actions
from kaitong.workspaces import domain as workspace_rules
from kaitong.workspaces import queries as workspace_queries
from kaitong.workspaces.views import sign_in_url

View = Callable[..., HttpResponse]
FormT = TypeVar("FormT", bound=django_forms.Form)
Purpose = account_rules.Purpose


# -- helpers ----------------------------------------------------------------------------------------


def needs_entry(view: View) -> View:
    """Only a browser that came through the login-free entry, its instance still active, may use these
    pages; each view gets the buyer's session as its second argument."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        buyer = BuyerSession.of(request)
        refusal: Exception | None = None
        if not buyer.entered:
            refusal = NoEntry()
        elif not marketplace_queries.instance_is_active(buyer.instance_id):
            # Expired or released since the entry: the session can no longer bind anything.
            refusal = account_actions.InstanceNotActive()
        elif _exclusive(buyer) and sls_rules.region_of_site(settings.ENV.site_code) is None:
            # The exclusive edition keeps data in the buyer's SLS in the site's region: a site without
            # one opens nothing (every page, so no step can write an account or a workspace).
            refusal = sls_rules.SiteWithoutSls()
        if refusal is not None:
            # A POST is sent to the page, whose GET says the same.
            return _refused_page(request, refusal) if request.method == "GET" else _to(request, request.path)
        response = view(request, buyer, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    # Passwords and codes never reach an error report or a log.
    hidden = sensitive_post_parameters("password1", "password2", "code", "access_key_secret")
    return require_http_methods(["GET", "POST"])(hidden(wrapped))


def _language() -> str:
    return "en" if translation.get_language() == "en" else "zh-hans"


def _exclusive(buyer: BuyerSession) -> bool:
    """The session's instance is of the exclusive edition (专属版): its workspaces keep data in SLS.
    Asked by the guard, the gate, the list and the page alike: read once a request (an instance's
    product never changes; the request has one BuyerSession)."""
    if buyer.exclusive is None:
        buyer.exclusive = marketplace_queries.is_exclusive(buyer.instance_id)
    return buyer.exclusive


def _grant_first(request: HttpRequest, buyer: BuyerSession, step: str, *, say: str = "") -> HttpResponse | None:
    """For an exclusive instance without a verified grant: to 绑定阿里云账号, whose 下一步 comes back to
    ``step`` (a URL name). None when the step may go on (commercial, or verified). Every step past the
    billing-center account asks this, so a stepper never shows 绑定阿里云账号 done when it is not.
    ``say``: what to tell the buyer on the way (a GET otherwise lands on the page, which says why itself)."""
    if not _exclusive(buyer):
        return None
    grant = sls_queries.grant_of(buyer.ali_uid)
    if grant is not None and grant.working:
        return None
    buyer.aliyun_next = step
    if grant is None and (say or request.method == "POST"):
        # Never granted: not a failure but the step that comes next.
        messages.info(request, say or refusals.answer(sls_rules.GrantNeeded()).message)
    elif grant is not None and request.method == "POST" and not say:
        # Lost since it was verified: a workspace could not be created (the page's alert says the rest).
        messages.error(request, refusals.answer(sls_rules.GrantRevoked()).message)
    return _to(request, reverse("activation:aliyun"))


def _go_on(request: HttpRequest, buyer: BuyerSession, step: str) -> HttpResponse:
    """To ``step`` once the billing-center account is known: through 绑定阿里云账号 first for an exclusive
    instance whose grant is not verified (the documented order: account, then Alibaba account)."""
    return _grant_first(request, buyer, step, say=_next_is_aliyun()) or redirect(step)


def _next_is_aliyun() -> str:
    return _("请绑定阿里云账号：验证通过后，即可绑定或创建专属版工作空间。")


def _to_workspaces(request: HttpRequest, buyer: BuyerSession, said: str) -> HttpResponse:
    """The billing-center account was known already (Back, a second tab, a returning buyer): to its
    workspaces with ``said``, or to 绑定阿里云账号 first, saying so, when that step is still to do."""
    gate = _grant_first(request, buyer, "activation:workspaces", say=_next_is_aliyun())
    if gate is not None:
        return gate
    messages.info(request, said)
    return redirect("activation:workspaces")


_SECRET_FIELDS = {
    "password1",
    "password2",
    "code",
    "access_key_secret",
    "csrfmiddlewaretoken",
    "op",
    "form_token",
}
_FORM_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _typed(request: HttpRequest) -> dict[str, Any]:
    """What the buyer typed, secrets dropped: the inputs of a form shown again unbound."""
    return {name: value for name, value in request.POST.items() if name not in _SECRET_FIELDS}


def _posted_token(request: HttpRequest) -> str | None:
    token = request.POST.get("form_token", "")
    return token if _FORM_TOKEN.fullmatch(token) else None


def _check_token(request: HttpRequest) -> None:
    """FormNotFromPage when a form came without its page's token."""
    if _posted_token(request) is None:
        raise refusals.FormNotFromPage


def _submission(request: HttpRequest) -> str | None:
    """This submission's key for the action: the page's form token, scoped to the buyer's instance,
    so a token another buyer saw means nothing here (``_submitted`` refused a form without one)."""
    token = _posted_token(request)
    return f"{BuyerSession.of(request).instance_id}:{token}" if token else None


@dataclass(frozen=True)
class CodeRecipients:
    """Who may be mailed a form's code: the addresses its check on submit accepts (None: any, as a
    registration proves a new mailbox). For a visitor who proved no account yet (``mismatch`` None) the
    answer is the same whether the address is one of them or not; a buyer whose session holds the
    billing-center account is told at once that it is not (``mismatch``: the refusal to answer)."""

    emails: frozenset[str] | None = None
    mismatch: Exception | None = None
    missing: str = ""  # what to fill in first, when the form lacks what the addresses depend on


def _any_address() -> CodeRecipients:
    return CodeRecipients()


def _in_page(request: HttpRequest) -> bool:
    """An htmx request: answered with the part of the page it replaces, never a redirect."""
    return bool(getattr(request, "htmx", False))


def _to(request: HttpRequest, path: str) -> HttpResponse:
    """Go to ``path``: a redirect (an in-page request: the browser is told to load it)."""
    return HttpResponseClientRedirect(path) if _in_page(request) else redirect(path)


def _back(request: HttpRequest, echo: FormEcho) -> HttpResponse:
    """Back to the form's page, which shows ``echo`` once."""
    BuyerSession.of(request).keep_echo(echo)
    return _to(request, request.path)


def _echo(request: HttpRequest, form: django_forms.Form | None = None, *, status: int = 400, **kept: Any) -> FormEcho:
    errors = {name: [str(message) for message in said] for name, said in form.errors.items()} if form else {}
    return FormEcho(path=request.path, typed=_typed(request), errors=errors, status=status, **kept)


def _code_answer(
    request: HttpRequest, purpose: Purpose, recipients: CodeRecipients
) -> tuple[CodeNotice, int, int | None]:
    """Send a code to the posted email if the limits allow; return what to say beside the button, the
    status and the Retry-After seconds. A repeat of the same click is answered as the first was."""
    email_form = forms.EmailOnlyForm(request.POST)
    if not email_form.is_valid():
        return CodeNotice(str(email_form.errors["email"][0]), refused=True), 400, None
    if recipients.missing:
        return CodeNotice(recipients.missing, refused=True), 400, None
    email = account_rules.normalise_email(email_form.cleaned_data["email"])
    now = timezone.now()
    limited: account_rules.IssueRefused | None = None
    submission = _submission(request)
    try:
        account_actions.do_send_verification_code(
            email=email,
            purpose=purpose,
            ip=client_ip(request),
            language=_language(),
            now=now,
            # A submission of its own: the form's submit with the same page token is not its repeat
            # (in the page, the form keeps its token if the answer's new one did not arrive).
            form_token=f"{submission}:code" if submission else None,
            mail_only_to=recipients.emails,
        )
    except account_actions.AlreadySubmitted:
        pass  # the first click sent it
    except account_rules.IssueRefused as exc:
        limited = exc
    if recipients.mismatch is not None and recipients.emails is not None and email not in recipients.emails:
        # A buyer whose session holds the account is told at once; the try still counted.
        return CodeNotice(refusals.answer(recipients.mismatch).message, refused=True), 400, None
    if recipients.mismatch is None and recipients.emails is not None:
        # The same words whether or not the username and the email belong together (no enumeration).
        sent = _("若用户名与邮箱匹配，验证码已发送至 %(email)s，10 分钟内有效") % {"email": email}
    else:
        sent = _("验证码已发送至 %(email)s，10 分钟内有效") % {"email": email}
    if limited is None:
        return CodeNotice(sent, ready_at=now.timestamp() + account_rules.RESEND_COOLDOWN.total_seconds()), 200, None
    answer = refusals.answer(limited)
    if limited.reason is not account_rules.IssueLimit.COOLDOWN:
        return CodeNotice(answer.message, refused=True), answer.status, answer.retry_after
    # Within the cooldown the code sent a moment ago is on its way: say so again, and when to ask anew.
    notice = CodeNotice(sent, later=answer.message, ready_at=now.timestamp() + limited.retry_after)
    return notice, answer.status, answer.retry_after


def _send_code(request: HttpRequest, purpose: Purpose, recipients: Callable[[], CodeRecipients]) -> HttpResponse:
    """Handle 获取验证码: in the page (htmx), answer the button and the line under it, and a new form
    token for the next submit; without JavaScript, back to the page, which shows the same line."""
    notice, status, retry_after = _code_answer(request, purpose, recipients())
    if not _in_page(request):
        return _back(request, _echo(request, status=status, retry_after=retry_after, notice=notice))
    context = {**_code_button(notice), "form_token": _new_form_token(), "in_page": True}
    response = render(request, "activation/_send_code.html", context, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _code_button(notice: CodeNotice | None, *, cooling: int = 0) -> dict[str, Any]:
    """The context of 获取验证码 and the line under it: the notice and the seconds left to count down
    (``cooling``: the cooldown the server knows for the form's email, when no notice says it)."""
    left = int(notice.ready_at - timezone.now().timestamp() + 0.999) if notice and notice.ready_at else 0
    return {"code_notice": notice, "code_wait": max(0, left, cooling)}


def _cooldown_left(purpose: Purpose | None, email: str) -> int:
    """Seconds until the email shown in a form takes another code: a form shown again after a refused
    submit counts down what is left, rather than offer a click that could only be refused (429)."""
    if purpose is None or not email.strip():
        return 0
    return account_queries.code_cooldown_left(email=email, purpose=purpose, now=timezone.now())


def _is_send_code(request: HttpRequest) -> bool:
    return request.method == "POST" and request.POST.get("op") == "send_code"


def _form_again(form_class: type[FormT], echo: FormEcho) -> FormT:
    """The form as it was posted: typed values (secrets left empty) and its errors."""
    form = form_class(initial=echo.typed)
    form.cleaned_data = {}  # an unbound form has none; add_error expects it
    for name, said in echo.errors.items():
        for message in said:
            form.add_error(name if name in form.fields else None, message)
    return form


def _submitted(
    request: HttpRequest,
    template: str,
    form_class: type[FormT],
    *,
    code_purpose: account_rules.Purpose | None = None,
    code_to: Callable[[], CodeRecipients] = _any_address,
    initial: dict[str, str] | None = None,
    **context: Any,
) -> FormT | HttpResponse:
    """The start every form view shares: the form's page (empty, or as posted the moment before), or
    the answer to a POST that goes no further (no page token, 获取验证码, errors); otherwise the valid
    bound form. ``code_to`` says who may be mailed the form's code (asked only when one is sent)."""
    if request.method != "POST":
        echo = BuyerSession.of(request).take_echo(request.path)
        if echo is None:
            return _page(request, template, form=form_class(initial=initial), **context)
        response = _page(
            request,
            template,
            status=echo.status,
            form=_form_again(form_class, echo),
            alert=echo.alert,
            **_code_button(echo.notice, cooling=_cooldown_left(code_purpose, echo.typed.get("email", ""))),
            **context,
        )
        if echo.retry_after is not None:
            response["Retry-After"] = str(echo.retry_after)
        return response
    try:
        _check_token(request)
    except refusals.FormNotFromPage as exc:
        # Shown again with what was typed, to be sent once more with a token.
        answer = refusals.answer(exc)
        return _back(request, _echo(request, status=answer.status, alert=answer.message))
    if code_purpose is not None and _is_send_code(request):
        return _send_code(request, code_purpose, code_to)
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
    buyer = BuyerSession.of(request)
    context.setdefault("instance_id", buyer.instance_id if buyer.entered else "")
    context.setdefault("ali_uid", buyer.ali_uid)
    context.setdefault("account", account_queries.billing_account(buyer.billing_account_id))
    context.setdefault("site_name", _site_name())
    context.setdefault("exclusive", buyer.entered and _exclusive(buyer))
    context.setdefault("form_token", _new_form_token())
    if request.method == "GET":
        buyer.take_echo(request.path)  # shown by this page or never: it does not wait for a later visit
    return render(request, template, context, status=status)


def _new_form_token() -> str:
    return secrets.token_urlsafe(24)  # a new one on every page, used once


def _invalid(request: HttpRequest, template: str, *, form: django_forms.Form, **context: Any) -> HttpResponse:
    """A form with errors: back to its page, which shows them with 400, so scripts and tests can tell
    a refusal from a fresh page."""
    return _back(request, _echo(request, form))


def _refused_page(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A refusal answered by a page of its own (no entry, instance gone, workspace not found)."""
    answer = refusals.answer(exc)
    return _page(request, answer.page, status=answer.status, refusal=answer)


def _refused(
    request: HttpRequest, template: str, form: django_forms.Form, exc: Exception, **context: Any
) -> HttpResponse:
    """Answer an action's refusal as the table says: its page, or its message on the field it concerns
    with the form kept; either way by a redirect to the page, whose GET shows it. Nothing changed (the
    action rolled back), except a wrong code's try, which counts."""
    answer = refusals.answer(exc)
    if answer.page:
        return _to(request, request.path)  # the page's GET meets the same refusal
    if isinstance(exc, account_actions.UsernameTaken):
        # The answer reveals that an account exists: each client address gets only so many an hour,
        # counted before it is given.
        try:
            account_actions.do_take_taken_answer(ip=client_ip(request), now=timezone.now())
        except account_actions.TooManyAttempts as throttled:
            return _refused(request, template, form, throttled, **context)
    form.add_error(answer.field, answer.message)
    return _back(request, _echo(request, form, status=answer.status, retry_after=answer.retry_after))


# -- chooser ----------------------------------------------------------------------------------------


@needs_entry
def start(request: HttpRequest, buyer: BuyerSession) -> HttpResponse:
    """Where the login-free entry lands. An instance that already settles a workspace: its page (the
    returning buyer). Otherwise 立即注册观测云商业版 / 已有企业账号，去绑定 — unless this instance or this
    Alibaba account is already bound to a billing-center account: then its workspaces."""
    if workspace_queries.instance_settles_workspaces(buyer.instance_id):
        return redirect("activation:instance")
    if buyer.billing_account_id:
        return _grant_first(request, buyer, "activation:workspaces") or redirect("activation:workspaces")
    # The instance's own account first: the aliUid may have other instances bound to other accounts.
    bound = account_queries.billing_account_id_for_instance(
        buyer.instance_id
    ) or account_queries.billing_account_id_for_ali_uid(buyer.ali_uid)
    if bound is not None:
        buyer.billing_account_id = bound
        return _to_workspaces(request, buyer, _("您的阿里云账号已绑定费用中心账号，请选择要绑定的工作空间。"))
    return _page(request, "activation/start.html")


# -- the returning buyer -----------------------------------------------------------------------------


def _entries(workspaces: list[workspace_queries.SettledWorkspace]) -> list[dict[str, Any]]:
    """Workspaces with where 进入工作空间 leads: the console sign-in for each one's owner."""
    return [
        {
            "id": w.id,
            "name": w.name,
            "language_label": w.language_label,
            "owner": w.owner_username,
            "enter_url": sign_in_url(workspace_id=w.id, username=w.owner_username),
        }
        for w in workspaces
    ]


@needs_entry
def instance(request: HttpRequest, buyer: BuyerSession) -> HttpResponse:
    """The instance's page for a buyer who comes back: its state and expiry, the workspaces it settles,
    each with 进入工作空间, and 绑定其他工作空间 into the binding steps. Never a loop: with no workspace
    settled (yet, or any more), it is the chooser's turn."""
    settled = workspace_queries.settled_by_instance(buyer.instance_id)
    if not settled:
        return redirect("activation:start")
    account_id = account_queries.billing_account_id_for_instance(buyer.instance_id)
    if account_id is not None:
        # 绑定其他工作空间 binds under the account this instance is a cloud account of.
        buyer.billing_account_id = account_id
    return _page(
        request,
        "activation/instance.html",
        summary=marketplace_queries.instance_summary(buyer.instance_id),
        workspaces=_entries(settled),
    )


# -- B2: bind a billing-center account ---------------------------------------------------------------


@needs_entry
def bind_account(request: HttpRequest, buyer: BuyerSession) -> HttpResponse:
    if request.GET.get("hint") == "ok":
        buyer.mark_hint_seen()
        return redirect("activation:bind_account")
    if buyer.billing_account_id:
        # Done already (Back after binding, a second tab): the account is the one this instance settles by.
        return _to_workspaces(request, buyer, _("费用中心账号已绑定，请选择要绑定的工作空间。"))
    template = "activation/bind_account.html"

    def paired_with_username() -> CodeRecipients:
        # The visitor has proved nothing yet: only the account's own address gets mail, and the answer
        # does not say whether it was that one.
        username = request.POST.get("username", "").strip()
        if not username:
            return CodeRecipients(missing=str(forms.BindAccountForm.base_fields["username"].error_messages["required"]))
        email = account_queries.email_to_bind(username)
        return CodeRecipients(emails=frozenset({email} if email else ()))

    form = _submitted(
        request,
        template,
        forms.BindAccountForm,
        code_purpose=Purpose.BIND_BILLING_ACCOUNT,
        code_to=paired_with_username,
        show_hint=not buyer.hint_seen,
    )
    if isinstance(form, HttpResponse):
        return form
    data = form.cleaned_data
    try:
        account_id = account_actions.do_bind_billing_account(
            username=data["username"],
            email=data["email"],
            code=data["code"],
            instance_id=buyer.instance_id,
            now=timezone.now(),
            form_token=_submission(request),
        )
    except account_actions.AlreadySubmitted as repeat:
        account_id = repeat.outcome["account"]
    except refusals.REFUSED as exc:
        return _refused(request, template, form, exc)
    buyer.billing_account_id = account_id
    messages.success(request, _("费用中心账号绑定成功"))
    return _go_on(request, buyer, "activation:workspaces")


@needs_entry
def register_account(request: HttpRequest, buyer: BuyerSession) -> HttpResponse:
    """尚无企业账号 → 注册: the enterprise (billing-center) account and its same-named console account,
    bound to this instance as 绑定 would; then, as the seed says, back to 绑定观测云工作空间 with the
    account in the header, where 创建工作空间 makes its first workspace."""
    if buyer.billing_account_id:
        return _to_workspaces(request, buyer, _("您的阿里云账号已绑定费用中心账号，请选择要绑定的工作空间。"))
    template = "activation/register_account.html"
    form = _submitted(request, template, forms.RegisterAccountForm, code_purpose=Purpose.REGISTER)
    if isinstance(form, HttpResponse):
        return form
    throttled = _throttled(request, template, form)
    if throttled is not None:
        return throttled
    data = form.cleaned_data
    try:
        account_id = account_actions.do_register_billing_account(
            username=data["username"],
            password=data["password1"],
            email=data["email"],
            code=data["code"],
            phone=data["phone"],
            enterprise_name=data["enterprise_name"],
            instance_id=buyer.instance_id,
            language=_language(),
            now=timezone.now(),
            form_token=_submission(request),
        )
    except account_actions.AlreadySubmitted as repeat:
        account_id = repeat.outcome["account"]
    except refusals.REFUSED as exc:
        return _refused(request, template, form, exc)
    buyer.billing_account_id = account_id
    messages.success(
        request, _("企业账号 %(username)s 注册成功，已绑定。请绑定或创建工作空间。") % {"username": data["username"]}
    )
    return _go_on(request, buyer, "activation:workspaces")


# -- 绑定阿里云账号 (the exclusive edition): let Guance write into the buyer's SLS --------------------------


def _storage_context(buyer: BuyerSession) -> dict[str, Any]:
    """What the create steps say of an exclusive workspace's storage (nothing for a commercial one)."""
    return {"sls_region": sls_actions.site_region()} if _exclusive(buyer) else {}


def _after_aliyun(buyer: BuyerSession) -> str:
    """Where 下一步 leads: the step that sent the buyer here, else the list of workspaces once the
    billing-center account is known, else the chooser."""
    if buyer.aliyun_next in _ALIYUN_NEXT_STEPS:
        return reverse(buyer.aliyun_next)
    if buyer.billing_account_id:
        return reverse("activation:workspaces")
    return reverse("activation:start")


_ALIYUN_NEXT_STEPS = frozenset(
    {
        "activation:register_open",
        "activation:workspaces",
        "activation:create_workspace",
        "activation:register_workspace",
        "activation:done",
    }
)
_WAYS: dict[str, type[django_forms.Form]] = {"key": forms.AccessKeyForm, "role": forms.RoleVerifyForm}


@needs_entry
def aliyun(request: HttpRequest, buyer: BuyerSession) -> HttpResponse:
    """绑定阿里云账号: two ways on one page, RAM 账号授权 (an AccessKey) and 第三方快捷授权 (the marketplace's
    cross-account role); 验证 proves access to the buyer's SLS, each refusal said above its way's form.
    Verified: 下一步 leads on. The secret is never echoed back nor kept in the session."""
    if not _exclusive(buyer):
        return redirect("activation:start")  # only the exclusive edition keeps data in the buyer's SLS
    template = "activation/aliyun.html"
    if request.method == "POST":
        return _verify_aliyun(request, buyer, template)
    echo = buyer.take_echo(request.path)
    way = echo.typed.get("way", "") if echo else ""
    key_form = _form_again(forms.AccessKeyForm, echo) if echo and way == "key" else forms.AccessKeyForm()
    role_form = _form_again(forms.RoleVerifyForm, echo) if echo and way == "role" else forms.RoleVerifyForm()
    grant = sls_queries.grant_of(buyer.ali_uid)
    returned = request.build_absolute_uri(reverse("activation:aliyun_returned"))
    return _page(
        request,
        template,
        status=echo.status if echo else 200,
        key_form=key_form,
        role_form=role_form,
        key_alert=echo.alert if echo and way == "key" else "",
        role_alert=echo.alert if echo and way == "role" else "",
        way=way,
        grant=grant,
        verified=grant is not None and grant.working,
        next_url=_after_aliyun(buyer),
        role_url=sls_actions.role_link(ali_uid=buyer.ali_uid, return_url=returned),
        role_returned=buyer.role_returned,
        sls_region=sls_actions.site_region(),
        registering=buyer.aliyun_next == "activation:register_open",
    )


def _verify_aliyun(request: HttpRequest, buyer: BuyerSession, template: str) -> HttpResponse:
    way = request.POST.get("way", "")
    form_class = _WAYS.get(way)
    try:
        _check_token(request)
        if form_class is None:
            raise refusals.FormNotFromPage
    except refusals.FormNotFromPage as exc:
        answer = refusals.answer(exc)
        return _back(request, _echo(request, status=answer.status, alert=answer.message))
    # The note "back from Alibaba Cloud, click 验证" belongs to the moment of return: once 验证 was
    # tried, its outcome is what the page says.
    buyer.role_returned = False
    form = form_class(request.POST)
    if not form.is_valid():
        return _invalid(request, template, form=form)
    try:
        if way == "key":
            sls_actions.do_verify_access_key(
                ali_uid=buyer.ali_uid,
                access_key_id=form.cleaned_data["access_key_id"],
                access_key_secret=form.cleaned_data["access_key_secret"],
                region=sls_actions.site_region(),
                now=timezone.now(),
            )
        else:
            sls_actions.do_verify_role(ali_uid=buyer.ali_uid, region=sls_actions.site_region(), now=timezone.now())
    except refusals.REFUSED as exc:
        return _refused(request, template, form, exc)
    messages.success(request, _("验证通过，已绑定阿里云账号 %(ali_uid)s") % {"ali_uid": buyer.ali_uid})
    return redirect("activation:aliyun")


@needs_entry
def aliyun_returned(request: HttpRequest, buyer: BuyerSession) -> HttpResponse:
    """The marketplace's authorisation page sends the buyer back here (returnurl): with its ``token``
    after 同意授权, without after 取消. What is left is 验证, which assumes the role."""
    if request.GET.get("token"):
        buyer.role_returned = True
        messages.info(request, _("已在阿里云完成授权，请点击「验证」。"))
    else:
        messages.info(request, _("阿里云页面未完成授权。如需第三方快捷授权，请再次点击「立即前往授权」。"))
    return redirect(reverse("activation:aliyun") + "#role")


@require_GET
def aliyun_policy(request: HttpRequest) -> HttpResponse:
    """The RAM policy a buyer attaches to the RAM user whose AccessKey they enter: exactly the calls the
    vendor makes (the file the sls capability ships; a unit test holds the two together)."""
    response = HttpResponse(sls_policy.document(), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{sls_policy.FILE_NAME}"'
    return response


# -- B2: bind a workspace, three ways ------------------------------------------------------------


def _workspace_list(buyer: BuyerSession, billing_account_id: int) -> list[workspace_queries.WorkspaceRow]:
    # An exclusive instance binds only exclusive (SLS) workspaces, a commercial one only commercial ones:
    # a workspace's storage is set at its creation and never changes.
    return workspace_queries.bindable_workspaces(
        billing_account_id=billing_account_id,
        instance_id=buyer.instance_id,
        ali_uid=buyer.ali_uid,
        storage="sls" if _exclusive(buyer) else "guance",
    )


@needs_entry
def workspaces(request: HttpRequest, buyer: BuyerSession) -> HttpResponse:
    """绑定观测云工作空间: the account's workspaces, each 绑定 or 已绑定, and 确定 when one is bound."""
    account_id = buyer.billing_account_id
    if not account_id:
        return redirect("activation:bind_account")
    gate = _grant_first(request, buyer, "activation:workspaces")
    if gate is not None:
        return gate
    rows = _workspace_list(buyer, account_id)
    return _page(
        request,
        "activation/workspaces.html",
        rows=rows,
        tab="bind",
        any_bound=any(r.bound_here for r in rows),
        confirm_url=_confirm_url(buyer, rows),
    )


def _confirm_url(buyer: BuyerSession, rows: list[workspace_queries.WorkspaceRow]) -> str:
    """Where 确定 leads: 开通成功 for what was bound or created in this session; the instance's page when
    the instance settled workspaces before it (a returning buyer); nowhere ("") while nothing is."""
    if buyer.bound_workspace_ids:
        return reverse("activation:done")
    if any(row.bound_here for row in rows):
        return reverse("activation:instance")
    return ""


@needs_entry
def bind_workspace(request: HttpRequest, buyer: BuyerSession, workspace_id: int) -> HttpResponse:
    """The 绑定 dialog: email + code → 确认 → back to the list, the row now 已绑定."""
    account_id = buyer.billing_account_id
    if not account_id:
        return redirect("activation:bind_account")
    gate = _grant_first(request, buyer, "activation:workspaces")
    if gate is not None:
        return gate
    rows = _workspace_list(buyer, account_id)
    row = next((r for r in rows if r.id == workspace_id), None)
    if row is None:
        return (
            _refused_page(request, workspace_actions.WorkspaceNotFound())
            if request.method == "GET"
            else _to(request, request.path)
        )
    if row.bound_here or row.bound_elsewhere:
        # Nothing to do here any more (Back after binding, a repeat): the list says how it settles.
        if row.bound_here:
            messages.info(request, _("工作空间「%(name)s」已绑定") % {"name": row.name})
        else:
            messages.error(request, refusals.answer(workspace_rules.AlreadyBoundElsewhere()).message)
        return _to(request, reverse("activation:workspaces"))
    context: dict[str, Any] = {"rows": rows, "tab": "bind", "target": row, "any_bound": any(r.bound_here for r in rows)}
    template = "activation/workspaces.html"

    def workspace_emails() -> CodeRecipients:
        emails = workspace_queries.emails_to_bind(workspace_id=workspace_id, billing_account_id=account_id)
        return CodeRecipients(emails=emails, mismatch=workspace_actions.NotTheWorkspaceEmail())

    form = _submitted(
        request,
        template,
        forms.BindWorkspaceForm,
        code_purpose=Purpose.BIND_WORKSPACE,
        code_to=workspace_emails,
        **context,
    )
    if isinstance(form, HttpResponse):
        return form
    try:
        workspace_actions.do_bind_workspace(
            workspace_id=workspace_id,
            billing_account_id=account_id,
            instance_id=buyer.instance_id,
            email=form.cleaned_data["email"],
            code=form.cleaned_data["code"],
            now=timezone.now(),
            form_token=_submission(request),
        )
    except account_actions.AlreadySubmitted:
        pass  # the first submission bound it
    except refusals.REFUSED as exc:
        return _refused(request, template, form, exc, **context)
    buyer.remember_bound(workspace_id)
    messages.success(request, _("工作空间「%(name)s」已绑定") % {"name": row.name})
    return redirect("activation:workspaces")


@needs_entry
def create_workspace(request: HttpRequest, buyer: BuyerSession) -> HttpResponse:
    """创建工作空间 (has a console account): name, language, the console account's email + code."""
    account_id = buyer.billing_account_id
    if not account_id:
        return redirect("activation:bind_account")
    gate = _grant_first(request, buyer, "activation:create_workspace")
    if gate is not None:
        return gate
    template = "activation/workspace_create.html"
    # Back after 创建 shows this form again: it says what this visit already created, so a second
    # workspace is made only on purpose.
    made_here = (", " if _language() == "en" else "、").join(
        entry.name for entry in workspace_queries.entries_of(buyer.bound_workspace_ids)
    )
    context: dict[str, Any] = {"tab": "create", "made_here": made_here, **_storage_context(buyer)}

    def console_email() -> CodeRecipients:
        email = account_queries.console_email(account_id)
        if email is None:
            return CodeRecipients(emails=frozenset(), mismatch=workspace_actions.NoConsoleAccount())
        return CodeRecipients(emails=frozenset({email}), mismatch=workspace_actions.NotTheConsoleEmail())

    form = _submitted(
        request,
        template,
        forms.CreateWorkspaceForm,
        code_purpose=Purpose.CREATE_WORKSPACE,
        code_to=console_email,
        **context,
    )
    if isinstance(form, HttpResponse):
        return form
    data = form.cleaned_data
    try:
        workspace_id = workspace_actions.do_create_bound_workspace(
            billing_account_id=account_id,
            instance_id=buyer.instance_id,
            name=data["name"],
            language=data["language"],
            email=data["email"],
            code=data["code"],
            now=timezone.now(),
            form_token=_submission(request),
        )
    except account_actions.AlreadySubmitted as repeat:
        workspace_id = repeat.outcome["workspace"]
    except refusals.REFUSED as exc:
        return _refused(request, template, form, exc, **context)
    buyer.remember_bound(workspace_id)
    messages.success(request, _("工作空间「%(name)s」创建成功，已绑定") % {"name": data["name"]})
    return redirect("activation:workspaces")


def _throttled(request: HttpRequest, template: str, form: django_forms.Form, **context: Any) -> HttpResponse | None:
    try:
        account_actions.check_taken_answers(ip=client_ip(request), now=timezone.now())
    except account_actions.TooManyAttempts as exc:
        return _refused(request, template, form, exc, **context)
    return None


@needs_entry
def register_workspace(request: HttpRequest, buyer: BuyerSession) -> HttpResponse:
    """注册观测云账号 (new user): console + same-named billing-center account + first workspace."""
    template = "activation/workspace_register.html"
    # The account registered here settles by this instance: an instance that already settles for an
    # account (it never moves) leaves nothing to register for, and the page says so instead of a form.
    held = account_queries.billing_account(account_queries.billing_account_id_for_instance(buyer.instance_id))
    context: dict[str, Any] = {"tab": "register", "held": held, **_storage_context(buyer)}
    if held is not None:
        return _page(request, template, status=200 if request.method == "GET" else 409, **context)
    gate = _grant_first(request, buyer, "activation:register_workspace")
    if gate is not None:
        return gate
    form = _submitted(request, template, forms.RegisterWorkspaceForm, code_purpose=Purpose.REGISTER, **context)
    if isinstance(form, HttpResponse):
        return form
    throttled = _throttled(request, template, form, **context)
    if throttled is not None:
        return throttled
    data = form.cleaned_data
    try:
        account_id, workspace_id = workspace_actions.do_register_and_create_workspace(
            instance_id=buyer.instance_id,
            name=data["name"],
            language=data["language"],
            username=data["username"],
            password=data["password1"],
            email=data["email"],
            code=data["code"],
            phone=data["phone"],
            page_language=_language(),
            now=timezone.now(),
            form_token=_submission(request),
        )
    except account_actions.AlreadySubmitted as repeat:
        account_id, workspace_id = repeat.outcome["account"], repeat.outcome["workspace"]
    except refusals.REFUSED as exc:
        return _refused(request, template, form, exc, **context)
    buyer.billing_account_id = account_id
    buyer.remember_bound(workspace_id)
    return redirect("activation:done")


# -- B1: register the commercial edition (basic info → enterprise info → open method) -----------------


@needs_entry
def register_basic(request: HttpRequest, buyer: BuyerSession) -> HttpResponse:
    if buyer.billing_account_id:
        return redirect("activation:register_open")
    template = "activation/register_basic.html"
    # Back (or 上一步) from 企业信息: the mailbox is proved already. The page says so and leads on, with
    # what step 1 kept filled in; sending it again (another email, another name) replaces the draft.
    pending = buyer.registration
    kept = {"username": pending.username, "email": pending.email, "phone": pending.phone} if pending else None
    form = _submitted(
        request, template, forms.RegisterBasicForm, code_purpose=Purpose.REGISTER, initial=kept, pending=pending
    )
    if isinstance(form, HttpResponse):
        return form
    data = form.cleaned_data
    throttled = _throttled(request, template, form)
    if throttled is not None:
        return throttled
    if account_queries.username_is_taken(data["username"]):
        # Checked here for a kind answer; step 2's UNIQUE constraint is what decides.
        return _refused(request, template, form, account_actions.UsernameTaken())
    # Hashed before the code is spent: a hash refused in a flood (429, accounts/hashers.py) leaves the
    # code usable for the next try.
    password_hash = make_password(data["password1"])
    try:
        email = account_actions.do_verify_email(
            email=data["email"],
            purpose=Purpose.REGISTER,
            code=data["code"],
            now=timezone.now(),
            form_token=_submission(request),
        )
    except account_actions.AlreadySubmitted as repeat:
        # A repeat of the submission that proved the mailbox: its draft again, with the proved email.
        email = repeat.outcome["email"]
    except refusals.REFUSED as exc:
        return _refused(request, template, form, exc)
    # The mailbox is proved; keep the rest for step 2, the password only as its Argon2 hash.
    buyer.registration = RegistrationDraft(
        username=data["username"],
        password_hash=password_hash,
        email=email,
        phone=data["phone"],
    )
    return redirect("activation:register_enterprise")


@needs_entry
def register_enterprise(request: HttpRequest, buyer: BuyerSession) -> HttpResponse:
    if buyer.billing_account_id:
        return redirect("activation:register_open")
    pending = buyer.registration
    if pending is None:
        return redirect("activation:register_basic")
    template = "activation/register_enterprise.html"
    form = _submitted(request, template, forms.RegisterEnterpriseForm, pending=pending)
    if isinstance(form, HttpResponse):
        return form
    try:
        account_id = account_actions.do_register_verified_console_account(
            username=pending.username,
            password_hash=pending.password_hash,
            email=pending.email,
            phone=pending.phone,
            enterprise_name=form.cleaned_data["enterprise_name"],
            language=_language(),
            now=timezone.now(),
            form_token=_submission(request),
        ).pk
    except account_actions.AlreadySubmitted as repeat:
        account_id = repeat.outcome["account"]
    except account_actions.UsernameTaken as taken:
        # Taken between the steps: back to step 1, which says so above its form (or, past this
        # address's share of such answers, says to wait).
        buyer.registration = None
        said: Exception = taken
        try:
            account_actions.do_take_taken_answer(ip=client_ip(request), now=timezone.now())
        except account_actions.TooManyAttempts as throttled:
            said = throttled
        messages.error(request, refusals.answer(said).message)
        return redirect("activation:register_basic")
    buyer.registration = None
    buyer.billing_account_id = account_id
    return _go_on(request, buyer, "activation:register_open")


@needs_entry
def register_open(request: HttpRequest, buyer: BuyerSession) -> HttpResponse:
    account_id = buyer.billing_account_id
    if not account_id:
        return redirect("activation:register_basic")
    if buyer.opened:
        messages.info(request, _("已开通，无需重复提交"))
        return redirect("activation:done")
    gate = _grant_first(request, buyer, "activation:register_open")
    if gate is not None:
        return gate
    template = "activation/register_open.html"
    form = _submitted(request, template, forms.RegisterOpenForm, **_storage_context(buyer))
    if isinstance(form, HttpResponse):
        return form
    try:
        workspace_id = workspace_actions.do_open_commercial_workspace(
            billing_account_id=account_id,
            instance_id=buyer.instance_id,
            name=form.cleaned_data["name"],
            language=form.cleaned_data["language"],
            now=timezone.now(),
            form_token=_submission(request),
        )
    except account_actions.AlreadySubmitted as repeat:
        workspace_id = repeat.outcome["workspace"]
    except refusals.REFUSED as exc:
        return _refused(request, template, form, exc)
    buyer.mark_opened()
    buyer.remember_bound(workspace_id)
    return redirect("activation:done")


# -- 开通成功 --------------------------------------------------------------------------------------


@needs_entry
def done(request: HttpRequest, buyer: BuyerSession) -> HttpResponse:
    """开通成功 / 成功绑定以下观测云工作空间: what this session bound or created; 确定 signs in to the
    last of them (the one just opened). With nothing bound in this session, never back into a loop:
    the instance's page if it settles workspaces, else the list with what to do."""
    entries = _entries(workspace_queries.entries_of(buyer.bound_workspace_ids))
    if not entries:
        if workspace_queries.instance_settles_workspaces(buyer.instance_id):
            return redirect("activation:instance")
        if buyer.billing_account_id:
            messages.info(request, _("请先绑定或创建一个工作空间，再点击「确定」。"))
            return redirect("activation:workspaces")
        return redirect("activation:start")
    gate = _grant_first(request, buyer, "activation:done")
    if gate is not None:
        return gate
    return _page(
        request,
        "activation/done.html",
        workspaces=entries,
        login_url=entries[-1]["enter_url"],
        cloud_accounts_url=reverse("billing:cloud_accounts"),
    )
