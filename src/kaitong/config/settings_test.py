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
# STS and SLS calls (the exclusive edition) go to a closed local port unless a test points them at the
# simulator (tests/support/sls.py): no test reaches Alibaba, by accident or otherwise.
ENV = ENV.model_copy(  # noqa: F405
    update={
        "instance_check_client": "scripted",
        "aliyun_cloud_proxy": "http://127.0.0.1:9",
        "aliyun_cloud_protocol": "http",
    }
)

# Test processes (pytest-xdist) do not share the machine's hashing turn: a test that holds a hash open
# must not make another process's tests wait. The test of the turn names its own file.
PASSWORD_HASHING_LOCK_FILE = None
