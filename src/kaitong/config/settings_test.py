"""Test settings: explicit safe values, then the real settings module."""

import os

os.environ.setdefault("KAITONG_ENV", "test")
os.environ.setdefault("KAITONG_PUBLIC_URL", "http://testserver")
os.environ.setdefault("KAITONG_ALIYUN_ISV_KEY", "test-isv-key-123")

from kaitong.config.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "kaitong.sms.backends.LocmemSmsBackend"  # like mail.outbox: kaitong.sms.backends.LocmemSmsBackend.outbox

# No marketplace answers DescribeInstanceForIsv in most tests: the scripted asker answers what a test tells
# it (``tests.support.marketplace.marketplace_says``) and cannot be asked about anything else. Tests that
# run the simulator point ENV at it instead.
ENV = ENV.model_copy(update={"instance_check_client": "scripted"})  # noqa: F405

# Test processes (pytest-xdist) do not share the machine's hashing turn: a test that holds a hash open
# must not make another process's tests wait. The test of the turn names its own file.
PASSWORD_HASHING_LOCK_FILE = None
