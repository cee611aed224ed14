"""Image and text together: CLIP's two towers, and LLaVA's one sequence of image and text tokens."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("PIL")

import attn_widget as aw  # noqa: E402
from attn_widget.extract import media  # noqa: E402
from attn_widget.media import media_of  # noqa: E402
from tests import media_models as mm  # noqa: E402

TEXTS = ["a dog", "a photo of the cat on a table"]


@pytest.fixture(scope="module")
def clip() -> tuple[Any, Any]:
    model, processor = mm.clip_model_and_processor()
    return model.eval(), processor


@pytest.fixture(scope="module")
def llava() -> tuple[Any, Any]:
    model, processor = mm.llava_model_and_processor()
    return model.eval(), processor


# ---------------------------------------------------------------------- CLIP
def test_clip_towers_equal_eager_with_the_text_tower_causal_and_padded(
    clip: tuple[Any, Any],
) -> None:
    model, processor = clip
    images = [mm.image(40, 24, seed=1), mm.image(16, 16, seed=2)]
    found = media.extract_media(model, processor, images, text=TEXTS)
    assert list(found) == ["vision", "text"]
    assert found["text"].tokens == [
        ["<s>", "a", "dog", "</s>"],
        ["<s>", "a", "photo", "of", "the", "cat", "on", "a", "table", "</s>"],
    ]
    inputs = processor(images=images, text=TEXTS, padding=True, return_tensors="pt")
    assert inputs["attention_mask"][0].tolist() == [1] * 4 + [0] * 6  # the first text is padded
    out = mm.eager(model, **inputs)
    for name, reference, sides in (
        ("vision", out.vision_model_output.attentions, (17, 17)),
        ("text", out.text_model_output.attentions, (4, 10)),
    ):
        for case, n in enumerate(sides):
            for layer in range(2):
                expected = reference[layer][case].numpy()[:, :n, :n]
                np.testing.assert_allclose(
                    found[name].case_values(case)[layer], expected, atol=1e-5, rtol=0
                )
    assert found["text"].is_causal(0) and found["text"].is_causal(1)
    np.testing.assert_allclose(
        found["vision"].meta["logits_per_image"], out.logits_per_image.numpy(), atol=1e-5
    )
    assert found["vision"].meta["media"]["special"] == {"[CLS]": 0}
    assert "media" not in found["text"].meta and media_of(found["text"]) is None


def test_clip_takes_text_alone_or_images_alone(clip: tuple[Any, Any]) -> None:
    model, processor = clip
    both = media.extract_media(model, processor, mm.image(16, 16), text="a dog")
    text_only = media.extract_media(model, processor, "a dog")
    assert list(text_only) == ["text"]
    np.testing.assert_allclose(
        text_only["text"].case_values(0), both["text"].case_values(0), atol=1e-6
    )
    image_only = media.extract_media(model, processor, mm.image(16, 16))
    assert list(image_only) == ["vision"] and "logits_per_image" not in image_only["vision"].meta
    np.testing.assert_allclose(
        image_only["vision"].case_values(0), both["vision"].case_values(0), atol=1e-6
    )
    widget = aw.from_model(model, processor, mm.image(16, 16), text="a dog")
    assert list(widget.components) == ["vision", "text"]


def test_clip_refuses_what_it_cannot_take(clip: tuple[Any, Any]) -> None:
    model, processor = clip
    with pytest.raises(ValueError, match="CLIPModel: takes images, text, or both; got neither"):
        media.extract_media(model, processor)
    with pytest.raises(ValueError, match="CLIPModel: text needs a tokenizer"):
        media.extract_media(model, processor.image_processor, mm.image(16, 16), text="a dog")
    with pytest.raises(ValueError, match="CLIPModel: its text tower reads at most 16 tokens"):
        media.extract_media(model, processor, " ".join(["dog"] * 20))
    with pytest.raises(ValueError, match="CLIPModel: takes images with 3 channels"):
        media.extract_media(model, processor, mm.image(16, 16)[:, :, :2], text="a")


# --------------------------------------------------------------------- LLaVA
def test_llava_sequence_equals_eager_with_image_tokens_as_patches(
    llava: tuple[Any, Any],
) -> None:
    model, processor = llava
    images = [mm.image(20, 16, seed=3), mm.image(16, 16, seed=4)]
    prompts = ["USER: <image> what is on the table ? ASSISTANT:", "what is on the table ?"]
    found = media.extract_media(model, processor, images, text=prompts)
    assert list(found) == ["language", "vision"]
    language = found["language"]
    # The second prompt had no <image>: it is put in front.
    assert language.meta["text"][1] == "<image>\nwhat is on the table ?"
    image_id = model.config.image_token_id
    for case in range(2):
        inputs = processor(
            images=images[case], text=language.meta["text"][case], return_tensors="pt"
        )
        out = mm.eager(model, **inputs)
        for layer in range(2):
            np.testing.assert_allclose(
                language.case_values(case)[layer], out.attentions[layer][0].numpy(), atol=1e-5
            )
            np.testing.assert_allclose(
                found["vision"].case_values(case)[layer],
                out.image_outputs.attentions[layer][0].numpy(),
                atol=1e-5,
            )
        # The image positions are where the model puts the patch features, row-major.
        spots = torch.nonzero(inputs["input_ids"][0] == image_id).flatten().tolist()
        assert language.meta["media"]["patches"][case] == spots
        labels = [language.tokens[case][i] for i in spots]
        assert labels == [f"p({r},{c})" for r in range(4) for c in range(4)]
        assert language.meta["media"]["query"][case] == len(language.tokens[case]) - 1
    assert language.tokens[0][:3] == ["<unk>", "<unk>", "p(0,0)"]  # 'USER', ':' are not words here
    assert language.tokens[1][16:] == ["what", "is", "on", "the", "table", "?"]
    assert language.is_causal(0)
    assert found["vision"].tokens[0][:2] == ["[CLS]", "p(0,0)"]
    assert media_of(language).images[0].shape == (16, 16, 3)


def test_llava_cases_of_a_batch_equal_each_prompt_alone(llava: tuple[Any, Any]) -> None:
    model, processor = llava
    images = [mm.image(16, 16, seed=5), mm.image(16, 16, seed=6)]
    prompts = ["<image> a dog", "<image> what is on the table ? a cat"]
    batch = media.extract_media(model, processor, images, text=prompts)["language"]
    for case in range(2):
        alone = media.extract_media(model, processor, images[case], text=prompts[case])
        np.testing.assert_allclose(
            batch.case_values(case), alone["language"].case_values(0), atol=1e-5
        )


def test_llava_refuses_prompts_and_processors_that_do_not_fit_before_running(
    llava: tuple[Any, Any],
) -> None:
    model, processor = llava
    calls = mm.count_forwards(model)
    try:
        with pytest.raises(ValueError, match="LlavaForConditionalGeneration: takes an image and"):
            media.extract_media(model, processor, mm.image(16, 16))
        with pytest.raises(ValueError, match="one image per prompt"):
            media.extract_media(model, processor, mm.image(16, 16), text="<image> <image> a")
        with pytest.raises(ValueError, match="got 3 prompts for 2 images"):
            media.extract_media(model, processor, [mm.image(16, 16)] * 2, text=["a", "b", "c"])
        _, short = mm.llava_model_and_processor(additional=0)
        with pytest.raises(ValueError, match=r"put 15 image tokens .* gives 16 image features"):
            media.extract_media(model, short, mm.image(16, 16), text="a dog")
        with pytest.raises(ValueError, match="target: LlavaForConditionalGeneration has no"):
            media.extract_media(model, processor, mm.image(16, 16), text="a", target="b")
        assert calls == []
    finally:
        for module in model.modules():
            module._forward_pre_hooks.clear()


def test_llava_widget_save_and_load_keep_the_image_positions(
    llava: tuple[Any, Any], tmp_path: Any
) -> None:
    model, processor = llava
    widget = aw.from_model(model, processor, mm.image(24, 16), text="what is on the table ?")
    assert widget.component == "language"
    loaded = aw.load(aw.save(widget, tmp_path / "llava.npz"))
    for name in ("language", "vision"):
        assert loaded.components[name].meta["media"] == widget.components[name].meta["media"]
        np.testing.assert_array_equal(
            media_of(loaded.components[name]).images[0], media_of(widget.components[name]).images[0]
        )


def test_lazy_llava_with_grouped_query_heads_matches_the_full_weights(
    llava: tuple[Any, Any],
) -> None:
    model, processor = llava
    images = [mm.image(16, 16, seed=7), mm.image(16, 16, seed=8)]
    prompts = ["<image> a dog", "what is on the table ?"]
    full = media.extract_media(model, processor, images, text=prompts)
    lazy = media.extract_media(model, processor, images, text=prompts, lazy=True)
    assert isinstance(lazy["language"], aw.LazyAttention)
    for name in ("language", "vision"):
        assert lazy[name].meta["media"] == full[name].meta["media"]
        for case in range(2):
            np.testing.assert_allclose(
                lazy[name].matrix(1, 3, case), full[name].matrix(1, 3, case), atol=1e-6
            )
