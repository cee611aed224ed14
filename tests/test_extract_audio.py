"""Whisper: encoder positions in seconds, decoder tokens, cross-attention; tiny and offline."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import attn_widget as aw  # noqa: E402
from attn_widget.extract import media  # noqa: E402
from attn_widget.media import media_of  # noqa: E402
from tests import media_models as mm  # noqa: E402


@pytest.fixture(scope="module")
def whisper() -> Any:
    return mm.whisper_model().eval()


@pytest.fixture(scope="module")
def processor() -> Any:
    return mm.whisper_processor()


def _features(processor: Any, waves: list[np.ndarray]) -> Any:
    return processor.feature_extractor(
        [w.astype(np.float64) for w in waves], sampling_rate=16000, return_tensors="pt"
    )["input_features"]


def test_encoder_decoder_and_cross_equal_eager_for_a_padded_batch(
    whisper: Any, processor: Any
) -> None:
    waves = [mm.tone(1.0), mm.tone(0.5, hz=220)]
    targets = ["hello world the cat", "a mat"]
    found = media.extract_media(whisper, processor, waves, target=targets)
    assert list(found) == ["encoder", "decoder", "cross"]
    assert found["decoder"].tokens == [
        ["<s>", "hello", "world", "the", "cat"],
        ["<s>", "a", "mat"],
    ]
    ids = torch.zeros((2, 5), dtype=torch.long)
    mask = torch.zeros((2, 5), dtype=torch.long)
    for c, text in enumerate(targets):
        row = [2, *processor.tokenizer(text)["input_ids"]]
        ids[c, : len(row)], mask[c, : len(row)] = torch.tensor(row), 1
    out = mm.eager(
        whisper.model,
        input_features=_features(processor, waves),
        decoder_input_ids=ids,
        decoder_attention_mask=mask,
    )
    fields = {
        "encoder": out.encoder_attentions,
        "decoder": out.decoder_attentions,
        "cross": out.cross_attentions,
    }
    for name, reference in fields.items():
        for case, n in enumerate((5, 3)):
            for layer in range(2):
                expected = reference[layer][case].numpy()
                if name == "decoder":
                    expected = expected[:, :n, :n]
                elif name == "cross":
                    expected = expected[:, :n]
                got = found[name].case_values(case)[layer]
                np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert found["decoder"].is_causal(0) and not found["encoder"].is_causal(0)


def test_positions_are_labelled_in_seconds_with_where_the_audio_ends(
    whisper: Any, processor: Any
) -> None:
    found = media.extract_media(whisper, processor, [mm.tone(1.0), mm.tone(0.5)], target="a dog")
    encoder, cross = found["encoder"], found["cross"]
    assert encoder.tokens[0][:3] == ["0.00s", "0.02s", "0.04s"] and encoder.tokens[0][25] == "0.50s"
    assert cross.tokens[1] == encoder.tokens[1] and cross.query_tokens[1] == ["<s>", "a", "dog"]
    info = encoder.meta["media"]
    assert info["kind"] == "audio" and info["axes"] == ["query", "key"]
    assert info["seconds_per_position"] == pytest.approx(0.02) and info["positions"] == 50
    assert info["duration"] == [1.0, 0.5] and info["audio_positions"] == [50, 25]
    assert cross.meta["media"]["axes"] == ["key"] and "media" not in found["decoder"].meta
    assert info["envelope"] == {"bins": 200, "seconds_per_bin": pytest.approx(0.005)}
    strip = media_of(encoder).envelopes[1]
    assert strip.shape == (200, 2)
    np.testing.assert_allclose(strip[:100, 1], 0.5, atol=0.01)  # the tone's peaks
    np.testing.assert_allclose(strip[:100, 0], -0.5, atol=0.01)
    assert not strip[100:].any()  # after 0.5 s: nothing


def test_a_planted_click_moves_the_encoder_positions_of_its_time(
    whisper: Any, processor: Any
) -> None:
    quiet = mm.tone(1.0) * 0.1
    click = quiet.copy()
    click[6400:6410] += 0.8  # at 0.40 s
    before = media.extract_media(whisper, processor, quiet)["encoder"]
    after = media.extract_media(whisper, processor, click)["encoder"]
    change = np.log(after.case_values(0)[0]) - np.log(before.case_values(0)[0])
    change -= np.median(change, axis=-1, keepdims=True)
    strongest = np.argsort(np.abs(change).sum(axis=(0, 1)))[::-1][:3]
    # Mel frame 40 (0.40 s) reaches encoder positions 19..21 through the two convolutions.
    assert sorted(strongest.tolist()) == [19, 20, 21]
    assert before.tokens[0][20] == "0.40s"


def test_a_generated_transcript_is_teacher_forced_with_generations_own_weights(
    whisper: Any, processor: Any
) -> None:
    wave = mm.tone(1.0)
    found = media.extract_media(whisper, processor, wave, target="transcript", max_new_tokens=4)
    decoder = found["decoder"]
    assert decoder.meta["generated"] is True and decoder.query_tokens[0][0] == "<s>"
    before = whisper.config._attn_implementation
    whisper.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            generated = whisper.generate(
                input_features=_features(processor, [wave]),
                max_new_tokens=4,
                return_dict_in_generate=True,
                output_attentions=True,
            )
    finally:
        whisper.set_attn_implementation(before)
    ids = generated.sequences[0].tolist()
    assert decoder.shape(0) == (len(ids), len(ids))
    assert decoder.raw_tokens[0] == processor.tokenizer.convert_ids_to_tokens(ids)
    for step, layers in enumerate(generated.cross_attentions):
        for layer, weights in enumerate(layers):
            np.testing.assert_allclose(
                found["cross"].case_values(0)[layer][:, step], weights[0, :, -1].numpy(), atol=1e-5
            )


def test_without_a_target_only_the_encoder_runs(whisper: Any, processor: Any) -> None:
    found = media.extract_media(whisper, processor, mm.tone(0.3))
    assert list(found) == ["encoder"] and found["encoder"].shape(0) == (50, 50)
    # A bare feature extractor is enough for the encoder and for a generated transcript.
    bare = mm.whisper_processor(tokenizer=False)
    generated = media.extract_media(
        whisper, bare, mm.tone(0.3), target="transcript", max_new_tokens=3
    )
    assert all(t.startswith("<") for t in generated["decoder"].query_tokens[0])


BAD = [
    (mm.image(16, 16), {}, "got ndarray of shape (16, 16, 3)"),
    ("hello", {}, "got text 'hello'"),
    (np.stack([mm.tone(0.2)] * 2), {}, "for several channels pass one"),
    ((mm.tone(0.2) * 32767).astype(np.int16), {}, "for 16-bit PCM divide by 32768"),
    (mm.tone(0.2), {"sampling_rate": 8000}, "takes audio at 16000 Hz"),
    (mm.tone(1.5), {}, "takes at most 1 s of audio at once"),
    (mm.tone(0.2), {"text": "a dog"}, "takes audio only"),
    (np.array([0.1, np.nan]), {}, "NaN"),
    (np.zeros(0, dtype=np.float32), {}, "no samples"),
]


@pytest.mark.parametrize(("bad", "options", "message"), BAD)
def test_inputs_whisper_cannot_take_are_refused_before_it_runs(
    whisper: Any, processor: Any, bad: Any, options: dict[str, Any], message: str
) -> None:
    calls = mm.count_forwards(whisper)
    try:
        with pytest.raises(ValueError, match="WhisperForConditionalGeneration") as error:
            media.extract_media(whisper, processor, bad, **options)
        assert message in str(error.value)
        assert calls == []
    finally:
        for module in whisper.modules():
            module._forward_pre_hooks.clear()


def test_feature_extractors_and_targets_that_do_not_fit_are_refused(whisper: Any) -> None:
    with pytest.raises(ValueError, match=r"takes 100 mel frames .* makes 3000 .*chunk_length=1"):
        media.extract_media(whisper, mm.whisper_processor(chunk_length=30), mm.tone(0.2))
    bare = mm.whisper_processor(tokenizer=False)
    with pytest.raises(ValueError, match="a transcript text needs a tokenizer"):
        media.extract_media(whisper, bare, mm.tone(0.2), target="a dog")
    with pytest.raises(ValueError, match="target: got 3 targets for 2 waveforms"):
        media.extract_media(
            whisper, mm.whisper_processor(), [mm.tone(0.2)] * 2, target=["a", "b", "c"]
        )
    encoder_only = mm.transformers.WhisperModel(whisper.config)
    with pytest.raises(ValueError, match="WhisperModel has no language-model head"):
        media.extract_media(encoder_only, mm.whisper_processor(), mm.tone(0.2), target="transcript")


def test_audio_is_never_modified_in_place(whisper: Any, processor: Any) -> None:
    wave = mm.tone(0.5)
    tensor = torch.from_numpy(mm.tone(0.4, hz=300).copy())
    kept = wave.copy(), tensor.clone()
    media.extract_media(whisper, processor, [wave, tensor], target="a dog")
    np.testing.assert_array_equal(wave, kept[0])
    assert torch.equal(tensor, kept[1])


def test_widget_save_and_load_keep_the_envelope(
    whisper: Any, processor: Any, tmp_path: Any
) -> None:
    widget = aw.from_model(whisper, processor, mm.tone(0.6), target="a dog")
    assert widget.component == "encoder"
    loaded = aw.load(aw.save(widget, tmp_path / "audio.npz"))
    for name in ("encoder", "cross"):
        np.testing.assert_array_equal(
            media_of(loaded.components[name]).envelopes[0],
            media_of(widget.components[name]).envelopes[0],
        )
        assert loaded.components[name].meta["media"] == widget.components[name].meta["media"]
    assert media_of(loaded.components["decoder"]) is None


def test_lazy_whisper_matches_the_full_weights(whisper: Any, processor: Any) -> None:
    waves = [mm.tone(0.5), mm.tone(0.8)]
    full = media.extract_media(whisper, processor, waves, target=["hello world", "a"])
    lazy = media.extract_media(whisper, processor, waves, target=["hello world", "a"], lazy=True)
    for name in ("encoder", "decoder", "cross"):
        for case in range(2):
            np.testing.assert_allclose(
                lazy[name].matrix(1, 2, case), full[name].matrix(1, 2, case), atol=1e-6
            )
