"""Gold-answer extraction from reference solutions (GSM8K `####`, MATH `\\boxed{}` with nested braces)."""

from __future__ import annotations

# One boxed-answer extractor for the whole project, in grading (re-exported here for the data builders).
from agentdistill.grading.extract import boxed_contents, last_boxed  # noqa: F401


def gsm8k_answer(solution: str) -> str | None:
    """The value after the last `####` of a GSM8K solution, without thousands separators."""
    if "####" not in solution:
        return None
    return solution.rsplit("####", 1)[1].strip().replace(",", "")
