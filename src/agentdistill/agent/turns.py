"""How the loop writes each turn of an episode: system prompt, task, assistant step, observation, error.

``TurnFormat`` is the interface ``run_episode`` uses; ``turn_format(template)`` picks the implementation from
the prompt's header settings: ``format=paper`` (the built-in ``paper`` prompt) gives ``PaperFormat``
(agent/paper_format.py, the turns of the paper's smolagents code); every other prompt (``student``,
``teacher``, a user's file) gives ``PlainFormat``, this project's own turns:

- task: the question as it is;
- assistant: the model's step as generated;
- observation and error: ``"Observation:\\n" + step.observation`` (the sandbox's output, or the parse error).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from agentdistill.agent.prompts import STEP_STOP, PromptTemplate
from agentdistill.agent.records import Step
from agentdistill.data.task import Task
from agentdistill.retrieval.types import Passage


class TurnFormat(Protocol):
    """The text of each turn. ``stop``: stop strings that end an assistant step."""

    name: str
    stop: tuple[str, ...]

    def system(self, *, kind: str, search: bool, max_steps: int, k: int) -> str: ...

    def task(self, task: Task) -> str: ...

    def assistant(self, step: Step) -> str: ...

    def observation(self, step: Step) -> str: ...

    def error(self, step: Step) -> str: ...

    def feedback(self, step: Step) -> str:
        """The user turn after a non-final step: ``error(step)`` if it failed, else ``observation(step)``."""
        ...

    def search_results(self, passages: Sequence[Passage]) -> str: ...

    def wrap_sandbox(self, sandbox: Any) -> Any:
        """The sandbox the loop runs steps in (the paper format wraps it to read the last value)."""
        ...

    def tools(self, search: Callable[[str], str] | None) -> dict[str, Callable[..., Any]]:
        """Tools for the sandbox, by the names the system prompt gives them."""
        ...

    def forced_turns(
        self, messages: list[dict[str, str]], task: Task, request: str
    ) -> tuple[dict[str, str], list[dict[str, str]]]:
        """After ``max_steps`` without an answer: (the user turn that replaces the last one in the record,
        the messages sent to ask for the answer only). ``request``: the loop's own wording."""
        ...


def step_failed(step: Step) -> bool:
    """True when the step did not parse or its code raised (its ``error`` is set)."""
    return step.error is not None or step.error_kind is not None


class PlainFormat:
    """This project's turns (``student``, ``teacher`` and user prompts)."""

    def __init__(self, template: PromptTemplate):
        self.template = template
        self.name = template.name
        self.stop: tuple[str, ...] = STEP_STOP

    def system(self, *, kind: str, search: bool, max_steps: int, k: int) -> str:
        return self.template.render(kind=kind, search=search, max_steps=max_steps, k=k)

    def task(self, task: Task) -> str:
        return task.question

    def assistant(self, step: Step) -> str:
        return step.raw

    def observation(self, step: Step) -> str:
        return f"Observation:\n{step.observation}"

    def error(self, step: Step) -> str:
        return f"Observation:\n{step.observation}"

    def feedback(self, step: Step) -> str:
        return self.error(step) if step_failed(step) else self.observation(step)

    def search_results(self, passages: Sequence[Passage]) -> str:
        from agentdistill.retrieval.tool import format_passages

        return format_passages(passages)

    def wrap_sandbox(self, sandbox: Any) -> Any:
        return sandbox

    def tools(self, search: Callable[[str], str] | None) -> dict[str, Callable[..., Any]]:
        return {self.template.search_tool: search} if search is not None else {}

    def forced_turns(
        self, messages: list[dict[str, str]], task: Task, request: str
    ) -> tuple[dict[str, str], list[dict[str, str]]]:
        # appended to the last observation turn: some chat templates refuse two user turns in a row
        last = {"role": "user", "content": f"{messages[-1]['content']}\n\n{request}"}
        return last, [*messages[:-1], last]


def turn_format(template: PromptTemplate) -> TurnFormat:
    """The turn format a prompt asks for in its header (``format=paper``); plain otherwise."""
    name = template.settings.get("format", "plain")
    if name == "paper":
        from agentdistill.agent.paper_format import PaperFormat

        return PaperFormat(template)
    if name != "plain":
        from agentdistill.agent.prompts import PromptError

        raise PromptError(f"prompt '{template.name}': unknown format={name!r} (known: plain, paper)")
    return PlainFormat(template)
