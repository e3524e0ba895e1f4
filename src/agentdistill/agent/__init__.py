"""The agent part: CodeAct loop, prompts, step parsing, trajectory records, SAG and first-thought prefix."""

from agentdistill.agent.cot import CotResult, extract_answer, run_cot
from agentdistill.agent.first_thought import first_paragraph, first_thought_prefix
from agentdistill.agent.loop import DEFAULT_GEN, run_episode
from agentdistill.agent.parse import ParsedStep, format_step, parse_step
from agentdistill.agent.prompts import STEP_STOP, PromptError, PromptTemplate, load_prompt
from agentdistill.agent.records import (
    Candidate,
    Step,
    Totals,
    Trajectory,
    TrajectoryFormatError,
    TrajectoryWriter,
    iter_trajectories,
    read_trajectories,
)
from agentdistill.agent.sag import vote, vote_key

__all__ = [
    "DEFAULT_GEN",
    "STEP_STOP",
    "Candidate",
    "CotResult",
    "ParsedStep",
    "PromptError",
    "PromptTemplate",
    "Step",
    "Totals",
    "Trajectory",
    "TrajectoryFormatError",
    "TrajectoryWriter",
    "extract_answer",
    "first_paragraph",
    "first_thought_prefix",
    "format_step",
    "iter_trajectories",
    "load_prompt",
    "parse_step",
    "read_trajectories",
    "run_cot",
    "run_episode",
    "vote",
    "vote_key",
]
