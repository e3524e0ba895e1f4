"""One chat-generation interface (`LLM`) and its backends, handed ready paths and URLs.

Resolving a model spec string to a backend is `agentdistill.models.load_llm`.
"""

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
]
