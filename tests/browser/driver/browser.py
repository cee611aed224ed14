"""Debian's chromium driven by Playwright; every request off 127.0.0.1 aborted and recorded."""

from __future__ import annotations

import contextlib
import pathlib
import re
from dataclasses import dataclass, field

from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Route,
    WebSocketRoute,
)

CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Any URL that is not on 127.0.0.1 (blob: and data: URLs are never routed).
NOT_LOCAL = re.compile(r"^(?!(https?|wss?)://127\.0\.0\.1[:/]).*")
# Page errors that are upstream noise, not the widget's (BROWSER-TESTING.md).
IGNORED_PAGE_ERRORS = ("Cannot read properties of undefined (reading 'schema')",)


# --------------------------------------------------------------------- browser
def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )


@dataclass
class BrowserSession:
    """One browser context and page; what left 127.0.0.1 and what went wrong is recorded."""

    context: BrowserContext
    page: Page
    blocked: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.context.close()

    def real_page_errors(self) -> list[str]:
        return [e for e in self.page_errors if not any(i in e for i in IGNORED_PAGE_ERRORS)]


def open_session(browser: Browser, *, width: int = 1500, height: int = 1100) -> BrowserSession:
    context = browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=1,
        accept_downloads=True,
        color_scheme="light",
    )
    session = BrowserSession(context, context.new_page())

    def block(route: Route) -> None:
        session.blocked.append(route.request.url)
        route.abort("blockedbyclient")

    def block_socket(ws: WebSocketRoute) -> None:
        session.blocked.append(ws.url)  # not connected to anything: it goes nowhere

    # The pattern is matched in the browser driver, so requests to 127.0.0.1 never
    # wait for Python (a catch-all handler here slows a page load several times).
    context.route(NOT_LOCAL, block)
    context.route_web_socket(NOT_LOCAL, block_socket)
    session.page.on("pageerror", lambda error: session.page_errors.append(str(error)))
    return session
