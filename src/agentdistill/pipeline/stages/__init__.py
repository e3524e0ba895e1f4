"""The pipeline's stages, in the order they run. A new stage is one new file here and one entry in ``STAGES``."""

from agentdistill.pipeline.stages.base import Context, Stage
from agentdistill.pipeline.stages.cot import COT
from agentdistill.pipeline.stages.eval import EVAL
from agentdistill.pipeline.stages.filter import FILTER
from agentdistill.pipeline.stages.generate import GENERATE
from agentdistill.pipeline.stages.report import REPORT
from agentdistill.pipeline.stages.train import TRAIN, TrainedModel

STAGES: tuple[Stage, ...] = (GENERATE, FILTER, TRAIN, COT, EVAL, REPORT)

__all__ = [
    "COT",
    "EVAL",
    "FILTER",
    "GENERATE",
    "REPORT",
    "STAGES",
    "TRAIN",
    "Context",
    "Stage",
    "TrainedModel",
]
