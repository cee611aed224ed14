"""Golden buffers: one per byte layout of attn_widget.wire, written by Python, read by both sides.

``python -m tests.golden_wire`` (re)writes ``js/tests/golden/``: for each
layout a ``<name>.json`` (the reply's JSON content, its buffer files, and the
values a decoder must find) and its ``<name>.<i>.bin`` buffers.
``tests/test_golden_wire.py`` checks that Python still writes exactly those
bytes, and ``js/tests/golden.test.js`` that the JavaScript codec decodes them
to exactly those values, so the two sides cannot drift apart.
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

import numpy as np

from attn_widget import wire
from attn_widget.data import AttentionData
from attn_widget.media import Media
from attn_widget.payload import view_payload

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "js" / "tests" / "golden"
Case = tuple[dict[str, Any], list[bytes], dict[str, Any]]  # content, buffers, expected


def _values(data: bytes, dtype: str, scale: float) -> list[float]:
    return [float(v) for v in wire.decode(data, dtype, scale)]


def _source() -> AttentionData:
    rng = np.random.default_rng(7)
    cube = rng.random((2, 2, 2, 4, 4)).astype(np.float32)  # layers, cases, heads, q, k
    cube[:, 0, :, :, 3] = 0  # case 0 is padded after 3 tokens: its pad key gets no weight
    cube /= cube.sum(-1, keepdims=True)
    return AttentionData(cube, [list("abc"), ["w", "x", "y", "é中😀"]])


def _payload(budget: int) -> Case:
    """The payload of a 2-case source; the slices a decoder must find, from the source itself."""
    source = _source()
    payload = view_payload({"attention": source}, "attention", budget)
    header = wire.payload_header(payload)
    slices = []
    if header["tier"] == "cube":
        for layer, head, case in ((1, 0, 0), (0, None, 1), (1, 1, 1)):
            values = source.matrix(layer, head, case).ravel()
            slices.append(
                {"id": {"layer": layer, "head": head, "case": case}, "values": values.tolist()}
            )
    return {"type": "payload"}, [payload], {"header": header, "slices": slices}


def _media_payload() -> Case:
    """An image source's payload: the picture (raw RGB) and an envelope as blobs after the cube."""
    source = AttentionData(np.full((1, 1, 1, 2, 2), 0.5, np.float32), ["a", "b"])
    source.meta["media"] = {"kind": "image", "axes": ["query", "key"]}
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    envelope = np.array([[-0.5, 0.25], [0.0, 0.75], [-1.0, 1.0]], dtype=np.float32)
    source.media = Media(images=[image], envelopes=[envelope])
    payload = view_payload({"attention": source}, "attention", 1 << 20)
    header = wire.payload_header(payload)
    expected = {
        "header": header,
        "image": image.ravel().tolist(),
        "envelope": envelope.ravel().tolist(),
    }
    return {"type": "payload"}, [payload], expected


def cases() -> dict[str, Case]:
    """Every layout, by golden file name."""
    tile_exact = np.array([[0.5, 0.25], [0.125, 0.0]], dtype=np.float32)
    # Just over 256 x 256 pooled values: half floats.
    pooled = np.linspace(0.0, 1.0, 257 * 256, dtype=np.float32).reshape(257, 256)
    out: dict[str, Case] = {
        "payload_cube": _payload(1 << 20),
        "payload_half": _payload(400),
        "payload_slices": _payload(8),
        "payload_media": _media_payload(),
    }
    for name, values, factors in (
        ("tile_exact", tile_exact, (1, 1)),
        ("tile_half", pooled, (2, 3)),
    ):
        content, buffers = wire.tile_reply(
            values, (0, values.shape[0], 0, values.shape[1]), factors
        )
        content = {"type": "tile", **content}
        decoded = _values(buffers[0], content["dtype"], content["scale"])
        # Every 97th value and the last (a whole 65,792-value list would be a megabyte of JSON).
        picked = [*range(0, len(decoded), 97), len(decoded) - 1]
        out[name] = (
            content,
            buffers,
            {"count": len(decoded), "samples": [[i, decoded[i]] for i in picked]},
        )
    order = np.array([[2, 0], [1, 2]], dtype=np.int32)
    weights = np.array([[0.75, 0.125], [0.5, 0.25]], dtype=np.float32)
    content, buffers = wire.links_reply(order, weights, 3, 5, 2)
    out["links"] = (
        {"type": "links", **content},
        buffers,
        {
            "order": order.ravel().tolist(),
            "weights": [float(v) for v in weights.ravel()],
        },
    )
    token = np.array([0.1, 0.2, 0.7], dtype=np.float32)
    content, buffers = wire.token_reply(token, "key", 4)
    out["token"] = {"type": "token", **content}, buffers, {"values": [float(v) for v in token]}
    thumbs = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2) / 12
    content, buffers = wire.thumbs_reply(thumbs, 3)
    out["thumbs"] = (
        {"type": "thumbs", **content},
        buffers,
        {
            "heads": 2,
            "values": _values(buffers[0], content["dtype"], content["scale"]),
        },
    )
    content, buffers = wire.regions_reply([[0, 1, 3, 4], [2, 2, 4, 4]], (1, 2))
    out["regions"] = (
        {"type": "regions", **content},
        buffers,
        {"rects": [[0, 1, 3, 4], [2, 2, 4, 4]]},
    )
    base = np.array([[0.5, 0.5], [0.25, 0.75]], dtype=np.float32)
    series = np.arange(2 * 2 * 3, dtype=np.float32).reshape(2, 2, 3) / 11
    content, buffers = wire.overlay_reply("evolution", {"base": base, "series": series}, 0.75, 3)
    out["overlay"] = (
        {"type": "overlay", **content},
        buffers,
        {
            "base": [float(v) for v in base.ravel()],
            "series": [float(v) for v in series.ravel()],
        },
    )
    return out


def token_cases() -> list[list[str]]:
    """Every hostile token and the label both sides must show for it (attn_widget.token_text)."""
    from attn_widget.export.labels import visible_token
    from tests.hostile_strings import HOSTILE_STRINGS

    return [[text, visible_token(text)] for text in HOSTILE_STRINGS]


def write(folder: pathlib.Path = GOLDEN) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    labels = json.dumps({"tokens": token_cases()}, indent=1, ensure_ascii=True)
    (folder / "tokens.text").write_text(labels + "\n")
    for name, (content, buffers, expected) in cases().items():
        files = [f"{name}.{i}.bin" for i in range(len(buffers))]
        for file, data in zip(files, buffers, strict=True):
            (folder / file).write_bytes(data)
        document = {"content": content, "buffers": files, "expected": expected}
        (folder / f"{name}.json").write_text(json.dumps(document, indent=1) + "\n")


if __name__ == "__main__":
    write(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else GOLDEN)
    print(f"wrote {GOLDEN}")
