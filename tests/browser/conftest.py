"""Fixtures of the real-browser tests: a JupyterLab / Notebook 7 server of our
own on 127.0.0.1 and Debian's chromium driven by Playwright.

Servers start once per test module and are stopped by pid whatever happens;
the browser starts once per session. Every request that is not to 127.0.0.1
is aborted and recorded, and fails the test that made it, as does any page
error (but for known upstream noise). On a failure a screenshot of the page
and the server log go to test-artifacts/browser/.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from . import driver as jupyter_driver
from .browser_checks import ARTIFACTS
from .driver import (
    App,
    BrowserSession,
    JupyterServer,
    Notebook,
    launch_chromium,
    open_session,
    running_server,
    write_notebook,
)

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

# Sessions open now: each test is checked against what they recorded.
_SESSIONS: list[tuple[BrowserSession, JupyterServer]] = []


def _skip_without_chromium() -> None:
    chromium = jupyter_driver.CHROMIUM
    if not chromium.exists():
        pytest.skip(
            f"browser tests need Debian's chromium at {chromium} (apt-get install chromium)"
        )


# --------------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    _skip_without_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch_chromium(pw)
        try:
            yield b
        finally:
            b.close()


def _server(app: App, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    _skip_without_chromium()
    with running_server(app, tmp_path_factory.mktemp(f"jupyter-{app}")) as server:
        yield server


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    yield from _server("lab", tmp_path_factory)


@pytest.fixture(scope="module")
def notebook7_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    yield from _server("notebook", tmp_path_factory)


@pytest.fixture(scope="session")
def live_notebook() -> object:
    """`live_notebook(browser, server, name, cells)`: a context manager giving a run Notebook."""
    return _live_notebook


@contextmanager
def _live_notebook(
    browser: object, server: JupyterServer, name: str, cells: list[str]
) -> Iterator[Notebook]:
    """Write `cells` as `name` into the server's root, open it in a fresh page, run it all."""
    write_notebook(server.root / name, cells)
    session = open_session(browser)  # type: ignore[arg-type]
    _SESSIONS.append((session, server))
    try:
        nb = Notebook(session.page, server, name, session).open()
        nb.run_all()
        assert not session.blocked, f"the page tried to reach beyond 127.0.0.1: {session.blocked}"
        assert not session.real_page_errors(), f"page errors: {session.real_page_errors()}"
        yield nb
    finally:
        _SESSIONS.remove((session, server))
        session.close()


# ------------------------------------------------------------ per-test checks
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def _no_internet_no_page_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """No request may leave 127.0.0.1 and no page error may happen during a test."""
    before = [(len(s.blocked), len(s.real_page_errors())) for s, _ in _SESSIONS]
    yield
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        _save_failure(request.node.name)
    for (session, _server), (nb, ne) in zip(_SESSIONS, before, strict=False):
        blocked = session.blocked[nb:]
        errors = session.real_page_errors()[ne:]
        assert not blocked, f"the page tried to reach beyond 127.0.0.1: {blocked}"
        assert not errors, f"page errors: {errors}"


def _save_failure(test_name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^\w.-]+", "_", test_name)
    for i, (session, server) in enumerate(_SESSIONS):
        # The page may be gone; the log still helps.
        with contextlib.suppress(Exception):
            session.page.screenshot(path=str(ARTIFACTS / f"{safe}-{i}.png"), full_page=True)
        (ARTIFACTS / f"{safe}-{i}-server.log").write_text(server.log()[-20000:])
