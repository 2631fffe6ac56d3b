"""Forms of the seed page's screens. Labels and messages are Chinese msgids, translated to English."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.core.validators import RegexValidator
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kaitong.accounts import domain as account_rules
from kaitong.activation import refusals
from kaitong.workspaces import domain as workspace_rules
from kaitong.workspaces import queries as workspace_queries

USERNAME_HELP = _(
    "4–32 个字符，小写字母开头，可含小写字母、数字、下划线、点和连字符。"
    "该用户名同时注册同名的费用中心账号，全局唯一，注册后不可修改，请谨慎填写。"
)
LANGUAGE_WARNING = _(
    "工作空间语言选项会影响工作空间内事件、告警、短信等模板。若选择英文，上述对应模板将默认使用英文模板，"
    "一旦创建，此工作空间的模版语言不可修改，请谨慎选择。"
)


def _please_fill(label: Any) -> str:
    return gettext("请填写%(field)s") % {"field": label}


_required = lazy(_please_fill, str)
_MAX_LENGTH = _("最多 %(limit_value)d 个字符（当前 %(show_value)d 个）")


def _text(label: Any, *, max_length: int, required: bool = True, **attrs: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=max_length,
        required=required,
        widget=forms.TextInput(attrs={"autocomplete": "off", **attrs}),
        error_messages={"required": _required(label), "max_length": _MAX_LENGTH},
    )


def _email() -> forms.EmailField:
    return forms.EmailField(
        label=_("邮箱"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "placeholder": _("请输入邮箱")}),
        error_messages={"required": _("请填写邮箱"), "invalid": _("请输入有效的邮箱地址"), "max_length": _MAX_LENGTH},
    )


def _code() -> forms.CharField:
    return forms.CharField(
        label=_("验证码"),
        max_length=6,
        validators=[RegexValidator(r"^\d{6}$", _("请输入 6 位数字验证码"))],
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "placeholder": _("6 位数字验证码")}
        ),
        error_messages={"required": _("请填写验证码")},
    )


def _language() -> forms.ChoiceField:
    return forms.ChoiceField(
        label=_("工作空间语言"),
        choices=workspace_queries.language_choices,
        initial="zh",
        widget=forms.RadioSelect,
        help_text=LANGUAGE_WARNING,
        error_messages={"required": _("请选择工作空间语言"), "invalid_choice": _("请选择工作空间语言")},
    )


def _workspace_name() -> forms.CharField:
    return _text(_("工作空间名称"), max_length=workspace_rules.NAME_MAX, placeholder=_("请输入工作空间名称"))


def _agree() -> forms.BooleanField:
    return forms.BooleanField(
        label=_("我已阅读并同意《观测云用户协议》和《隐私权政策》"),
        error_messages={"required": _("请阅读并同意用户协议")},
    )


PASSWORD_HELP = _(
    "至少 %(min)d 个字符，最多 %(max)d 个；不要求包含特定类型的字符，可以是一句话或几个词。"
    "常见密码、容易被猜到的密码和与用户名或邮箱相似的密码不能使用。"
)
_PASSWORD_MESSAGES = {
    "password_too_short": _("密码至少需要 %(min)d 个字符"),
    "password_too_common": _("该密码过于常见，请换一个更安全的密码"),
    "password_too_similar": _("密码与用户名或邮箱过于相似"),
    "password_too_guessable": _("该密码容易被猜到（如重复或连续的字符、键盘序列、日期），请换一个"),
}
_PASSWORD_LIMITS = {"min": account_rules.PASSWORD_MIN_LENGTH, "max": account_rules.PASSWORD_MAX_LENGTH}


class EmailOnlyForm(forms.Form):
    """What 获取验证码 needs: just a valid email."""

    email = _email()


def _password_message(code: str | None, error: forms.ValidationError) -> str:
    if code in _PASSWORD_MESSAGES:
        return str(_PASSWORD_MESSAGES[code]) % _PASSWORD_LIMITS
    return error.messages[0]


class _UsernameMixin(forms.Form):
    def clean_username(self) -> str:
        try:
            return account_rules.canonical_username(self.cleaned_data["username"])
        except account_rules.UsernameError as exc:
            raise forms.ValidationError(refusals.answer(exc).message, code=exc.reason) from None


@dataclass(frozen=True)
class UsernamePreview:
    """What the page says next to a username being registered: the name it will be stored as, or the
    rule it breaks; and whether the buyer confirmed that exact name."""

    canonical: str  # "" until the typed name is valid
    changed: bool  # the stored name differs from what was typed (case, full-width, spaces)
    error: str
    confirmed: bool


class _ConfirmedUsernameMixin(_UsernameMixin):
    """A form that registers a username. The stored name never changes and may differ from what was
    typed (canonical_username: NFKC, lower case), so the buyer confirms the exact name: the
    ``confirm_username`` checkbox carries it, and the form is refused, naming it, until it does. The
    page's script (activation/username.js) keeps the checkbox's name in step with the typing; without
    the script the refusal is the confirm step."""

    confirm_username = forms.CharField(required=False, max_length=64)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        canonical = data.get("username")
        if canonical and data.get("confirm_username") != canonical:
            self.add_error(
                "confirm_username",
                forms.ValidationError(
                    gettext("请确认用户名：将注册为 %(username)s，注册后不可修改") % {"username": canonical},
                    code="unconfirmed",
                ),
            )
        return data

    @property
    def username_preview(self) -> UsernamePreview:
        values = self.data if self.is_bound else self.initial
        typed = str(values.get("username") or "")
        if not typed.strip():
            return UsernamePreview("", False, "", False)
        try:
            canonical = account_rules.canonical_username(typed)
        except account_rules.UsernameError as exc:
            return UsernamePreview("", False, refusals.answer(exc).message, False)
        confirmed = values.get("confirm_username") == canonical
        return UsernamePreview(canonical, canonical != typed, "", confirmed)

    @property
    def username_rule_messages(self) -> dict[str, str]:
        """The words of each broken rule, for the script to show as the name is typed."""
        rules = account_rules.UsernameRule
        return {rule.value: refusals.answer(account_rules.UsernameError(rule)).message for rule in rules}


class _PasswordMixin(forms.Form):
    """Two password fields checked by settings.AUTH_PASSWORD_VALIDATORS (NIST SP 800-63B-4: length,
    blocklist, no composition rules)."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("两次输入的密码不一致"))
        elif first:
            candidate = get_user_model()(username=data.get("username", ""), email=data.get("email", ""))
            try:
                password_validation.validate_password(first, user=candidate)
            except forms.ValidationError as exc:
                # Our own words: Django's catalogue lacks Chinese for some of these in 5.2.
                codes = [error.code for error in exc.error_list]
                self.add_error(
                    "password1",
                    [
                        str(_PASSWORD_MESSAGES[code]) % _PASSWORD_LIMITS
                        if code in _PASSWORD_MESSAGES
                        else error.messages[0]
                        for code, error in zip(codes, exc.error_list, strict=True)
                    ],
                )
        return data


def _password_help() -> str:
    return str(PASSWORD_HELP) % _PASSWORD_LIMITS


def _password(label: Any, *, help_text: Any = "") -> forms.CharField:
    # Never stripped or cut: every character counts, up to PASSWORD_MAX_LENGTH.
    return forms.CharField(
        label=label,
        max_length=account_rules.PASSWORD_MAX_LENGTH,
        strip=False,
        help_text=help_text,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        error_messages={"required": _required(label), "max_length": _MAX_LENGTH},
    )


def _phone() -> forms.CharField:
    return forms.CharField(
        label=_("手机号（选填）"),
        max_length=20,
        required=False,
        validators=[RegexValidator(r"^\+?[0-9 \-]{5,20}$", _("请输入有效的手机号"))],
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )


class BindAccountForm(_UsernameMixin):
    username = _text(_("用户名"), max_length=64, placeholder=_("费用中心账号用户名"))
    email = _email()
    code = _code()

    def clean_username(self) -> str:
        # An unknown or malformed name gets the same answer as a wrong email, after the code is proved.
        return self.cleaned_data["username"].strip()


class BindWorkspaceForm(forms.Form):
    email = _email()
    code = _code()


class CreateWorkspaceForm(forms.Form):
    name = _workspace_name()
    language = _language()
    email = _email()
    code = _code()
    agree = _agree()


class _AccountFields(_PasswordMixin, _UsernameMixin):
    """A new console account (and its same-named billing-center account), email proved by a code."""

    username = _text(_("用户名"), max_length=64, placeholder=_("登录用户名"))
    password1 = _password(_("密码"), help_text=lazy(_password_help, str)())
    password2 = _password(_("确认密码"))
    email = _email()
    code = _code()
    phone = _phone()


_ACCOUNT_FIELDS = ["username", "password1", "password2", "email", "code", "phone"]  # in _AccountFields' order


class RegisterWorkspaceForm(_ConfirmedUsernameMixin, _AccountFields):
    name = _workspace_name()
    language = _language()
    agree = _agree()

    field_order = ["name", "language", *_ACCOUNT_FIELDS, "confirm_username", "agree"]


class RegisterBasicForm(_ConfirmedUsernameMixin, _AccountFields):
    pass


class RegisterEnterpriseForm(forms.Form):
    enterprise_name = _text(_("企业名称"), max_length=100, placeholder=_("请输入企业名称"))
    agree = _agree()


class RegisterAccountForm(_ConfirmedUsernameMixin, _AccountFields, RegisterEnterpriseForm):
    """尚无企业账号 → 注册: the enterprise (billing-center) account and its same-named console account,
    on one page; its workspaces are bound or created afterwards on 绑定观测云工作空间."""

    field_order = [*_ACCOUNT_FIELDS, "enterprise_name", "confirm_username", "agree"]


class RegisterOpenForm(forms.Form):
    name = _workspace_name()
    language = _language()


for _form in (RegisterWorkspaceForm, RegisterBasicForm, RegisterAccountForm):
    _form.base_fields["username"].help_text = USERNAME_HELP


class AccessKeyForm(forms.Form):
    """RAM 账号授权: the AccessKey of the buyer's account or of one of its RAM users. The secret is a
    password input, never shown again (not even after a refusal) and never kept in the session."""

    way = forms.CharField(widget=forms.HiddenInput, initial="key", required=False)
    access_key_id = _text(_("AccessKey ID"), max_length=128, placeholder=_("请输入 AccessKey ID"))
    access_key_secret = forms.CharField(
        label=_("AccessKey Secret"),
        max_length=128,
        strip=True,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off", "placeholder": _("请输入 AccessKey Secret")}
        ),
        error_messages={"required": _required(_("AccessKey Secret")), "max_length": _MAX_LENGTH},
    )


class RoleVerifyForm(forms.Form):
    """第三方快捷授权's 验证: nothing to type; the grant is proved by assuming the role."""

    way = forms.CharField(widget=forms.HiddenInput, initial="role", required=False)
