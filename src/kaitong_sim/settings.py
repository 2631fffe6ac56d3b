"""Django settings for the simulator process: its own URLs, templates, database and configuration.

The simulator is a separate web app so a vendor deployment can be tested against it exactly as against
Alibaba: another host and port, another database (``KAITONG_SIMULATOR_DATABASE_URL``), and cookies
named so they never clash with the vendor's on the same ``127.0.0.1``. Its code reads its configuration
as ``settings.SIMULATOR`` (see ``config.py``).
"""

from __future__ import annotations

import dj_database_url

from kaitong_base import clock
from kaitong_base.databases import sqlite_options
from kaitong_base.headers import strict_content_security_policy
from kaitong_sim.config import Mode, load_config

SIMULATOR = load_config()
if SIMULATOR.clock_offset_file:
    # The demo's clock, the same file the vendor's processes read (refused in production by the config).
    clock.install(SIMULATOR.clock_offset_file)

SECRET_KEY = SIMULATOR.secret_key
DEBUG = SIMULATOR.debug
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django.contrib.staticfiles", "kaitong_sim"]
MIDDLEWARE = [
    # First: requests for Alibaba's STS and SLS host names (the SDKs reach us as their proxy) are
    # answered there, before sessions, CSRF or URL routing (cloud.py).
    "kaitong_sim.cloud.CloudHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "kaitong_sim.site_urls"
WSGI_APPLICATION = "kaitong_sim.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

# The signed-in simulated buyer lives in a signed cookie: no sessions table needed.
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_NAME = "aliyun_sim_session"
CSRF_COOKIE_NAME = "aliyun_sim_csrftoken"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# The pages' stylesheet and script are files of the package (static/simulator/), served by WhiteNoise
# straight from the app directories: the simulator has no collectstatic step.
STATIC_URL = "/static/"
STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.AppDirectoriesFinder"]
WHITENOISE_USE_FINDERS = True

# Nothing inline: scripts and styles come from this origin's files only, as on the vendor's pages.
# No form-action: 免登's form posts here and is redirected on to the vendor, which form-action would stop.
CONTENT_SECURITY_POLICY = strict_content_security_policy(restrict_form_action=False)


def _database() -> dict:
    config: dict = dict(dj_database_url.parse(SIMULATOR.database_url, conn_max_age=0))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = sqlite_options(config["NAME"])
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "zh-hans"
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING" if SIMULATOR.mode is Mode.TEST else "INFO"},
    # httpx logs every request URL at INFO, and an SPI URL carries the token: never let it reach a log.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
