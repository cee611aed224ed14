"""Models too big for one device: accelerate's device_map="auto" with layers offloaded to disk.

On the CPU, ``max_memory`` is made small enough that most layers go to disk
(MODEL-NOTES §5): their weights are loaded by accelerate's hooks for each
forward. Extraction must work on such a model, in full and lazily, give what
the same model in memory gives, and leave it exactly as dispatched.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
T = pytest.importorskip("transformers")
pytest.importorskip("accelerate")
from tokenizers import Tokenizer, models, pre_tokenizers  # noqa: E402

import attn_widget as aw  # noqa: E402

WORDS = [f"w{i}" for i in range(60)]
TEXTS = [" ".join(WORDS[(5 * i) % 60] for i in range(14)), " ".join(WORDS[:6])]


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, **{w: i + 4 for i, w in enumerate(WORDS)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return T.PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
    )


CONFIGS = {
    "gpt2": lambda: T.GPT2Config(vocab_size=64, n_embd=64, n_layer=4, n_head=4, n_positions=64),
    "llama": lambda: T.LlamaConfig(
        vocab_size=64,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    ),
    "bloom": lambda: T.BloomConfig(vocab_size=64, hidden_size=64, n_layer=4, n_head=4),
}


def _dispatched(name: str, folder: Any, budget: str = "300KB") -> tuple[Any, Any]:
    """The model in memory, and the same checkpoint loaded with most layers on disk."""
    torch.manual_seed(0)
    memory = T.AutoModelForCausalLM.from_config(CONFIGS[name]()).eval()
    memory.save_pretrained(folder)
    offloaded = T.AutoModelForCausalLM.from_pretrained(
        folder, device_map="auto", max_memory={"cpu": budget}, offload_folder=folder / "offload"
    )
    return memory, offloaded


def _dispatch_state(model: Any) -> dict[str, Any]:
    return {
        "map": dict(model.hf_device_map),
        "hooks": {n: id(getattr(m, "_hf_hook", None)) for n, m in model.named_modules()},
        "forwards": {n: id(m.__dict__.get("forward")) for n, m in model.named_modules()},
        "devices": {n: p.device for n, p in model.named_parameters()},
        "impl": model.config._attn_implementation,
        "training": model.training,
        "torch_hooks": sum(
            len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()
        ),
    }


@pytest.mark.parametrize(
    ("name", "budget"), [("gpt2", "300KB"), ("llama", "300KB"), ("bloom", "300KB"), ("gpt2", "1KB")]
)
def test_offloaded_models_give_the_weights_of_the_model_in_memory(
    name: str, budget: str, tokenizer: Any, tmp_path: Any
) -> None:
    memory, model = _dispatched(name, tmp_path, budget)
    assert "disk" in set(model.hf_device_map.values())  # layers really went to disk
    reference = aw.extract_attention(memory, tokenizer, TEXTS)
    ids = torch.tensor([tokenizer(TEXTS[0])["input_ids"]])
    with torch.no_grad():
        # A first forward of an all-disk model unties its tied weights' entries in
        # named_parameters (accelerate's doing): compare with the model after one.
        model(ids)
    before = _dispatch_state(model)
    full = aw.from_model(model, tokenizer, TEXTS).data
    assert _dispatch_state(model) == before
    lazy = aw.from_model(model, tokenizer, TEXTS, lazy=True).data
    assert _dispatch_state(model) == before
    assert all(t.device.type == "cpu" for case in lazy.queries + lazy.keys for t in case)
    for case in range(2):
        np.testing.assert_allclose(full.values[case], reference.values[case], atol=1e-6)
        np.testing.assert_allclose(lazy.case_values(case), reference.values[case], atol=1e-5)
    with torch.no_grad():
        np.testing.assert_allclose(model(ids).logits.numpy(), memory(ids).logits.numpy(), atol=1e-5)
