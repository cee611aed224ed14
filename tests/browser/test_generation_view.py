"""A generation in a real JupyterLab: it grows while the model writes, the stop button ends it,
the step slider repaints the text picture, and a text token links to its heatmap row.

Cell 0 makes a tiny GPT-2 (random weights) with a logits processor that waits
a little at each step, so the view can watch it write; and a planted
generation (no model): prompt p0..p4, generated g1..g3, where the step-2 row
(row 5) attends only to token 2 and every other row uniformly, with a hostile
token among the choices.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .browser_checks import HIGHLIGHT_LIGHT, VIRIDIS_HIGH, XSS_TOKEN, near
from .driver import JupyterServer, Notebook, WidgetView

pytestmark = pytest.mark.browser

SETUP = f"""
import threading, time
import numpy as np, torch
import attn_widget as aw
from attn_widget.extract.generate import Generation
from attn_widget.generation import GenerationWidget
from attn_widget.growing import GrowingAttention
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
from tokenizers import Tokenizer, models, pre_tokenizers

vocab = {{w: i for i, w in enumerate(["<pad>", "<s>"] + [f"w{{i}}" for i in range(60)])}}
tk = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
tk.pre_tokenizer = pre_tokenizers.Whitespace()
tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>")
torch.manual_seed(0)
gpt = GPT2LMHeadModel(GPT2Config(vocab_size=62, n_embd=32, n_layer=2, n_head=4, n_positions=128,
                                 bos_token_id=1, eos_token_id=1)).eval()

def slow(ids, scores):
    time.sleep(0.15)
    return scores

tokens = ["p0", "p1", "p2", "p3", "p4", "g1", {XSS_TOKEN!r}, "g3"]
n = len(tokens)
part = GrowingAttention(1, 1, n, n)
for r in range(n):
    part.weights[0, 0, r, : r + 1] = 1 / (r + 1)
part.weights[0, 0, 5] = 0
part.weights[0, 0, 5, 2] = 1.0
part.publish(tokens, tokens)
part.finish()
pairs = [("g1", 0.5), ({XSS_TOKEN!r}, 0.3)]
top = [{{"token": t, "id": i, "probability": p}} for i, (t, p) in enumerate(pairs)]
steps = [{{"id": 5 + t, "token": tokens[4 + t], "probability": 0.5, "top": top}}
         for t in range(1, 4)]
run = Generation(components={{"attention": part}}, prompt_ids=[0, 1, 2, 3, 4], ids=list(range(n)),
                 raw=tokens, tokens=tokens, steps=steps)
run.done.set()
planted = GenerationWidget(run, stop=threading.Event(), step=2)
"""
LIVE = (
    "live = aw.generate(gpt, tok, 'w1 w2 w3 w4', max_new_tokens=40, logits_processor=[slow])\nlive"
)
CELLS = [SETUP, "planted", LIVE]
CELL_PLANTED, CELL_LIVE = 1, 2


@pytest.fixture(scope="module")
def lab(browser: object, lab_server: JupyterServer, live_notebook: Any) -> Iterator[Notebook]:
    with live_notebook(browser, lab_server, "generation_view.ipynb", CELLS) as nb:
        yield nb


def box_point(view: WidgetView, index: int) -> tuple[float, float]:
    layout = view.layout(view.root.locator("canvas.aw-text"))
    b = layout["boxes"][index]
    return b["x"] + 2, b["y"] + b["h"] / 2


def test_the_view_grows_while_the_model_writes_and_stop_ends_it(lab: Notebook) -> None:
    view = lab.widget(CELL_LIVE)
    seen: list[int] = []
    slider = view.slider("step")
    for _ in range(60):
        total = int(slider.get_attribute("max") or 0)
        if total and (not seen or total != seen[-1]):
            seen.append(total)
        if len(seen) >= 4:
            break
        lab.page.wait_for_timeout(120)
    assert len(seen) >= 4 and seen == sorted(seen), seen  # steps seen one after another
    assert lab.eval_json("live.generating") is True
    view.root.locator("button.aw-stop").click()
    lab.run_code("live.wait(30)")
    stopped = lab.eval_json("[live.generation.stopped, live.steps, live.generating]")
    assert stopped[0] is True and 4 <= stopped[1] < 40 and stopped[2] is False
    # The kernel is free again, and the model as it was.
    assert lab.eval_json("gpt.config._attn_implementation") == "sdpa"


def test_the_step_slider_repaints_the_text_with_the_planted_weights(lab: Notebook) -> None:
    view = lab.widget(CELL_PLANTED)
    view.wait_paint(layer=0)
    lab.next_frames()
    canvas = view.root.locator("canvas.aw-text")
    # Step 2 wrote token 6 from row 5, which attends only to token 2.
    colours = view.pixels(canvas, [box_point(view, i) for i in range(6)])
    shaded = [i for i, c in enumerate(colours) if near(c, VIRIDIS_HIGH, 16)]
    assert shaded == [2], colours
    painted = view.painted()["n"]
    view.set_slider("step", 1)  # row 4: uniform over tokens 0..4
    view.wait_paint(after=painted)
    lab.next_frames()
    colours = view.pixels(canvas, [box_point(view, i) for i in range(6)])
    assert all(near(c, VIRIDIS_HIGH, 16) for c in colours[:5]) and not near(
        colours[5], VIRIDIS_HIGH, 16
    )
    assert lab.eval_json("planted.step") == 1


def test_hovering_a_text_token_lights_its_heatmap_row_and_tokens_stay_text(lab: Notebook) -> None:
    view = lab.widget(CELL_PLANTED)
    lab.run_code("planted.step = 2")
    painted = view.wait_paint()["n"]
    canvas = view.root.locator("canvas.aw-text")
    x, y = box_point(view, 3)
    canvas.hover(position={"x": x + 4, "y": y})
    view.wait_paint(after=painted)
    lab.next_frames()
    heat = view.layout(view.heatmap)
    (left,) = view.pixels(view.heatmap, [(heat["x0"] - 1.0, heat["y0"] + 3.5 * heat["cell"])])
    assert near(left, HIGHLIGHT_LIGHT, 40), left
    choices = view.root.locator(".aw-choices").inner_text()
    assert XSS_TOKEN[:10] in choices
    assert lab.page.evaluate("window.__xss === undefined")
