"""The paper's turn format, so that the students released with the paper run unchanged.

Source: the authors' code, GitHub ``Nardien/agent-distillation`` (smolagents 1.13 ``CodeAgent``, Apache-2.0):
``src/smolagents/memory.py`` (``TaskStep``/``ActionStep.to_messages``), ``agents.py`` (``CodeAgent.step``:
call ids, the observation text), ``default_tools.py`` (``WikipediaRetrieverTool``: the ``web_search`` tool
and its result layout), ``prompts/code_agent.yaml`` (``system_prompt_short``, the student prompt: our
``prompts/paper.j2``), ``exps_research/unified_framework/processors/agent.py`` (the answer-format line
appended to every question) and ``exps_research/train_utils/preprocess.py`` (how logs become chats: the
"Calling tools:" messages dropped, tool responses become user turns, same-role messages joined).

Turns, as the students saw them in training (``N`` is the 1-based step number):

- task: ``"New task:\\n" + question + ANSWER_FORMAT``;
- assistant: the reply, stripped, with ``<end_code>`` appended when it ends with a closing fence;
- observation: ``"Call id: call_N\\nObservation:\\nExecution logs:\\n" + printed output +
  "Last output from code snippet:\\n" + str(value of the last statement)``;
- error: ``"Call id: call_N\\nError:\\n" + message + "\\n" + RETRY + "\\n"``, preceded by the printed output in
  the observation layout when the failing code printed something; a reply without code has no call id;
- forced answer after ``max_steps`` (``CodeAgent.provide_final_answer``): the system prompt replaced by
  ``FINAL_ANSWER_PRE``, the memory kept, and ``FINAL_ANSWER_POST + question`` joined to the last user turn;
- search result: ``"\\nRetrieved documents:"`` then per document
  ``"\\n\\n===== Document i, similarity: s.ss =====\\n" + '"Title"\\ntext'`` (i from 0).

"The value of the last statement" follows smolagents' interpreter: an expression's value, an assignment's
value, else ``None``. Our sandbox runs real Python, so ``LastValueSandbox`` reads it by sending it to a hidden
host-side tool appended to the step's code (same line numbers; the call is removed from the step's record).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from typing import Any

from agentdistill.agent.prompts import PromptTemplate
from agentdistill.agent.records import Step
from agentdistill.agent.turns import PlainFormat, step_failed
from agentdistill.data.task import Task
from agentdistill.retrieval.types import Passage

# Protocol strings the released students were trained on (their code's wording: format, not prose of ours).
ANSWER_FORMAT = (
    "\n\nIMPORTANT: Always provide a 'Thought:' sequence, and a 'Code:\n```py' sequence ending with "
    "'```<end_code>' sequence, else you will fail. For math problems that are not multiple-choice, always "
    "output the final answer using LaTeX \\boxed{} format. Provide the exact value (e.g., "
    "\\boxed{\\frac{9}{14}}), not a decimal approximation (e.g., \\boxed{0.642857})."
)
RETRY = (
    "Now let's retry: take care not to repeat previous errors! If you have retried several times, "
    "try a completely different approach."
)
FINAL_ANSWER_PRE = (
    "An agent tried to answer a user query but it got stuck and failed to do so. You are tasked with providing "
    "an answer instead. Here is the agent's memory:"
)
FINAL_ANSWER_POST = "Based on the above, please provide an answer to the following user task:\n"
PAPER_STOP: tuple[str, ...] = ("<end_code>", "Observation:", "Calling tools:")
PARSE_ERROR_KINDS = ("empty", "no_code", "empty_code")  # no code to run: smolagents' AgentParsingError
MAX_CHARS = 20_000  # smolagents' truncate_content limit for the last value
LAST_TOOL = "_agentdistill_last_value"


def truncate_content(text: str, max_chars: int = MAX_CHARS) -> str:
    """Head and tail of ``text`` around a marker, as smolagents cuts long outputs."""
    if len(text) <= max_chars:
        return text
    return (
        text[: max_chars // 2]
        + f"\n..._This content has been truncated to stay below {max_chars} characters_...\n"
        + text[-max_chars // 2 :]
    )


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
    """The paper's turns (module docstring). The system prompt is the template (``prompts/paper.j2``)."""

    def __init__(self, template: PromptTemplate):
        super().__init__(template)
        self.stop = PAPER_STOP

    def task(self, task: Task) -> str:
        return f"New task:\n{task.question}{ANSWER_FORMAT}"

    def assistant(self, step: Step) -> str:
        text = step.raw.strip()
        return text + "<end_code>" if text.endswith("```") else text

    def _logs(self, step: Step) -> str:
        return f"Call id: {call_id(step)}\nObservation:\nExecution logs:\n{step.stdout}"

    def observation(self, step: Step) -> str:
        last = truncate_content(step.last_value if step.last_value is not None else "None")
        return f"{self._logs(step)}Last output from code snippet:\n{last}"

    def error(self, step: Step) -> str:
        if step.error_kind in PARSE_ERROR_KINDS:  # no code: no tool call, so no call id
            return f"Error:\nError in code parsing:\n{step.error}\nMake sure to provide correct code blobs.\n{RETRY}\n"
        if step.error_kind == "syntax":
            message = f"Code parsing failed due to: {step.error}"
        else:
            where = f" at line '{step.error_line}'" if step.error_line else ""
            message = f"Code execution failed{where} due to: {step.error}"
        logs = self._logs(step) if step.stdout else ""
        return f"{logs}Call id: {call_id(step)}\nError:\n{message}\n{RETRY}\n"

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
        last = {"role": "user", "content": messages[-1]["content"] + FINAL_ANSWER_POST + task.question}
        return last, [{"role": "system", "content": FINAL_ANSWER_PRE}, *messages[1:-1], last]

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
    except (SyntaxError, ValueError):
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
