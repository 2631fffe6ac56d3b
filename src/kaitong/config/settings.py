"""Django settings, derived once from the typed environment in ``env.py``."""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from kaitong.accounts import domain as account_rules
from kaitong.config.env import Mode, load_env
from kaitong.config.logs import logging_config
from kaitong_base import clock
from kaitong_base.databases import sqlite_options
from kaitong_base.headers import strict_content_security_policy

ENV = load_env()
PACKAGE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = ENV.secret_key
DEBUG = ENV.debug
ALLOWED_HOSTS = [host.strip() for host in ENV.allowed_hosts.split(",") if host.strip()]
CSRF_TRUSTED_ORIGINS = [ENV.public_url]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "kaitong.marketplace",
    "kaitong.accounts",
    "kaitong.workspaces",
    "kaitong.activation",
    "kaitong.billing",
    "kaitong.mail",
    "kaitong.notices",
    "kaitong.timeline",
    "kaitong.countdown",
    "kaitong.sealing",
    "kaitong.sls",
    # Django's tasks framework (built into Django 6: drop "django_tasks" then) on its database backend.
    "django_tasks",
    "django_tasks_db",
    "kaitong.jobs",
    # The usage API's OpenAPI page (/api/v1/docs) from ninja's own static files, not from a CDN.
    "ninja",
]

# Tasks are rows in this database, written in the transaction of the change that queues them, and run
# by ``kaitong worker`` (kaitong.jobs). The same setting on Django 6.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

MIDDLEWARE = [
    # Outermost: the request id (in every log line of the request) and the request metrics.
    "kaitong.config.middleware.ObservedRequests",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # request.htmx: an in-page request (获取验证码) is answered with the part of the page it replaces.
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A password hash that waited too long for its turn (accounts/hashers.py) is a 429 to retry.
    "kaitong.config.capacity.AnswerBusyHashing",
]

ROOT_URLCONF = "kaitong.config.urls"
WSGI_APPLICATION = "kaitong.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _databases() -> dict:
    config = dj_database_url.parse(ENV.database_url, conn_max_age=60, conn_health_checks=True)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = sqlite_options(config["NAME"], busy_timeout_seconds=ENV.sqlite_busy_timeout_seconds)
        config["CONN_MAX_AGE"] = 0
    else:
        # A statement that runs away must not hold a connection for ever (reliability E.27), and a
        # server that does not answer must not hold a request: it gets a 503 (config/views.py).
        config["OPTIONS"] = {
            "options": "-c statement_timeout=30000",
            "connect_timeout": ENV.database_connect_timeout_seconds,
            # Django turns psycopg's prepared statements off (for connection poolers); this turns them
            # back on for statements that ask. Django's own cursors bind client-side and never prepare,
            # so only the SPI create's statement is prepared. Behind PgBouncer in transaction mode it
            # needs max_prepared_statements (PgBouncer 1.21+).
            "prepare_threshold": 5,
        }
    return {"default": config}


DATABASES = _databases()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.ConsoleAccount"

PASSWORD_HASHERS = [
    # Django's Argon2 (same format), one hash at a time per process and per machine: accounts/hashers.py.
    # It replaces Django's class rather than joining it: both are "argon2", and the last one would win.
    "kaitong.accounts.hashers.CappedArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# One password hash at a time on this machine, across the server's processes (accounts/hashers.py).
PASSWORD_HASHING_LOCK_FILE: Path | None = ENV.var_dir / "password-hashing.lock"  # None: no machine-wide turn
# NIST SP 800-63B-4 for a single-factor password: at least 15 characters (up to 128, the forms' limit),
# no composition rules, a blocklist: Django's common passwords, the user's own name or email, and what
# zxcvbn finds guessable (the numbers are in kaitong/accounts/domain.py, pure rules, safe to import here).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": account_rules.PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "kaitong.accounts.validators.GuessablePasswordValidator"},
]
LOGIN_URL = "workspaces:login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# The site-wide stylesheet lives in the package, not in an app: the finders must be told.
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT = ENV.var_dir / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # var/ too, where the hashing lock lives
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = ENV.is_https
CSRF_COOKIE_SECURE = ENV.is_https
if ENV.is_https:
    # __Host- cookies are Secure, host-only and path=/ by browser rule: no subdomain can plant or
    # overwrite them (reliability B.9). Browsers drop them over plain http, hence https only.
    SESSION_COOKIE_NAME = "__Host-kaitong-session"
    CSRF_COOKIE_NAME = "__Host-kaitong-csrf"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 8 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# HSTS is sent on requests Django sees as https: through the proxy's header below, when one is trusted.
SECURE_HSTS_SECONDS = ENV.hsts_max_age
if ENV.trusted_proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + ENV.trusted_proxy_ssl_header.upper().replace("-", "_"), "https")
# Content-Security-Policy (django-csp): kaitong_base/headers.py.
CONTENT_SECURITY_POLICY = strict_content_security_policy()
# The SPI query is at most a few hundred bytes; anything far bigger is refused before parsing.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = ENV.smtp_host
EMAIL_PORT = ENV.smtp_port
EMAIL_HOST_USER = ENV.smtp_user
EMAIL_HOST_PASSWORD = ENV.smtp_password
EMAIL_USE_TLS = ENV.smtp_starttls
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = ENV.mail_from

# SMS (kaitong/sms/backends.py): the backend's dotted path, "" for none (notices then go by email only).
SMS_BACKEND = {
    "none": "",
    "file": "kaitong.sms.backends.FileSmsBackend",
    "locmem": "kaitong.sms.backends.LocmemSmsBackend",
}.get(ENV.sms_backend, ENV.sms_backend)
SMS_FILE_DIR = ENV.sms_file_dir

# One JSON object per line in production (for a log pipeline), the escaped console format in demo and
# test; both escape control characters and carry the request id (config/logs.py).
LOGGING = logging_config(json_lines=ENV.mode is Mode.PRODUCTION, level="WARNING" if ENV.mode is Mode.TEST else "INFO")

# The demo's clock (demo and tests only; the configuration refuses it in production): every process of
# the demo reads the offset the simulator's page moves, so a lock countdown can be watched to its end.
if ENV.clock_offset_file:
    clock.install(ENV.clock_offset_file)
