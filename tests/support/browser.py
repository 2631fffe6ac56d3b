"""Chromium pages for the browser tests: a context per language and viewport, signed in as a console
account (a Django session cookie) or not, recording the page's script errors; and screenshots saved
when ``KAITONG_SCREENSHOTS`` names a folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page

VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
SHOTS = os.environ.get("KAITONG_SCREENSHOTS", "")


class Pages:
    """Opens pages in fresh browser contexts; ``close`` closes them all (call it when the test ends)."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser, self.base_url = browser, base_url
        self.contexts: list[BrowserContext] = []

    def open(self, *, user: Any = None, language: str = "zh-hans", viewport: str = "desktop") -> Page:
        context = self.browser.new_context(viewport=VIEWPORTS[viewport], locale="zh-CN")  # type: ignore[arg-type]
        cookies = [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": self.base_url}]
        if user is not None:
            client = Client()
            client.force_login(user)
            session = client.cookies[settings.SESSION_COOKIE_NAME].value
            cookies.append({"name": settings.SESSION_COOKIE_NAME, "value": session, "url": self.base_url})
        context.add_cookies(cookies)  # type: ignore[arg-type]
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.js_errors = errors  # type: ignore[attr-defined]
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot as ``name``.png when KAITONG_SCREENSHOTS names a folder."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=f"{SHOTS}/{name}.png", full_page=True, caret="initial"
        )  # hiding the caret injects a style the CSP refuses
