"""Whisper: encoder positions on a time axis, decoder tokens, and the cross-attention between them.

The feature extractor turns each waveform into mel frames of ``hop_length``
samples (10 ms at 16 kHz); the encoder's second convolution has stride 2, so
each encoder position is two frames: position ``j`` covers
``[j·spp, (j+1)·spp)`` seconds with ``spp = 2·hop_length / sampling_rate``
(0.02 s), and is labelled ``"0.42s"`` (its start). The encoder always sees
its whole window (``2·max_source_positions`` frames, 30 s for real
checkpoints): the padding after the audio is attended to like the audio, so
it stays in the matrices; ``meta["media"]["audio_positions"]`` says where
the audio ends.

``target`` decides what the decoder reads:

* ``None``: no decoder; the encoder's attention only (as for text
  encoder-decoder models);
* ``"transcript"``: the model writes one (greedy ``generate``, at most
  ``max_new_tokens``), which is then read once more, teacher-forced, so each
  transcript token's cross-attention is what the model looked at when it
  wrote it;
* any other text (or a list, one per waveform): that text is teacher-forced
  (the tokenizer of a ``WhisperProcessor`` tokenizes it). A one-item list
  ``["transcript"]`` forces the literal word.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..media import Media
from .images import describe, is_image_like
from .media_capture import capture_once, full_axis, model_name, storage_dtype, with_media

__all__ = ["TRANSCRIPT", "as_waveforms", "envelope", "extract_whisper", "time_label"]

TRANSCRIPT = "transcript"
ENVELOPE_BINS_PER_POSITION = 4  # the waveform strip: 4 columns per encoder position


def time_label(position: int, seconds_per_position: float) -> str:
    return f"{position * seconds_per_position:.2f}s"


def _takes(rate: int) -> str:
    return (
        f"audio (a 1-D float waveform at {rate} Hz: a numpy array or torch tensor, or a list of "
        "them, one case each)"
    )


def _one(value: Any, i: int, name: str, rate: int) -> np.ndarray:
    if is_image_like(value) and not hasattr(value, "ndim"):  # a PIL image
        raise ValueError(f"{name}: takes {_takes(rate)}; got an image ({describe(value)})")
    if not (hasattr(value, "ndim") or isinstance(value, list)):
        raise ValueError(f"{name}: takes {_takes(rate)}; got {describe(value)}")
    if hasattr(value, "detach"):
        array = value.detach().cpu().numpy().copy()
    else:
        try:
            array = np.array(value, copy=True)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name}: takes {_takes(rate)}; got {describe(value)}") from error
    if array.ndim >= 3:
        raise ValueError(
            f"{name}: takes {_takes(rate)}; got {describe(value)} (an image? this is an audio "
            "model)"
        )
    if array.ndim != 1:
        raise ValueError(
            f"{name}: takes {_takes(rate)}; got waveform {i} of shape {array.shape} (for "
            "several channels pass one, e.g. audio[0] or audio.mean(axis=0))"
        )
    if array.dtype.kind != "f":
        raise ValueError(
            f"{name}: takes float waveforms with values in [-1, 1]; got waveform {i} of dtype "
            f"{array.dtype} (for 16-bit PCM divide by 32768)"
        )
    if array.size == 0:
        raise ValueError(f"{name}: got waveform {i} with no samples")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: waveform {i} has NaN or infinite samples")
    return array.astype(np.float32)


def as_waveforms(audio: Any, name: str, rate: int) -> list[np.ndarray]:
    """Every waveform as its own float32 copy (a list of arrays: one case each)."""
    if isinstance(audio, (list, tuple)):
        if not audio:
            raise ValueError(f"{name}: takes {_takes(rate)}; got an empty list")
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in audio):
            return [_one(np.asarray(audio, dtype=np.float64), 0, name, rate)]
        return [_one(v, i, name, rate) for i, v in enumerate(audio)]
    return [_one(audio, 0, name, rate)]


def envelope(wave: np.ndarray, samples_per_bin: float, bins: int) -> np.ndarray:
    """``(bins, 2)`` min and max of the samples in each bin; 0 past the end of the audio."""
    out = np.zeros((bins, 2), dtype=np.float32)
    edges = np.minimum(np.round(np.arange(bins + 1) * samples_per_bin).astype(np.int64), len(wave))
    for b in range(bins):
        lo, hi = edges[b], edges[b + 1]
        if hi > lo:
            out[b] = wave[lo:hi].min(), wave[lo:hi].max()
    return out


def _feature_extractor(processor: Any, name: str) -> Any:
    inner = getattr(processor, "feature_extractor", None)
    if inner is not None:
        return inner
    if "input_features" in (getattr(processor, "model_input_names", None) or ()):
        return processor
    raise ValueError(
        f"{name}: takes audio through its feature extractor (WhisperFeatureExtractor, or a "
        f"WhisperProcessor); got {type(processor).__name__} as the processor"
    )


def _check_features(model: Any, extractor: Any, waves: list[np.ndarray], rate: Any) -> int:
    """The sampling rate, once the waveforms are checked to fit the model (before anything runs)."""
    name, config = type(model).__name__, model.config
    expected_rate = int(extractor.sampling_rate)
    if rate is not None and int(rate) != expected_rate:
        raise ValueError(
            f"{name}: takes audio at {expected_rate} Hz (the feature extractor's sampling_rate); "
            f"got sampling_rate={rate}. Resample it first"
        )
    frames = 2 * int(config.max_source_positions)
    if int(extractor.nb_max_frames) != frames:
        raise ValueError(
            f"{name}: takes {frames} mel frames (2 x config.max_source_positions); the feature "
            f"extractor makes {extractor.nb_max_frames} (chunk_length={extractor.chunk_length}): "
            f"build it with chunk_length={frames * extractor.hop_length / expected_rate:g}"
        )
    if int(extractor.feature_size) != int(config.num_mel_bins):
        raise ValueError(
            f"{name}: takes {config.num_mel_bins} mel bins (config.num_mel_bins); the feature "
            f"extractor makes {extractor.feature_size}"
        )
    for i, wave in enumerate(waves):
        if len(wave) > int(extractor.n_samples):
            raise ValueError(
                f"{name}: takes at most {extractor.n_samples / expected_rate:g} s of audio at once "
                f"({extractor.n_samples} samples); waveform {i} has {len(wave)} "
                f"({len(wave) / expected_rate:.2f} s). Split it; nothing is cut silently"
            )
    return expected_rate


def _targets(target: Any, count: int) -> list[str]:
    texts = [target] if isinstance(target, str) else list(target)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"target: expected a text or a list of texts, got {describe(target)}")
    if len(texts) == 1 and count > 1:
        return texts * count
    if len(texts) != count:
        raise ValueError(f"target: got {len(texts)} targets for {count} waveforms")
    return texts


def _generated(model: Any, features: Any, tokenizer: Any, max_new_tokens: int) -> Any:
    """The transcripts the model writes: an Encoded of start token + generated ids (to EOS)."""
    import torch

    from .inputs import Encoded
    from .tokens import display_tokens

    if not hasattr(model, "generate") or getattr(model, "proj_out", None) is None:
        raise ValueError(
            f"target='transcript': {type(model).__name__} has no language-model head to write one "
            "(use WhisperForConditionalGeneration), or pass the transcript text as target"
        )
    with torch.no_grad():
        out = model.generate(
            input_features=features,
            max_new_tokens=int(max_new_tokens),
            return_dict_in_generate=True,
        )
    eos = getattr(model.generation_config, "eos_token_id", None)
    ends = set(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}
    ids: list[list[int]] = []
    for row in out.sequences.tolist():
        kept = []
        for i, token in enumerate(row):
            kept.append(int(token))
            if i > 0 and token in ends:
                break
        ids.append(kept)
    raw = [_raw_tokens(tokenizer, row) for row in ids]
    tokens = [display_tokens(r, tokenizer) if tokenizer is not None else r for r in raw]
    return Encoded(ids=ids, raw=raw, tokens=tokens)


def _raw_tokens(tokenizer: Any, ids: Sequence[int]) -> list[str]:
    if tokenizer is None:
        return [f"<{i}>" for i in ids]  # no tokenizer came: the ids are all there is
    return [str(t) for t in tokenizer.convert_ids_to_tokens(list(ids))]


def _component_of(base: Any) -> Any:
    encoder = {id(m) for m in base.get_encoder().modules()}
    names: dict[int, str] = {}
    for path, module in base.named_modules():
        if id(module) in encoder:
            names[id(module)] = "encoder"
        elif path.rsplit(".", 1)[-1] == "encoder_attn":
            names[id(module)] = "cross"
        else:
            names[id(module)] = "decoder"
    return lambda module: names.get(id(module), "decoder")


def extract_whisper(
    model: Any,
    processor: Any,
    audio: Any,
    *,
    target: str | Sequence[str] | None = None,
    dtype: Any = "float32",
    lazy: bool = False,
    max_new_tokens: int = 40,
    sampling_rate: int | None = None,
) -> dict[str, Any]:
    """Encoder (positions in seconds), and with a target the decoder and cross-attention."""
    from .inputs import encode
    from .record import Axis, Component, Recorder

    name = type(model).__name__
    storage = storage_dtype(dtype)
    extractor = _feature_extractor(processor, name)
    tokenizer = getattr(processor, "tokenizer", None)
    waves = as_waveforms(audio, name, int(extractor.sampling_rate))
    rate = _check_features(model, extractor, waves, sampling_rate)
    forced = target is not None and not (isinstance(target, str) and target == TRANSCRIPT)
    if forced and tokenizer is None:
        raise ValueError(
            f"target: a transcript text needs a tokenizer; {type(processor).__name__} has "
            "none (pass a WhisperProcessor, or target='transcript' to let the model write one)"
        )
    features = extractor(
        [w.astype(np.float64) for w in waves], sampling_rate=rate, return_tensors="pt"
    )["input_features"]
    parameter = next(model.parameters())
    features = features.to(device=parameter.device, dtype=parameter.dtype)
    positions = int(model.config.max_source_positions)
    spp = 2 * int(extractor.hop_length) / rate
    enc_tokens = [time_label(j, spp) for j in range(positions)]
    cases = len(waves)
    enc_axis = full_axis([enc_tokens] * cases)
    components = {"encoder": Component(enc_axis, enc_axis)}
    components["encoder"].expected_layers = int(model.config.encoder_layers)
    base = getattr(model, "base_model", model)
    inputs: dict[str, Any] = {"input_features": features}
    meta: dict[str, Any] = {"model": model_name(model), "source": "transformers", "input": "audio"}
    if target is None:
        runner = base.get_encoder()
    else:
        if isinstance(target, str) and target == TRANSCRIPT:
            decoded = _generated(model, features, tokenizer, max_new_tokens)
        else:
            accepted = set(inspect.signature(base.forward).parameters)
            vocab = base.get_input_embeddings().num_embeddings
            start = int(model.config.decoder_start_token_id)
            decoded = encode(
                tokenizer,
                _targets(target, cases),
                vocab_size=vocab,
                accepted=accepted,
                target=True,
                prefix_id=start,
                what="target",
            )
        longest = max(decoded.lengths)
        if longest > int(model.config.max_target_positions):
            raise ValueError(
                f"target: {longest} decoder tokens; {name} reads at most "
                f"{model.config.max_target_positions} (config.max_target_positions)"
            )
        pad = model.config.pad_token_id
        tensors = decoded.tensors(int(pad) if isinstance(pad, int) else 0, parameter.device)
        inputs["decoder_input_ids"] = tensors["input_ids"]
        inputs["decoder_attention_mask"] = tensors["attention_mask"]
        inputs["use_cache"] = False
        tgt_axis = Axis.from_mask(tensors["attention_mask"], decoded.tokens, decoded.raw)
        components["decoder"] = Component(tgt_axis, tgt_axis)
        components["cross"] = Component(tgt_axis, enc_axis, cross=True)
        for part in ("decoder", "cross"):
            components[part].expected_layers = int(model.config.decoder_layers)
        runner = base
        if tokenizer is not None:
            meta["target"] = [tokenizer.decode(r, skip_special_tokens=True) for r in decoded.ids]
        if isinstance(target, str) and target == TRANSCRIPT:
            meta["generated"] = True
    if runner is not base:
        inputs = {"input_features": features}
    recorder = Recorder(components, _component_of(base), dtype=storage, lazy=lazy)
    capture_once(model, recorder, lambda: runner(**inputs))
    sources = recorder.result(meta)
    bins = positions * ENVELOPE_BINS_PER_POSITION
    strip = Media(
        envelopes=[envelope(w, rate * spp / ENVELOPE_BINS_PER_POSITION, bins) for w in waves]
    )
    durations = [len(w) / rate for w in waves]
    audio_meta = {
        "kind": "audio",
        "seconds_per_position": spp,
        "positions": positions,
        "sampling_rate": rate,
        "duration": durations,
        "audio_positions": [min(positions, math.ceil(d / spp - 1e-9)) for d in durations],
        "envelope": {"bins": bins, "seconds_per_bin": spp / ENVELOPE_BINS_PER_POSITION},
    }
    media = {
        "encoder": ({**audio_meta, "axes": ["query", "key"]}, strip),
        "cross": ({**audio_meta, "axes": ["key"]}, strip),
    }
    causal = {"encoder": False, "decoder": True, "cross": False}
    return with_media(sources, causal=causal, media=media)
