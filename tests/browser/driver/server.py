"""A JupyterLab or Notebook 7 server of our own on 127.0.0.1, and the notebooks it opens.

A token-less server with throw-away config, data, runtime, workspace and
IPython dirs, offline and quiet (../shared/BROWSER-TESTING.md has why);
stopped by its own pid whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

App = Literal["lab", "notebook"]

# Lab settings for tests: render every cell (no windowing), no news or update toasts.
USER_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------- server
@dataclass
class JupyterServer:
    """A JupyterLab or Notebook 7 server of our own, stopped by its pid."""

    app: App
    base: pathlib.Path
    root: pathlib.Path
    port: int
    proc: subprocess.Popen[bytes]
    log_path: pathlib.Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str) -> str:
        if self.app == "lab":
            return f"{self.url}/lab/tree/{name}?reset"
        return f"{self.url}/notebooks/{name}"

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")
        return ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL; the kernels live in the server's own process group."""
        proc = self.proc
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        # Kernels the server did not shut down (it was killed): they are in the
        # process group we created for it, whose id is the server's pid.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def server_env(base: pathlib.Path) -> dict[str, str]:
    """Environment of a server (and its kernels) that touches nothing outside `base`."""
    dirs = {
        "JUPYTER_CONFIG_DIR": base / "config",
        "JUPYTER_DATA_DIR": base / "data",
        "JUPYTER_RUNTIME_DIR": base / "runtime",
        "IPYTHONDIR": base / "ipython",
        "JUPYTERLAB_WORKSPACES_DIR": base / "workspaces",
        "JUPYTERLAB_SETTINGS_DIR": base / "config" / "lab" / "user-settings",
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    for name, settings in USER_SETTINGS.items():
        path = dirs["JUPYTERLAB_SETTINGS_DIR"] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    env.update({k: str(v) for k, v in dirs.items()})
    env.update(
        {
            "MPLBACKEND": "Agg",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
            "JUPYTER_PLATFORM_DIRS": "1",
        }
    )
    return env


def start_server(app: App, base: pathlib.Path, timeout: float = 90.0) -> JupyterServer:
    """Start `jupyter lab` or `jupyter notebook` on 127.0.0.1 and wait until it answers."""
    root = base / "root"
    root.mkdir(parents=True, exist_ok=True)
    env = server_env(base)
    module = "jupyterlab" if app == "lab" else "notebook"
    app_class = "LabApp" if app == "lab" else "JupyterNotebookApp"
    last_error = ""
    for _attempt in range(3):
        port = free_port()
        log_path = base / f"server-{port}.log"
        args = [
            sys.executable,
            "-m",
            module,
            "--no-browser",
            "--expose-app-in-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.token=",
            "--ServerApp.password=",
            "--ServerApp.allow_root=True",
            "--ServerApp.open_browser=False",
            "--ServerApp.disable_check_xsrf=False",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.log_level=WARN",
            # JupyterLab's server extension runs under Notebook 7 too: keep it quiet there.
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            f"--{app_class}.workspaces_dir={base / 'workspaces'}",
            f"--{app_class}.user_settings_dir={env['JUPYTERLAB_SETTINGS_DIR']}",
        ]
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                args,
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = JupyterServer(app, base, root, port, proc, log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{server.url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        return server
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        last_error = server.log()[-4000:]
        server.stop()
    raise RuntimeError(f"jupyter {app} did not start on 127.0.0.1:\n{last_error}")


@contextlib.contextmanager
def running_server(app: App, base: pathlib.Path) -> Iterator[JupyterServer]:
    server = start_server(app, base)
    try:
        yield server
    finally:
        server.stop()


def write_notebook(path: pathlib.Path, sources: Sequence[str]) -> pathlib.Path:
    """Write a notebook of code cells (each with an id) for the python3 kernel."""
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            {
                "cell_type": "code",
                "id": uuid.uuid4().hex[:8],
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": source,
            }
            for source in sources
        ],
    }
    path.write_text(json.dumps(nb, indent=1))
    return path
