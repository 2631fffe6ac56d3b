"""The operator console's per-instance timeline (/ops/timeline/instance/<id>/), read-only, in the admin's
frame; linked from each instance's page in the operator console."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from kaitong.timeline import queries


def instance_timeline(request: HttpRequest, instance_id: str) -> HttpResponse:
    """Everything that happened to the instance and its workspaces, oldest first (the admin's sign-in
    guards it: see config/urls.py)."""
    if not request.user.has_perm("marketplace.view_marketplaceinstance"):
        raise PermissionDenied
    found = queries.instance_timeline(instance_id)
    if found is None:
        raise Http404
    subject, events = found
    rows = [
        {
            "at": event.at,
            "kind": event.kind,
            "kind_label": queries.KIND_LABELS.get(event.kind, event.kind),
            "text": event.text,
        }
        for event in events
    ]
    context = {
        **admin.site.each_context(request),
        "title": _("时间线：云市场实例 %(id)s") % {"id": subject.instance_id},
        "subject": subject,
        "rows": rows,
        "kinds": [(kind, label) for kind, label in queries.KIND_LABELS.items()],
        "instance_url": reverse("admin:marketplace_marketplaceinstance_changelist") + f"?q={subject.instance_id}",
    }
    return render(request, "timeline/instance.html", context)
