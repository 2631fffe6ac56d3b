"""Test settings: explicit safe values, then the real settings module."""

import os

os.environ.setdefault("KAITONG_ENV", "test")
os.environ.setdefault("KAITONG_PUBLIC_URL", "http://testserver")
os.environ.setdefault("KAITONG_ALIYUN_ISV_KEY", "test-isv-key-123")

from kaitong.config.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
