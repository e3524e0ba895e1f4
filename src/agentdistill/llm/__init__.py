"""One chat-generation interface (`LLM`) and its backends; `load_llm(spec)` picks one from a string."""

from agentdistill.llm.factory import load_llm
from agentdistill.llm.types import (
    LLM,
    Completion,
    GenerationConfig,
    GenerationError,
    GenerationResult,
    Message,
    Usage,
)

__all__ = [
    "LLM",
    "Completion",
    "GenerationConfig",
    "GenerationError",
    "GenerationResult",
    "Message",
    "Usage",
    "load_llm",
]
