"""Stage ``train``: SFT data from the kept records, then training — skipped when inputs and settings match.

It hands the next stages a :class:`TrainedModel`: the model spec to load and the run id that names this
training run (eval results of an earlier model are retired when it changes). ``DONE.json`` keeps both, with the
hash of the inputs, so an unchanged re-run returns them without training.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from agentdistill.common.files import atomic_write_text, sha256_file
from agentdistill.pipeline.stages.base import Context, Stage
from agentdistill.pipeline.stages.filter import FILTER

STAMP = "DONE.json"


@dataclass(frozen=True)
class TrainedModel:
    spec: str  # model spec of the result: ``llamacpp:<gguf>`` or ``hf:<merged dir>``
    run_id: str  # names this training run


_file_sha = sha256_file  # one file-hash helper for the project (common/files.py)


def _sft_data(kept: Path, train_dir: Path, mode: str) -> Path:
    """The kept records train as they are: TrainConfig converts agent trajectories and CoT records alike
    (distill/sft.py: ``<out_dir>/sft.jsonl``, forced final answers and failed attempts left out)."""
    return kept


class TrainStage(Stage):
    name = "train"
    inputs = ("filter",)
    run_for_dependents = True  # eval needs the trained model's spec and run id

    def run(self, ctx: Context) -> TrainedModel:
        from agentdistill.distill.train import TrainConfig, train

        cfg, train_dir = ctx.cfg, ctx.folder(self)
        kept = FILTER.kept(cfg, ctx.work)
        ctx.pool.release()  # free the teacher's memory for training
        t = cfg.train
        settings = {
            "student": cfg.student.model,
            "train": t.model_dump(),
            "data": _file_sha(kept),
            "seed": t.seed,
        }
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
        stamp = train_dir / STAMP
        if stamp.exists():
            done = json.loads(stamp.read_text())
            if done.get("hash") == digest:
                return TrainedModel(spec=done["model_spec"], run_id=done["run_id"])
        train_dir.mkdir(parents=True, exist_ok=True)
        tc = TrainConfig(
            **t.model_dump(),
            model=cfg.student.model,
            out_dir=train_dir / "student",
            data=_sft_data(kept, train_dir, cfg.generate.mode),
        )
        out = train(tc)
        if out.gguf_path:
            spec = f"llamacpp:{Path(out.gguf_path).resolve()}"
        elif out.merged_dir:
            spec = f"hf:{Path(out.merged_dir).resolve()}"
        else:
            raise RuntimeError(f"training wrote neither a merged model nor a GGUF under {train_dir}")
        model = TrainedModel(spec=spec, run_id=uuid.uuid4().hex)
        atomic_write_text(
            stamp,
            json.dumps(
                {"hash": digest, "run_id": model.run_id, "model_spec": spec, "metrics": out.metrics},
                indent=2,
                default=str,
            ),
        )
        return model


TRAIN = TrainStage()
