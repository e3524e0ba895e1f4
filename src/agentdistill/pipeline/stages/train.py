"""Stage ``train``: SFT data from the kept records, then training — skipped when inputs and settings match.

It hands the next stages a :class:`TrainedModel`: the model spec to load and the run id that names this
training run (eval results of an earlier model are retired when it changes). ``DONE.json`` keeps the run id,
the model's path relative to the stage folder (no machine path: the file travels in committed snapshots), the
sha256 of its weights and the hash of the inputs (the settings, the seed and the examples the kept records
convert to: not the file's bytes, which a new record field changes), so an unchanged re-run returns them
without training. A build whose weights come out bit-identical to the stamp's keeps its run id, whatever the hash.

Weights are not committed. On a fresh machine the stamp matches but the weights are gone: the stage trains
again from the same kept records, settings and seed. A bit-identical rebuild (same weights sha256) keeps the run
id, so eval rows already scored stay; a rebuild that differs gets a new run id, and eval redoes that model's rows.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from agentdistill.common.files import atomic_write_text, sha256_file
from agentdistill.pipeline.stages.base import Context, Stage, console
from agentdistill.pipeline.stages.filter import FILTER

STAMP = "DONE.json"


@dataclass(frozen=True)
class TrainedModel:
    spec: str  # model spec of the result: ``llamacpp:<gguf>`` or ``hf:<merged dir>``
    run_id: str  # names this training run


_file_sha = sha256_file  # one file-hash helper for the project (common/files.py)


def weights_sha256(path: Path) -> str:
    """sha256 of a model's weights: the file's bytes (GGUF), or of a folder's files by relative name."""
    if path.is_file():
        return _file_sha(path)
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f"{f.relative_to(path).as_posix()}\0{_file_sha(f)}\n".encode())
    return h.hexdigest()


def _runtime(metrics: dict | None) -> float:
    """A build's training seconds: every attempt's (``train_seconds``: a run resumed from a checkpoint counts
    the attempts before the kill too); metrics written before that field existed have HF's last-attempt
    ``train_runtime`` only."""
    m = metrics or {}
    return round(float(m.get("train_seconds") or m.get("train_runtime") or 0.0), 1)


def read_done(train_dir: Path) -> dict | None:
    """The stage's ``DONE.json`` as a dict; None when there is none."""
    stamp = Path(train_dir) / STAMP
    return json.loads(stamp.read_text(encoding="utf-8")) if stamp.is_file() else None


def trained_model(train_dir: Path, done: dict) -> TrainedModel | None:
    """The model a ``DONE.json`` names, its path resolved under ``train_dir``; None when its weights are gone.

    Stamps written before the relative path existed carry an absolute ``model_spec`` instead."""
    if "model_path" in done:
        kind, path = done["model_kind"], Path(train_dir) / done["model_path"]
    else:
        kind, _, raw = str(done["model_spec"]).partition(":")
        path = Path(raw)
    if not path.exists():
        return None
    return TrainedModel(spec=f"{kind}:{path.resolve()}", run_id=done["run_id"])


def _sft_data(kept: Path, train_dir: Path, mode: str) -> Path:
    """The kept records train as they are: TrainConfig converts agent trajectories and CoT records alike
    (distill/sft.py: ``<out_dir>/sft.jsonl``, forced final answers and failed attempts left out)."""
    return kept


class TrainStage(Stage):
    name = "train"
    inputs = ("filter",)
    run_for_dependents = True  # eval needs the trained model's spec and run id

    def run(self, ctx: Context) -> TrainedModel:
        from agentdistill.distill.train import TrainConfig, data_fingerprint, train

        cfg, train_dir = ctx.cfg, ctx.folder(self)
        kept = FILTER.kept(cfg, ctx.work)
        ctx.pool.release()  # free the teacher's memory for training
        t = cfg.train
        tc = TrainConfig(
            **t.model_dump(),
            model=cfg.student.model,
            out_dir=train_dir / "student",
            data=_sft_data(kept, train_dir, cfg.generate.mode),
        )
        # the data is the examples the records convert to, not the file's bytes (a new record field changes those)
        settings = {
            "student": cfg.student.model,
            "train": t.model_dump(),
            "data": data_fingerprint(tc),
            "seed": t.seed,
        }
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
        done = read_done(train_dir)
        same = done is not None and done.get("hash") == digest
        if same:
            assert done is not None
            model = trained_model(train_dir, done)
            if model is not None:
                return model
            console.print(
                f"training run {done['run_id'][:8]}: its weights are not here (weights are not committed); "
                "training again from the same kept records, settings and seed"
            )
        train_dir.mkdir(parents=True, exist_ok=True)
        out = train(tc)
        if out.gguf_path:
            kind, path = "llamacpp", Path(out.gguf_path)
        elif out.merged_dir:
            kind, path = "hf", Path(out.merged_dir)
        else:
            raise RuntimeError(f"training wrote neither a merged model nor a GGUF under {train_dir}")
        sha = weights_sha256(path)
        record = {
            "hash": digest,
            "run_id": uuid.uuid4().hex,
            "model_kind": kind,
            "model_path": path.resolve().relative_to(train_dir.resolve()).as_posix(),
            "weights_sha256": sha,
            "metrics": out.metrics,  # of the weights on disk
            "train_seconds": _runtime(out.metrics),  # every build of this run id, rebuilds included
        }
        identical = done is not None and done.get("weights_sha256") == sha
        # A rebuild (same inputs, weights gone) is the same run only when its weights come out bit-identical. So is
        # a build whose inputs' hash changed but whose weights did not (eval scores weights, nothing else): its
        # eval rows stay, and its hours stay the first build's plus this one's.
        if same or identical:
            assert done is not None
            record = {
                **{k: v for k, v in done.items() if k != "model_spec"},  # old stamps: an absolute path
                **{k: record[k] for k in ("hash", "model_kind", "model_path")},
                "run_id": done["run_id"] if identical else record["run_id"],
                "weights_sha256": sha,
                "metrics": done.get("metrics") if identical else out.metrics,
                "train_seconds": float(done.get("train_seconds") or _runtime(done.get("metrics")))
                + _runtime(out.metrics),
                "rebuilds": [*done.get("rebuilds", []), {"identical": identical, "metrics": out.metrics}],
            }
            console.print(
                "rebuilt bit-identically: same training run, eval rows kept"
                if identical
                else "rebuilt weights differ: a new training run, eval redoes its rows"
            )
        atomic_write_text(train_dir / STAMP, json.dumps(record, indent=2, default=str))
        model = trained_model(train_dir, record)
        assert model is not None
        return model


TRAIN = TrainStage()
