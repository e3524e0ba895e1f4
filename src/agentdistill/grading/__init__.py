"""Graders: HotpotQA EM/F1 (+ cover-EM), math equivalence (math-verify + numeric), optional LLM judge."""

from agentdistill.grading.grader import grade
from agentdistill.grading.math import grade_math
from agentdistill.grading.qa import grade_qa, normalize_answer
from agentdistill.grading.types import Grade

__all__ = ["Grade", "LLMJudge", "grade", "grade_math", "grade_qa", "normalize_answer"]


def __getattr__(name: str):  # the judge pulls in the llm part only when asked for
    if name == "LLMJudge":
        from agentdistill.grading.judge import LLMJudge

        return LLMJudge
    raise AttributeError(name)
