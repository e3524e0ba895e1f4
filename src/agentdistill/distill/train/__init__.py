"""Student training: TRL SFT + LoRA (`trainer`), model loading (`model`), chat template (`template`), progress."""

from agentdistill.distill.train.trainer import (
    TrainConfig,
    TrainOutput,
    build_trainer,
    data_fingerprint,
    last_checkpoint,
    prepare_data,
    train,
)

__all__ = [
    "TrainConfig",
    "TrainOutput",
    "build_trainer",
    "data_fingerprint",
    "last_checkpoint",
    "prepare_data",
    "train",
]
