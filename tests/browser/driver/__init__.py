"""Drive a real JupyterLab 4 / Notebook 7 with Playwright and Debian's chromium.

Shared by the browser tests (tests/browser/) and the benchmarks (bench/), which
import it as ``tests.browser.driver`` (run them from the repository root as
``python -m bench.bench_widget``). See ../shared/BROWSER-TESTING.md for the
facts behind the choices: a token-less server on 127.0.0.1 with throw-away
config, data, runtime, workspace and IPython dirs, offline and quiet; chromium
with a fixed set of flags; every request that leaves 127.0.0.1 aborted and
recorded.
"""

from __future__ import annotations

from .browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    IGNORED_PAGE_ERRORS,
    NOT_LOCAL,
    BrowserSession,
    launch_chromium,
    open_session,
)
from .notebook import Notebook
from .server import (
    App,
    JupyterServer,
    free_port,
    running_server,
    server_env,
    start_server,
    write_notebook,
)
from .widget_view import WidgetView

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "IGNORED_PAGE_ERRORS",
    "NOT_LOCAL",
    "App",
    "BrowserSession",
    "JupyterServer",
    "Notebook",
    "WidgetView",
    "free_port",
    "launch_chromium",
    "open_session",
    "running_server",
    "server_env",
    "start_server",
    "write_notebook",
]
