"""Training killed mid-run resumes from its last checkpoint and ends with a complete merged model."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

EXAMPLE = [
    {"role": "system", "content": "You solve tasks with code."},
    {"role": "user", "content": "What is 2+3?"},
    {"role": "assistant", "content": "Thought: add.\nCode:\n```py\nfinal_answer(2+3)\n```"},
]

SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from agentdistill.distill.train import TrainConfig, train

    model, data, out = sys.argv[1:4]
    cfg = TrainConfig(model=model, data=Path(data), out_dir=Path(out), lora_r=8, lora_alpha=16,
                      learning_rate=2e-3, warmup_ratio=0.0, lr_scheduler="constant", effective_batch=1,
                      max_seq_len=128, save_steps=1, max_steps=6, progress=False)
    result = train(cfg)
    keys = ("resumed_from", "global_step", "losses", "train_seconds", "train_runtime", "attempts")
    print(json.dumps({**{k: result.metrics[k] for k in keys}, "merged": str(result.merged_dir)}))
""")


def test_train_killed_after_a_checkpoint_resumes(tiny_hf_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "sft.jsonl"
    data.write_text("".join(json.dumps({"messages": EXAMPLE}) + "\n" for _ in range(6)))
    script, out = tmp_path / "train.py", tmp_path / "run"
    script.write_text(SCRIPT)
    cmd = [sys.executable, str(script), str(tiny_hf_dir), str(data), str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 600
    while (
        time.time() < deadline and proc.poll() is None and not (out / "checkpoints" / "checkpoint-2").is_dir()
    ):
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()[1][-3000:]
    time.sleep(0.5)  # let checkpoint-2 finish or not: either way resume must pick a whole checkpoint
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "merged").exists()  # killed before the merge: no half model dir under the final name
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["resumed_from"] and Path(result["resumed_from"]).name.startswith("checkpoint-")
    assert int(Path(result["resumed_from"]).name.split("-")[1]) >= 1
    assert result["global_step"] == 6
    # the metrics cover the whole run, not only the attempt after the kill: every step's loss, and the wall
    # clock of both attempts (HF's train_runtime is the last attempt's; the killed one ran >= 2 steps)
    assert len(result["losses"]) == 6
    assert result["attempts"] == 2 and result["train_seconds"] > result["train_runtime"]
    clock = json.loads((out / "train_clock.json").read_text())
    assert clock["finished"] and clock["attempts"] == 2
    merged = Path(result["merged"])
    assert (merged / "config.json").is_file() and any(merged.glob("*.safetensors"))
    assert not list(out.glob(".merged.tmp-*"))  # the temporary dir was renamed, not left behind
    saved = json.loads((out / "train_config.json").read_text())
    assert len(saved["examples_sha256"]) == 64

    # the data changes under the same path (a re-filtered kept set): the old checkpoints are another run's —
    # they are moved aside and training starts again, not "resumed" at its last step with the old weights
    other = [dict(m) for m in EXAMPLE]
    other[2] = {"role": "assistant", "content": "Thought: add.\nCode:\n```py\nfinal_answer(5)\n```"}
    data.write_text("".join(json.dumps({"messages": other}) + "\n" for _ in range(6)))
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    result = json.loads(again.stdout.strip().splitlines()[-1])
    assert result["resumed_from"] is None and result["global_step"] == 6
    assert result["attempts"] == 1  # another run: the old run's clock is not continued
    assert list(out.glob("checkpoints.stale-*"))  # kept aside, not deleted
    assert json.loads((out / "train_config.json").read_text())["examples_sha256"] != saved["examples_sha256"]
