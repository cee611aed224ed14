"""Attention over image patches: ViT, DeiT, DINOv2 (+ registers), CLIP vision; tiny and offline."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
PIL = pytest.importorskip("PIL.Image")

import attn_widget as aw  # noqa: E402
from attn_widget.extract import media  # noqa: E402
from attn_widget.extract.media_checks import check_sources  # noqa: E402
from attn_widget.media import media_of  # noqa: E402
from tests import media_models as mm  # noqa: E402

KINDS = ["vit", "vit_classifier", "deit", "dinov2", "dinov2_registers", "clip_vision"]
PREFIX = {
    "vit": ["[CLS]"],
    "vit_classifier": ["[CLS]"],
    "deit": ["[CLS]", "[DIST]"],
    "dinov2": ["[CLS]"],
    "dinov2_registers": ["[CLS]", "[REG0]", "[REG1]", "[REG2]", "[REG3]"],
    "clip_vision": ["[CLS]"],
}


@pytest.fixture(scope="module")
def models() -> dict[str, Any]:
    return {kind: mm.vision_model(kind).eval() for kind in KINDS}


def _pixels(processor: Any, images: list[np.ndarray]) -> Any:
    return processor(images, return_tensors="pt")["pixel_values"]


@pytest.mark.parametrize("kind", KINDS)
def test_weights_equal_eager_attention_within_1e5(models: dict[str, Any], kind: str) -> None:
    model, processor = models[kind], mm.vit_processor()
    images = [mm.image(16, 16, seed=1), mm.image(24, 20, seed=2)]  # the second one is resized
    data = media.extract_media(model, processor, images)
    reference = mm.eager(model, pixel_values=_pixels(processor, images)).attentions
    assert data.n_layers == len(reference) == 2 and data.n_cases == 2
    for case in range(2):
        for layer, expected in enumerate(reference):
            got = data.case_values(case)[layer]
            np.testing.assert_allclose(got, expected[case].numpy(), atol=1e-5, rtol=0)
    assert model.config._attn_implementation == "sdpa"  # switched back


@pytest.mark.parametrize("kind", KINDS)
def test_tokens_are_named_prefix_tokens_then_patches_by_row_and_column(
    models: dict[str, Any], kind: str
) -> None:
    data = media.extract_media(models[kind], mm.vit_processor(), mm.image(16, 16))
    prefix = PREFIX[kind]
    grid = [f"p({r},{c})" for r in range(4) for c in range(4)]
    assert data.tokens[0] == [*prefix, *grid]
    info = data.meta["media"]
    assert info["kind"] == "image" and info["size"] == [16, 16]
    assert info["grid"] == {"rows": 4, "cols": 4, "patch": [4, 4]}
    assert info["first"] == [len(prefix)]
    assert info["patches"] == [list(range(len(prefix), len(prefix) + 16))]
    assert info["special"] == {name: i for i, name in enumerate(prefix)}
    assert info["query"] == [0]  # the [CLS] row shows when nothing is hovered
    assert data.tokens[0][info["patches"][0][2 * 4 + 3]] == "p(2,3)"


def _moved_key(before: np.ndarray, after: np.ndarray) -> int:
    """The key whose logits changed: every other column only renormalises (layer 0)."""
    change = np.log(after) - np.log(before)
    change -= np.median(change, axis=-1, keepdims=True)
    return int(np.abs(change).sum(axis=(0, 1)).argmax())


@pytest.mark.parametrize(
    ("kind", "size", "pixel", "label"),
    [
        ("vit", (16, 16), (6, 9), "p(1,2)"),  # token 1 + 1·4 + 2 = 7
        ("deit", (16, 16), (15, 0), "p(3,0)"),
        ("dinov2_registers", (16, 16), (9, 14), "p(2,3)"),
        ("dinov2", (24, 32), (10, 29), "p(2,7)"),  # interpolated positions: 6 x 8 patches
    ],
)
def test_a_planted_pixel_change_moves_the_token_of_its_patch(
    models: dict[str, Any], kind: str, size: tuple[int, int], pixel: tuple[int, int], label: str
) -> None:
    model, processor = models[kind], mm.vit_processor(*size)
    picture = mm.image(*size, seed=3)
    planted = picture.copy()
    planted[pixel] = 255 - planted[pixel]
    before = media.extract_media(model, processor, picture)
    after = media.extract_media(model, processor, planted)
    moved = _moved_key(before.case_values(0)[0], after.case_values(0)[0])
    assert before.tokens[0][moved] == label
    info = before.meta["media"]
    row, col = pixel[0] // info["grid"]["patch"][0], pixel[1] // info["grid"]["patch"][1]
    assert info["patches"][0][row * info["grid"]["cols"] + col] == moved


def test_clip_crop_maps_an_original_pixel_to_the_patch_it_lands_on(models: dict[str, Any]) -> None:
    # 40x24 -> short side 16: 26x16, centre crop from row 5: rows 20..23 land on crop rows 8..10.
    picture = mm.image(40, 24, seed=4)
    planted = picture.copy()
    planted[20:24, 0:6] = 255 - planted[20:24, 0:6]
    model, processor = models["clip_vision"], mm.clip_processor()
    before = media.extract_media(model, processor, picture)
    after = media.extract_media(model, processor, planted)
    moved = _moved_key(before.case_values(0)[0], after.case_values(0)[0])
    assert before.tokens[0][moved] == "p(2,0)"
    # The picture agrees: its patch (2, 0) changed most (bicubic spreads a little beyond it).
    change = np.abs(
        media_of(before).images[0].astype(int) - media_of(after).images[0].astype(int)
    ).sum(axis=2)
    per_patch = change.reshape(4, 4, 4, 4).sum(axis=(1, 3))
    assert np.unravel_index(per_patch.argmax(), per_patch.shape) == (2, 0)


def test_the_picture_is_the_processed_image_with_normalisation_undone(
    models: dict[str, Any],
) -> None:
    same = mm.image(16, 16, seed=5)
    data = media.extract_media(models["vit"], mm.vit_processor(), same)
    np.testing.assert_array_equal(media_of(data).images[0], same)
    # CLIP: bicubic resize of the short side, then the centre crop, done here with Pillow.
    tall = mm.image(40, 24, seed=6)
    data = media.extract_media(models["clip_vision"], mm.clip_processor(), tall)
    resized = np.asarray(PIL.fromarray(tall).resize((16, 26), PIL.Resampling.BICUBIC))
    np.testing.assert_array_equal(media_of(data).images[0], resized[5:21])


def test_pil_numpy_float_torch_and_batches_give_the_same_weights(models: dict[str, Any]) -> None:
    model, processor = models["vit"], mm.vit_processor()
    picture = mm.image(16, 16, seed=7)
    reference = media.extract_media(model, processor, picture).case_values(0)
    forms = [
        PIL.fromarray(picture),
        picture.astype(np.float32) / 255,
        torch.from_numpy(picture).permute(2, 0, 1),
        torch.from_numpy(picture).permute(2, 0, 1).float() / 255,
    ]
    for form in forms:
        got = media.extract_media(model, processor, form).case_values(0)
        np.testing.assert_allclose(got, reference, atol=1e-6)
    batch = media.extract_media(model, processor, np.stack([picture, picture[::-1]]))
    assert batch.n_cases == 2
    np.testing.assert_allclose(batch.case_values(0), reference, atol=1e-6)
    tensors = media.extract_media(
        model, processor, torch.from_numpy(np.stack([picture, picture])).permute(0, 3, 1, 2)
    )
    np.testing.assert_allclose(tensors.case_values(1), reference, atol=1e-6)


def test_images_are_never_modified_in_place(models: dict[str, Any]) -> None:
    picture = mm.image(16, 16, seed=8)
    array, pil = picture.copy(), PIL.fromarray(picture.copy())
    tensor = torch.from_numpy(picture.copy()).permute(2, 0, 1).float() / 255
    floats = picture.astype(np.float32) / 255
    kept = (array.copy(), np.asarray(pil).copy(), tensor.clone(), floats.copy())
    media.extract_media(models["vit"], mm.vit_processor(), [array, pil, tensor, floats])
    np.testing.assert_array_equal(array, kept[0])
    np.testing.assert_array_equal(np.asarray(pil), kept[1])
    assert torch.equal(tensor, kept[2])
    np.testing.assert_array_equal(floats, kept[3])


BAD = [
    ("hello", "got text 'hello'"),
    (mm.image(16, 16)[:, :, :1].repeat(4, axis=2), "takes images with 3 channels"),
    (mm.image(16, 16)[:, :, 0], "got image 0 with 1"),
    (mm.image(16, 16).transpose(2, 0, 1).copy(), "looks like C x H x W"),
    (mm.image(16, 16).astype(np.float32), "values in [0, 1]"),
    (mm.image(16, 16).astype(np.int32), "dtype int32"),
    (mm.tone(0.01), "a 1-D array"),
    ([], "empty list"),
    (torch.zeros(2, 3, 4, 5, 6), "expected C x H x W"),
    ({"pixel_values": 1}, "got dict"),
]


@pytest.mark.parametrize(("bad", "message"), BAD)
def test_an_input_the_model_cannot_take_is_refused_before_anything_runs(
    bad: Any, message: str
) -> None:
    model = mm.vision_model("vit").eval()
    calls = mm.count_forwards(model)
    with pytest.raises(ValueError, match="ViTModel") as error:
        media.extract_media(model, mm.vit_processor(), bad)
    assert message in str(error.value)
    assert calls == []


def test_a_size_the_model_cannot_take_is_refused_before_it_runs() -> None:
    model = mm.vision_model("vit").eval()
    calls = mm.count_forwards(model)
    keep_size = mm.vit_processor()
    keep_size.do_resize = False
    with pytest.raises(ValueError, match=r"ViTModel: takes 16x16 pixel images.*gave 24x32"):
        media.extract_media(model, keep_size, mm.image(24, 32))
    dinov2 = mm.vision_model("dinov2").eval()
    with pytest.raises(ValueError, match=r"Dinov2Model: .*multiples of the 4x4 patch.*18x16"):
        media.extract_media(dinov2, mm.vit_processor(18, 16), mm.image(18, 16))
    assert calls == []


def test_text_options_and_processors_a_vision_model_cannot_take_are_refused() -> None:
    model = mm.vision_model("vit").eval()
    picture = mm.image(16, 16)
    with pytest.raises(ValueError, match="ViTModel: takes images only; got text='a dog'"):
        media.extract_media(model, mm.vit_processor(), picture, text="a dog")
    with pytest.raises(ValueError, match="target: ViTModel has no decoder"):
        media.extract_media(model, mm.vit_processor(), picture, target="a dog")
    with pytest.raises(ValueError, match="ViTModel: takes images through an image processor"):
        media.extract_media(model, mm.word_tokenizer(), picture)


def test_an_image_given_to_a_text_model_is_refused_naming_the_model() -> None:
    bert = mm.transformers.BertModel(
        mm.transformers.BertConfig(vocab_size=50, intermediate_size=64, **mm.TINY)
    )
    with pytest.raises(
        ValueError, match=r"BertModel: takes text .*got ndarray of shape \(16, 16, 3\)"
    ):
        aw.from_model(bert, mm.word_tokenizer(), mm.image(16, 16))
    with pytest.raises(ValueError, match="BertModel: takes text"):
        aw.from_model(bert, mm.word_tokenizer(), [PIL.fromarray(mm.image(16, 16))])


def test_a_vision_model_whose_token_layout_is_unchecked_is_refused() -> None:
    beit = mm.transformers.BeitModel(
        mm.transformers.BeitConfig(image_size=16, patch_size=4, intermediate_size=64, **mm.TINY)
    )
    with pytest.raises(ValueError, match="BeitModel: model_type 'beit' is not one attn_widget"):
        aw.from_model(beit, mm.vit_processor(), mm.image(16, 16))


def test_from_model_builds_a_widget_and_the_text_path_still_reads_text(
    models: dict[str, Any],
) -> None:
    widget = aw.from_model(models["deit"], mm.vit_processor(), mm.image(16, 16), layer=1)
    assert widget.layer == 1 and widget.data.tokens[0][:3] == ["[CLS]", "[DIST]", "p(0,0)"]
    bert = mm.transformers.BertModel(
        mm.transformers.BertConfig(vocab_size=50, intermediate_size=64, **mm.TINY)
    )
    tokenizer = mm.word_tokenizer(template=True)
    by_keyword = aw.from_model(bert, tokenizer, text="a dog sat")
    positional = aw.from_model(bert, tokenizer, "a dog sat")
    assert by_keyword.data.tokens == positional.data.tokens == [["<s>", "a", "dog", "sat", "</s>"]]
    with pytest.raises(ValueError, match="given twice"):
        aw.from_model(bert, tokenizer, "a", text="b")


def test_lazy_keeps_queries_and_keys_that_give_the_same_weights(models: dict[str, Any]) -> None:
    images = [mm.image(16, 16, seed=9), mm.image(16, 16, seed=10)]
    full = media.extract_media(models["dinov2_registers"], mm.vit_processor(), images)
    lazy = media.extract_media(models["dinov2_registers"], mm.vit_processor(), images, lazy=True)
    assert isinstance(lazy, aw.LazyAttention) and lazy.meta["media"] == full.meta["media"]
    for case in range(2):
        for layer in range(2):
            np.testing.assert_allclose(
                lazy.matrix(layer, 1, case), full.matrix(layer, 1, case), atol=1e-6
            )


def test_save_and_load_keep_the_image_as_png_bytes_and_the_grid(
    models: dict[str, Any], tmp_path: Any
) -> None:
    images = [mm.image(16, 16, seed=11), mm.image(30, 20, seed=12)]
    widget = aw.from_model(models["dinov2_registers"], mm.vit_processor(), images)
    path = aw.save(widget, tmp_path / "vit.npz")
    with np.load(path, allow_pickle=False) as archive:
        stored = archive["m0_image1"]
        assert stored.dtype == np.uint8 and stored.ndim == 1
        assert stored[:8].tobytes() == b"\x89PNG\r\n\x1a\n"
    loaded = aw.load(path)
    assert loaded.data.meta["media"] == widget.data.meta["media"]
    assert loaded.data.tokens == widget.data.tokens
    for case in range(2):
        np.testing.assert_array_equal(
            media_of(loaded.data).images[case], media_of(widget.data).images[case]
        )
    np.testing.assert_array_equal(loaded.data.case_values(1), widget.data.case_values(1))


def test_weights_that_break_the_model_rules_are_refused_naming_component_and_layer() -> None:
    good = np.full((2, 1, 3, 3), 1 / 3, dtype=np.float32)
    rows = good.copy()
    rows[1, 0, 2] = [0.5, 0.4, 0.0]
    with pytest.raises(ValueError, match=r"vision layer 1, case 0: .* at head 0, query 2"):
        check_sources({"vision": aw.AttentionData(rows)}, {"vision": False})
    with pytest.raises(ValueError, match=r"text layer 0, case 0: .* attends to a later key"):
        check_sources({"text": aw.AttentionData(good)}, {"text": True})
    causal = np.tril(np.ones((3, 3), dtype=np.float32))
    causal /= causal.sum(axis=1, keepdims=True)
    with pytest.raises(ValueError, match=r"vision layer 0, .* no weight above the diagonal"):
        check_sources({"vision": aw.AttentionData(causal[None, None])}, {"vision": False})
    check_sources({"text": aw.AttentionData(causal[None, None])}, {"text": True})


def test_a_half_precision_model_gets_pixels_of_its_dtype_and_float32_weights() -> None:
    model = mm.vision_model("vit").eval().half()
    picture = mm.image(16, 16, seed=13)
    data = media.extract_media(model, mm.vit_processor(), picture)
    pixels = _pixels(mm.vit_processor(), [picture]).half()
    reference = mm.eager(model, pixel_values=pixels).attentions
    assert data.case_values(0).dtype == np.float32
    for layer, expected in enumerate(reference):
        np.testing.assert_allclose(data.case_values(0)[layer], expected[0].float(), atol=2e-3)
