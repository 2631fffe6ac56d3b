"""One row per login-free URL used: the UNIQUE digest makes each URL work once (reliability B.8)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class LoginFreeUse(models.Model):
    # sha256 of the URL's signed parameters; the token itself is never stored.
    digest = models.CharField(max_length=64, unique=True)
    instance_id = models.CharField(max_length=64)
    used_at = models.DateTimeField()
    # After this the timeStamp is outside the window anyway, so the row can go.
    keep_until = models.DateTimeField(db_index=True)

    class Meta:
        app_label = "marketplace"
        verbose_name = _("免登记录")
        verbose_name_plural = _("免登记录")

    def __str__(self) -> str:
        return f"{self.instance_id} @ {self.used_at:%Y-%m-%d %H:%M:%S}"
