"""Running untrusted model-written Python: stateful per episode, isolated, limited, forkable."""

from ._zygote import SandboxStartError
from .sandbox import Sandbox, SandboxClosed
from .types import ExecError, ExecResult, SandboxConfig

__all__ = ["ExecError", "ExecResult", "Sandbox", "SandboxClosed", "SandboxConfig", "SandboxStartError"]
