"""The CodeAct loop (DESIGN.md §3): system prompt, task, then thought + code steps run in one sandbox.

Each step is one generation call (n candidates with SAG), parsed leniently and executed; its observation goes
back as ``"Observation:\\n..."`` in the next user turn. Every code block of a step runs, in order, as one
action (the parser joins them). The loop stops at ``final_answer`` (status ``answered``) or after ``max_steps``.
Then, as the paper's agent does (smolagents' ``provide_final_answer``), one more turn asks for the answer only
(``force_final_answer``, on by default): its reply is recorded as a last step with ``forced=True``, the
trajectory gets ``forced_final_answer=True`` (status ``answered`` when an answer was read from the reply, else
``max_steps``). Graders count it; reports show accuracy with and without it; filter and SFT never train on it.
A parse failure costs a step: the model is told precisely what was wrong. Backend or sandbox failures end the episode with status ``error`` and a message —
a batch run keeps going and the record says why.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import time
from collections.abc import Callable
from typing import Any

from agentdistill.agent.cot import extract_answer
from agentdistill.agent.prompts import STEP_STOP, PromptTemplate, load_prompt
from agentdistill.agent.records import Step, Totals, Trajectory
from agentdistill.agent.sag import StepOutcome, run_sag, run_single
from agentdistill.agent.sampling import generate_candidates
from agentdistill.agent.settings import MAX_STEPS, MAX_TOKENS, SAG_N, SAG_TEMPERATURE, SAG_TOP_P, SEARCH_K
from agentdistill.agent.turns import TurnFormat, turn_format
from agentdistill.data.task import Task
from agentdistill.llm.types import LLM, ContextOverflowError, GenerationConfig, Message
from agentdistill.sandbox.types import SandboxConfig

DEFAULT_GEN = GenerationConfig(max_tokens=MAX_TOKENS, temperature=0.0, stop=STEP_STOP)
NO_OUTPUT = "(no output: print() what you need to see, or call final_answer(...))"
FORCED_ANSWER_REQUEST = (
    "You have used all {max_steps} steps without calling final_answer. Based on the above, give the final "
    "answer to the task:\n{question}\nReply with the answer only: no explanation, no code."
)
FORCED_MAX_TOKENS = 64  # "the answer only": a short line; keeps the extra turn cheap
_FINAL_CALL = re.compile(r"final_answer\((?P<arg>.*)\)\s*$", re.DOTALL)


def _search_tool(retriever: Any, k: int, formatter: Callable[..., str] | None = None) -> Callable[[str], str]:
    if hasattr(retriever, "search"):
        from agentdistill.retrieval.tool import SearchTool

        return SearchTool(retriever, k=k, formatter=formatter)
    if callable(retriever):  # already a tool: query -> str
        return retriever
    raise TypeError(f"retriever must have .search(query, k) or be callable, got {type(retriever).__name__}")


def _sandbox_config(config: SandboxConfig | None, kind: str) -> SandboxConfig:
    config = config or SandboxConfig()
    if config.imports == "default":  # import preset by task kind unless the caller chose one
        config = dataclasses.replace(config, imports=kind)
    return config


def _observation(outcome: StepOutcome) -> str:
    if not outcome.parsed.ok:
        return f"Error: {outcome.parsed.error}"
    assert outcome.result is not None
    if outcome.result.has_final_answer:
        return outcome.result.observation
    return outcome.result.observation or NO_OUTPUT


def _make_step(index: int, prefix: str, raws: list, outcome: StepOutcome, usage: Any, seconds: float) -> Step:
    parsed, result = outcome.parsed, outcome.result
    raw = raws[outcome.winner]
    error_kind, error = parsed.error_kind, parsed.error
    if result is not None and result.error is not None:
        error_kind, error = result.error.kind, f"{result.error.type}: {result.error.message}"
    return Step(
        index=index,
        raw=raw.raw,
        thought=parsed.thought,
        code=parsed.code,
        observation=_observation(outcome),
        error_kind=error_kind,
        error=error,
        final_answer=result.final_answer if result is not None else None,
        stdout=result.stdout if result is not None else "",
        last_value=getattr(result, "last_value", None),
        error_line=result.error.text if result is not None and result.error is not None else None,
        has_final_answer=bool(result is not None and result.has_final_answer),
        prefix=prefix,
        finish_reason=raw.finish_reason,
        prompt_tokens=usage.prompt_tokens,
        cached_prompt_tokens=usage.cached_prompt_tokens,
        tokens=usage.completion_tokens,
        gen_seconds=usage.seconds,
        exec_seconds=outcome.exec_seconds,
        seconds=seconds,
        tool_calls=list(result.tool_calls) if result is not None else [],
        n_candidates=len(raws),
        n_valid=sum(c.valid for c in outcome.candidates)
        if outcome.candidates
        else int(parsed.ok and result is not None and result.error is None),
        winner=outcome.winner,
        candidates=outcome.candidates,
    )


def forced_answer(reply: str) -> str | int | float | None:
    """The answer in a forced final-answer reply: a literal ``final_answer(...)`` argument, else the last
    ``\\boxed{}`` / "the answer is ..." phrase, else the last non-empty line (``cot.extract_answer``).
    Code fences and ``Thought:``/``Answer:`` labels are removed first. None for an empty reply."""
    text = reply.replace("<end_code>", "").strip()
    text = re.sub(r"^```[A-Za-z0-9_+-]*[ \t]*$", "", text, flags=re.MULTILINE).strip()
    for line in reversed(text.splitlines()):
        m = _FINAL_CALL.search(line.strip())
        if m:
            try:
                value = ast.literal_eval(m.group("arg").strip())
            except (ValueError, SyntaxError):
                break
            return value if isinstance(value, str | int | float) else str(value)
    text = re.sub(r"^\s*(?:final\s+)?(?:answer|thought)\s*:\s*", "", text, flags=re.IGNORECASE)
    answer = extract_answer(text) if text else None
    answer = (answer or "").strip().rstrip(".").strip()
    return answer or None


def _forced_step(
    index: int,
    llm: LLM,
    messages: list[Message],
    gen: GenerationConfig,
    task: Task,
    max_steps: int,
    fmt: TurnFormat | None = None,
) -> Step:
    """Ask once for the answer only (no step stop strings, ``n=1``, greedy unless the episode samples)."""
    start = time.perf_counter()
    request = FORCED_ANSWER_REQUEST.format(max_steps=max_steps, question=task.question)
    # plain: appended to the last observation turn (some chat templates refuse two user turns in a row);
    # paper: smolagents' final-answer call (agent/paper_format.py)
    messages[-1], sent = (fmt or turn_format(load_prompt("student"))).forced_turns(messages, task, request)
    config = dataclasses.replace(gen, n=1, stop=(), max_tokens=min(gen.max_tokens, FORCED_MAX_TOKENS))
    raws, usage = generate_candidates(llm, sent, config)
    reply = raws[0].raw
    answer = forced_answer(reply)
    return Step(
        index=index,
        raw=reply,
        final_answer=answer,
        has_final_answer=answer is not None,
        forced=True,
        finish_reason=raws[0].finish_reason,
        prompt_tokens=usage.prompt_tokens,
        cached_prompt_tokens=usage.cached_prompt_tokens,
        tokens=usage.completion_tokens,
        gen_seconds=usage.seconds,
        seconds=time.perf_counter() - start,
    )


def _totals(steps: list[Step], seconds: float) -> Totals:
    """Token and time totals over every call; step, parse-failure and error counts over agent steps only
    (the forced final-answer turn is one more call, not an agent step)."""
    agent_steps = [s for s in steps if not s.forced]
    return Totals(
        steps=len(agent_steps),
        prompt_tokens=sum(s.prompt_tokens for s in steps),
        cached_prompt_tokens=sum(s.cached_prompt_tokens for s in steps),
        completion_tokens=sum(s.tokens for s in steps),
        gen_seconds=sum(s.gen_seconds for s in steps),
        exec_seconds=sum(s.exec_seconds for s in steps),
        seconds=seconds,
        parse_failures=sum(s.error_kind in ("empty", "no_code", "empty_code", "syntax") for s in agent_steps),
        exec_errors=sum(
            s.error_kind is not None and s.error_kind not in ("empty", "no_code", "empty_code", "syntax")
            for s in agent_steps
        ),
    )


def run_episode(
    task: Task,
    llm: LLM,
    *,
    retriever: Any = None,
    prompt: str | PromptTemplate = "student",
    max_steps: int = MAX_STEPS,
    gen: GenerationConfig | None = None,
    sag_n: int = SAG_N,
    sag_temperature: float = SAG_TEMPERATURE,
    sag_top_p: float = SAG_TOP_P,
    prefix: str | None = None,
    sandbox_config: SandboxConfig | None = None,
    k: int = SEARCH_K,
    on_step: Callable[[Step], None] | None = None,
    force_final_answer: bool = True,
) -> Trajectory:
    """Run one task to ``final_answer`` or ``max_steps``; return its full trajectory record.

    ``retriever``: a ``Retriever`` (wrapped in ``SearchTool(k=k)``) or a ready ``query -> str`` tool; without
    one the prompt offers no search tool. ``sag_n > 1`` samples that many candidates per step with
    ``sag_temperature``/``sag_top_p``. ``prefix`` (first-thought prefix) starts the first assistant turn.
    ``force_final_answer``: after ``max_steps`` without an answer, ask once more for the answer only (see the
    module docstring); the trajectory is then marked ``forced_final_answer``.
    """
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    if sag_n < 1:
        raise ValueError(f"sag_n must be >= 1, got {sag_n}")
    from agentdistill.sandbox import Sandbox

    template = prompt if isinstance(prompt, PromptTemplate) else load_prompt(prompt)
    fmt = turn_format(template)  # the turns' text: plain, or the paper's (agent/turns.py)
    gen = gen or dataclasses.replace(DEFAULT_GEN, stop=fmt.stop)
    if not gen.stop:
        gen = dataclasses.replace(gen, stop=fmt.stop)
    if sag_n > 1:
        gen = dataclasses.replace(gen, n=sag_n, temperature=sag_temperature, top_p=sag_top_p)
    system = fmt.system(kind=task.kind, search=retriever is not None, max_steps=max_steps, k=k)
    messages: list[Message] = [
        {"role": "system", "content": system},
        {"role": "user", "content": fmt.task(task)},
    ]
    sb_config = _sandbox_config(sandbox_config, task.kind)
    tools = fmt.tools(_search_tool(retriever, k, fmt.search_results) if retriever is not None else None)
    settings = {
        "prompt": template.name,
        "max_steps": max_steps,
        "sag_n": sag_n,
        "generation": {**dataclasses.asdict(gen), "stop": list(gen.stop)},
        "k": k if retriever is not None else None,
        "search_tool": template.search_tool if retriever is not None else None,
        "sandbox_imports": sb_config.imports,
        "force_final_answer": force_final_answer,
    }
    traj = Trajectory(
        task=task,
        model=getattr(llm, "name", type(llm).__name__),
        settings=settings,
        messages=messages,
        prefix=prefix or None,
    )
    start = time.perf_counter()
    try:
        with Sandbox(tools=tools, config=sb_config) as sandbox:
            sandbox = fmt.wrap_sandbox(sandbox)
            for index in range(max_steps):
                step_start = time.perf_counter()
                step_prefix = (prefix or "") if index == 0 else ""
                raws, usage = generate_candidates(llm, messages, gen, prefix=step_prefix)
                outcome = run_sag(sandbox, raws) if sag_n > 1 else run_single(sandbox, raws[0])
                step = _make_step(index, step_prefix, raws, outcome, usage, time.perf_counter() - step_start)
                traj.steps.append(step)
                messages.append({"role": "assistant", "content": fmt.assistant(step)})
                if on_step is not None:
                    on_step(step)
                if step.has_final_answer:
                    traj.final_answer = step.final_answer
                    traj.status = "answered"
                    break
                messages.append({"role": "user", "content": fmt.feedback(step)})
            else:
                traj.status = "max_steps"
                if force_final_answer:
                    step = _forced_step(max_steps, llm, messages, gen, task, max_steps, fmt)
                    traj.steps.append(step)
                    messages.append({"role": "assistant", "content": step.raw})
                    traj.forced_final_answer = True
                    if on_step is not None:
                        on_step(step)
                    if step.has_final_answer:
                        traj.final_answer = step.final_answer
                        traj.status = "answered"
    except ContextOverflowError as exc:  # the episode outgrew the context: it ends here, unanswered
        traj.status = "context_overflow"
        traj.error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # backend/sandbox failure: record it, let the batch go on
        traj.status = "error"
        traj.error = f"{type(exc).__name__}: {exc}"
    traj.messages = messages
    traj.totals = _totals(traj.steps, time.perf_counter() - start)
    return traj
