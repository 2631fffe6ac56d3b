"""Browser pages signed in as a console account, for the vendor's Chromium tests against ``live_server``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, Page

VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@contextlib.contextmanager
def pages_signed_in(browser: Browser, live_server: Any, user: Any) -> Iterator[Callable[..., Page]]:
    """``open_page(language=, viewport=)``: a new browser context per call, signed in as ``user`` (a Django
    session cookie) with the language cookie set; each page keeps its script errors in ``js_errors``.
    The contexts are closed on the way out."""
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    contexts = []

    def open_page(*, language: str = "zh-hans", viewport: str = "desktop") -> Page:
        context = browser.new_context(viewport=VIEWPORTS[viewport], locale="zh-CN")
        context.add_cookies(
            [
                {"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url},
                {"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url},
            ]
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.js_errors = errors  # type: ignore[attr-defined]
        return page

    try:
        yield open_page
    finally:
        for context in contexts:
            context.close()
