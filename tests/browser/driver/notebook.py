"""A notebook open in the browser: run its cells, read Python state back, find its widgets."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import (
    Locator,
    Page,
)

from .browser import BrowserSession
from .server import JupyterServer
from .widget_view import WidgetView

# -------------------------------------------------------------------- notebook
_FIND_PANEL = """
const findPanel = (path) => {
  const app = window.jupyterapp;
  if (!app) return null;
  for (const w of app.shell.widgets("main")) {
    if (w.context && w.context.path === path && w.content && w.content.model) return w;
  }
  return null;
};
"""


class Notebook:
    """A notebook open in JupyterLab or Notebook 7 (same DOM, same commands)."""

    def __init__(
        self,
        page: Page,
        server: JupyterServer,
        name: str,
        session: BrowserSession | None = None,
    ) -> None:
        self.page = page
        self.server = server
        self.name = name
        self.session = session

    def open(self, timeout_ms: float = 60_000) -> Notebook:
        self.page.goto(self.server.notebook_url(self.name), wait_until="domcontentloaded")
        self.page.wait_for_function(
            f"(path) => {{ {_FIND_PANEL} return !!findPanel(path); }}",
            arg=self.name,
            timeout=timeout_ms,
        )
        self.page.evaluate(
            f"""async (path) => {{ {_FIND_PANEL}
              const panel = findPanel(path);
              await panel.context.ready;
              await panel.sessionContext.ready;
              window.jupyterapp.shell.activateById(panel.id);
            }}""",
            self.name,
        )
        self.wait_kernel_idle(timeout_ms)
        return self

    def wait_kernel_idle(self, timeout_ms: float = 60_000) -> None:
        self.page.wait_for_function(
            f"""(path) => {{ {_FIND_PANEL}
              const p = findPanel(path);
              const k = p && p.sessionContext.session && p.sessionContext.session.kernel;
              return !!k && k.status === "idle" && k.connectionStatus === "connected";
            }}""",
            arg=self.name,
            timeout=timeout_ms,
        )

    def run_all(self, timeout_ms: float = 120_000) -> None:
        """Run every cell; resolves when execution is done. Raises on an error output."""
        self.page.evaluate(
            f"""async (path) => {{ {_FIND_PANEL}
              const panel = findPanel(path);
              window.jupyterapp.shell.activateById(panel.id);
              await window.jupyterapp.commands.execute("notebook:run-all-cells");
            }}""",
            self.name,
        )
        self.page.wait_for_function(
            f"""(path) => {{ {_FIND_PANEL}
              const nb = findPanel(path).content;
              return nb.widgets.every((c) => c.model.type !== "code" || c.model.executionCount);
            }}""",
            arg=self.name,
            timeout=timeout_ms,
        )
        errors = self.cell_errors()
        if errors:
            raise AssertionError("a notebook cell failed:\n" + "\n".join(errors))

    def cell_errors(self) -> list[str]:
        return self.page.evaluate(
            f"""(path) => {{ {_FIND_PANEL}
              const out = [];
              for (const cell of findPanel(path).content.widgets) {{
                if (cell.model.type !== "code") continue;
                for (const o of cell.model.outputs.toJSON()) {{
                  if (o.output_type === "error") out.push(o.ename + ": " + o.evalue);
                }}
              }}
              return out;
            }}""",
            self.name,
        )

    def run_code(self, code: str, timeout_ms: float = 60_000) -> str:
        """Add a cell with `code` at the end, run it, remove it; return its text output.

        This is how a user reads Python state after acting in the page. An
        error output raises AssertionError with the traceback.
        """
        outputs: list[dict[str, Any]] = self.page.evaluate(
            f"""async ([path, code, timeout]) => {{ {_FIND_PANEL}
              const app = window.jupyterapp;
              const panel = findPanel(path);
              const nb = panel.content;
              const model = nb.model;
              const index = model.cells.length;
              model.sharedModel.insertCell(index, {{cell_type: "code", source: code}});
              nb.activeCellIndex = index;
              app.shell.activateById(panel.id);
              await app.commands.execute("notebook:run-cell");
              const cell = nb.widgets[index];
              const t0 = performance.now();
              while (!cell.model.executionCount && performance.now() - t0 < timeout) {{
                await new Promise((r) => setTimeout(r, 20));
              }}
              const outputs = cell.model.outputs.toJSON();
              model.sharedModel.deleteCell(index);
              return outputs;
            }}""",
            [self.name, code, timeout_ms],
        )
        text: list[str] = []
        for o in outputs:
            if o["output_type"] == "error":
                raise AssertionError(
                    f"{o['ename']}: {o['evalue']}\n" + "\n".join(o.get("traceback", []))
                )
            if o["output_type"] == "stream":
                t = o["text"]
                text.append(t if isinstance(t, str) else "".join(t))
            elif "data" in o and "text/plain" in o["data"]:
                t = o["data"]["text/plain"]
                text.append(t if isinstance(t, str) else "".join(t))
        return "".join(text)

    def eval_json(self, expression: str) -> Any:
        """The value of a Python expression in the kernel, through JSON."""
        out = self.run_code(f"import json as _j\nprint(_j.dumps({expression}))")
        return json.loads(out.strip().splitlines()[-1])

    def windowing_mode(self) -> str:
        """The notebook's windowing mode: "none" renders every cell (tests need it)."""
        return self.page.evaluate(
            f"""(path) => {{ {_FIND_PANEL}
              return findPanel(path).content.notebookConfig.windowingMode; }}""",
            self.name,
        )

    def active_cell_index(self) -> int:
        return self.page.evaluate(
            f"(path) => {{ {_FIND_PANEL} return findPanel(path).content.activeCellIndex; }}",
            self.name,
        )

    def set_theme(self, theme: str, timeout_ms: float = 30_000) -> None:
        """Switch the application theme ("JupyterLab Light" / "JupyterLab Dark") and wait for it."""
        self.page.evaluate(
            """async (theme) => {
              await window.jupyterapp.commands.execute("apputils:change-theme", {theme});
            }""",
            theme,
        )
        light = "false" if "Dark" in theme else "true"
        self.page.wait_for_function(
            "(light) => document.body.dataset.jpThemeLight === light", arg=light, timeout=timeout_ms
        )

    def next_frames(self, count: int = 2) -> None:
        """Let the page render `count` animation frames."""
        self.page.evaluate(
            """async (count) => {
              for (let i = 0; i < count; i++) await new Promise((r) => requestAnimationFrame(r));
            }""",
            count,
        )

    def cell(self, index: int) -> Locator:
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def widget(self, cell_index: int, nth: int = 0) -> WidgetView:
        return WidgetView(self.page, self.cell(cell_index).locator(".aw-root").nth(nth))


# ---------------------------------------------------------------------- widget
