"""The paper's turn format, so that the students released with the paper run unchanged.

The layout follows the authors' code, GitHub ``Nardien/agent-distillation`` (smolagents 1.13 ``CodeAgent``,
Apache-2.0): ``src/smolagents/memory.py`` (``TaskStep``/``ActionStep.to_messages``), ``agents.py``
(``CodeAgent.step``: call ids, the observation layout; ``provide_final_answer``), ``default_tools.py``
(``WikipediaRetrieverTool``: the ``web_search`` result layout), ``exps_research/unified_framework/processors/
agent.py`` (a line appended to every question) and ``exps_research/train_utils/preprocess.py`` (how logs become
chats: the "Calling tools:" messages dropped, tool responses become user turns, same-role messages joined).
The sentences are this project's own: they are the strings the prompt template sets (``prompts/paper.j2``,
read with ``PromptTemplate.strings``; a user's template may set any of ``STRINGS`` to other text, e.g. the
authors' exact wording, and keeps the built-in text for the others).

Turns (``N`` is the 1-based step number; ``{name}`` is the string of that name):

- task: ``"New task:\\n" + question + "\\n\\n" + {answer_format}`` (no line when ``answer_format`` is empty);
- assistant: the reply, stripped, with ``<end_code>`` appended when it ends with a closing fence;
- observation: ``"Call id: call_N\\nObservation:\\nExecution logs:\\n" + printed output +
  "Last output from code snippet:\\n" + str(value of the last statement)`` (a value over ``MAX_CHARS`` keeps
  its head and tail around ``"\\n" + {truncated} + "\\n"``);
- error: ``"Call id: call_N\\nError:\\n" + message + "\\n" + {retry} + "\\n"``, preceded by the printed
  output in the observation layout when the failing code printed something; the message is ``{exec_error_at}``,
  ``{exec_error}`` or ``{syntax_error}``; a reply without code gets ``"Error:\\n" + {parse_error} + "\\n" +
  {retry} + "\\n"`` (no call id: no tool was called);
- forced answer after ``max_steps``: system ``{final_answer_system}``, the episode's turns, and
  ``{final_answer_request} + "\\n" + question`` joined to the last user turn;
- search result: ``"\\nRetrieved documents:"`` then per document
  ``"\\n\\n===== Document i, similarity: s.ss =====\\n" + '"Title"\\ntext'`` (i from 0).

"The value of the last statement" follows smolagents' interpreter: an expression's value, an assignment's
value, else ``None``. Our sandbox runs real Python, so ``LastValueSandbox`` reads it by sending it to a hidden
host-side tool appended to the step's code (same line numbers; the call is removed from the step's record).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from typing import Any

from agentdistill.agent.parse_python import COMPILE_ERRORS
from agentdistill.agent.prompts import PromptError, PromptTemplate, load_prompt
from agentdistill.agent.records import Step
from agentdistill.agent.turns import PlainFormat, step_failed
from agentdistill.data.task import Task
from agentdistill.retrieval.types import Passage

# The turn strings a paper-format template sets, with the placeholders each must contain.
STRINGS: dict[str, tuple[str, ...]] = {
    "answer_format": (),
    "retry": (),
    "parse_error": ("error",),
    "syntax_error": ("error",),
    "exec_error_at": ("line", "error"),
    "exec_error": ("error",),
    "truncated": ("max_chars",),
    "final_answer_system": (),
    "final_answer_request": (),
}
PAPER_STOP: tuple[str, ...] = ("<end_code>", "Observation:", "Calling tools:")
PARSE_ERROR_KINDS = ("empty", "no_code", "empty_code")  # no code to run: smolagents' AgentParsingError
MAX_CHARS = 20_000  # smolagents' truncate_content limit for the last value
LAST_TOOL = "_agentdistill_last_value"
_PLACEHOLDER = re.compile(r"\{(error|line|max_chars)\}")


def turn_strings(template: PromptTemplate) -> dict[str, str]:
    """``STRINGS`` as ``template`` sets them, the built-in ``paper`` prompt's text for those it does not set.

    Raises ``PromptError`` (naming the prompt and the string) for a value that is not text or lacks a placeholder.
    """
    builtin = load_prompt("paper")
    found = builtin.strings() if template is builtin else {**builtin.strings(), **template.strings()}
    out: dict[str, str] = {}
    for name, needs in STRINGS.items():
        value = found.get(name)
        if not isinstance(value, str):
            raise PromptError(
                f"prompt '{template.name}': string '{name}' must be text, got {type(value).__name__}"
            )
        missing = [f"{{{p}}}" for p in needs if f"{{{p}}}" not in value]
        if missing:
            raise PromptError(f"prompt '{template.name}': string '{name}' must contain {', '.join(missing)}")
        out[name] = value
    return out


def fill(text: str, **values: object) -> str:
    """``text`` with ``{error}``, ``{line}``, ``{max_chars}`` replaced in one pass (values are not re-read)."""
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), text)


def truncate_content(text: str, marker: str, max_chars: int = MAX_CHARS) -> str:
    """Head and tail of ``text`` around ``marker`` (``{max_chars}`` filled in), as smolagents cuts long outputs."""
    if len(text) <= max_chars:
        return text
    return text[: max_chars // 2] + f"\n{fill(marker, max_chars=max_chars)}\n" + text[-max_chars // 2 :]


def call_id(step: Step) -> str:
    return f"call_{step.index + 1}"


def paper_passages(passages: Sequence[Passage]) -> str:
    """The ``web_search`` result: a header, then one block per document (wiki-18 ``contents`` layout)."""
    blocks = [
        f"\n\n===== Document {i}, similarity: {p.score:.2f} =====\n" + f'"{p.title}"\n{p.text}'
        for i, p in enumerate(passages)
    ]
    return "\nRetrieved documents:" + "".join(blocks)


class PaperFormat(PlainFormat):
    """The paper's turns (module docstring): the system prompt is the template, the strings its ``STRINGS``."""

    def __init__(self, template: PromptTemplate):
        super().__init__(template)
        self.stop = PAPER_STOP
        self.strings = turn_strings(template)

    def task(self, task: Task) -> str:
        line = self.strings["answer_format"]
        return f"New task:\n{task.question}" + (f"\n\n{line}" if line else "")

    def assistant(self, step: Step) -> str:
        text = step.raw.strip()
        return text + "<end_code>" if text.endswith("```") else text

    def _logs(self, step: Step) -> str:
        return f"Call id: {call_id(step)}\nObservation:\nExecution logs:\n{step.stdout}"

    def observation(self, step: Step) -> str:
        value = step.last_value if step.last_value is not None else "None"
        return f"{self._logs(step)}Last output from code snippet:\n{truncate_content(value, self.strings['truncated'])}"

    def error(self, step: Step) -> str:
        s, retry = self.strings, self.strings["retry"]
        if step.error_kind in PARSE_ERROR_KINDS:  # no code: no tool call, so no call id
            return f"Error:\n{fill(s['parse_error'], error=step.error)}\n{retry}\n"
        if step.error_kind == "syntax":
            message = fill(s["syntax_error"], error=step.error)
        elif step.error_line:
            message = fill(s["exec_error_at"], line=step.error_line, error=step.error)
        else:
            message = fill(s["exec_error"], error=step.error)
        logs = self._logs(step) if step.stdout else ""
        return f"{logs}Call id: {call_id(step)}\nError:\n{message}\n{retry}\n"

    def feedback(self, step: Step) -> str:
        return self.error(step) if step_failed(step) else self.observation(step)

    def search_results(self, passages: Sequence[Passage]) -> str:
        return paper_passages(passages)

    def wrap_sandbox(self, sandbox: Any) -> Any:
        return LastValueSandbox(sandbox)

    def forced_turns(
        self, messages: list[dict[str, str]], task: Task, request: str
    ) -> tuple[dict[str, str], list[dict[str, str]]]:
        """smolagents' final-answer call: its own system message, the memory, the task (no answer-format
        line) joined to the last user turn as their message cleaning joins same-role turns."""
        ask = f"{self.strings['final_answer_request']}\n{task.question}"
        last = {"role": "user", "content": messages[-1]["content"] + ask}
        return last, [
            {"role": "system", "content": self.strings["final_answer_system"]},
            *messages[1:-1],
            last,
        ]

    def tools(self, search: Callable[[str], str] | None) -> dict[str, Callable[..., Any]]:
        tools = super().tools(search)
        tools[LAST_TOOL] = LastValueSink()
        return tools


# -- the last statement's value -------------------------------------------------------------------------


class LastValueSink:
    """Host-side tool the rewritten code sends ``str(last value)`` to."""

    __name__ = LAST_TOOL

    def __init__(self) -> None:
        self.value: str | None = None

    def __call__(self, value: object = None) -> None:
        self.value = value if isinstance(value, str) else str(value)


def _col(line: str, byte_offset: int) -> int:
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8", "replace"))


def with_last_value(code: str) -> tuple[str, dict[str, str]]:
    """``code`` with its last statement's value sent to ``LAST_TOOL``; and {rewritten line: original line}.

    An expression ``e`` becomes ``LAST_TOOL(str(e))`` in place (line numbers unchanged; the mapping lets an
    error message show the model's own line); an assignment to a name ``x`` is followed by a new last line
    ``LAST_TOOL(str(x))``. Anything else (and code that does not parse) is returned as it is.
    """
    try:
        tree = ast.parse(code)
    except COMPILE_ERRORS:
        return code, {}
    if not tree.body:
        return code, {}
    last = tree.body[-1]
    lines = code.split("\n")
    if last.end_lineno is None or last.end_col_offset is None:
        return code, {}
    first, end = last.lineno - 1, last.end_lineno - 1
    if isinstance(last, ast.Expr):
        original = {first: lines[first], end: lines[end]}
        start_col, end_col = _col(lines[first], last.col_offset), _col(lines[end], last.end_col_offset)
        lines[end] = f"{lines[end][:end_col]})){lines[end][end_col:]}"
        lines[first] = f"{lines[first][:start_col]}{LAST_TOOL}(str({lines[first][start_col:]}"
        return "\n".join(lines), {lines[i]: text for i, text in original.items()}
    target = None
    if isinstance(last, ast.Assign) and len(last.targets) == 1:
        target = last.targets[0]
    elif isinstance(last, ast.AugAssign | ast.AnnAssign) and last.value is not None:
        target = last.target
    if isinstance(target, ast.Name):
        lines.insert(end + 1, f"{LAST_TOOL}(str({target.id}))")
        return "\n".join(lines), {}
    return code, {}


class LastValueSandbox:
    """A sandbox whose ``run`` also reports the last statement's value as ``result.last_value`` (str or None).

    Needs ``LastValueSink`` among the sandbox's tools (``PaperFormat.tools``). ``fork``/``adopt`` pass through,
    so SAG forks report it too; other attributes are the wrapped sandbox's.
    """

    def __init__(self, inner: Any):
        self.inner = inner
        sink = getattr(inner, "tools", {}).get(LAST_TOOL)
        if not isinstance(sink, LastValueSink):
            raise ValueError(f"LastValueSandbox: the sandbox has no {LAST_TOOL} tool (use PaperFormat.tools)")
        self.sink = sink

    def run(self, code: str) -> Any:
        self.sink.value = None
        rewritten, originals = with_last_value(code)
        result = self.inner.run(rewritten)
        if result.error is not None and result.error.text:  # show the model's line, not the rewritten one
            for new, old in originals.items():
                if new.strip() and new.strip() in result.error.text:
                    result.observation = result.observation.replace(result.error.text, old.strip())
                    result.error.text = result.error.text.replace(new.strip(), old.strip())
        result.tool_calls = [c for c in result.tool_calls if c.get("name") != LAST_TOOL]
        result.last_value = self.sink.value if result.error is None and not result.has_final_answer else None
        return result

    def fork(self) -> LastValueSandbox:
        return LastValueSandbox(self.inner.fork())

    def adopt(self, child: LastValueSandbox) -> None:
        self.inner.adopt(child.inner if isinstance(child, LastValueSandbox) else child)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
