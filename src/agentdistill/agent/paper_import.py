"""Import trajectories in the paper's released log format into our ``Trajectory`` records.

The authors publish teacher trajectories (e.g. the Hugging Face dataset
``agent-distillation/Qwen2.5-32B-Instruct_agent_trajectories_2k``) as records written by their
``exps_research/unified_framework`` (GitHub ``Nardien/agent-distillation``): one JSON object per line with

- ``question`` (without the answer-format line), ``true_answer``, ``generated_answer``, ``model_id``,
  ``score`` (1/True when graded correct; added by ``score_answers.py``), and
- ``log_data`` (an object, or a JSON string in the Hub copy): ``messages`` — the smolagents memory as chat
  messages, roles ``system``/``user``/``assistant``/``tool-call``/``tool-response`` (also spelled
  ``MessageRole.SYSTEM`` …), content a string or a list of ``{"type": "text", "text": …}`` parts —
  plus ``original_memory`` (its ``steps`` hold the forced final-answer turn after max steps) and ``metadata``.

The chat is rebuilt as the authors' ``preprocess.py`` trains on it (tool-call messages dropped, tool
responses become user turns, consecutive turns of one role joined), so ``train --student-prompt paper`` on
the imported file trains on the turns the paper's students saw. Each assistant turn becomes a ``Step``
(thought and code split by our parser; the next user turn is its observation).
The settings record ``web_search`` with k=3 for every task, math included, as the paper's agent offers it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentdistill.agent.parse import parse_step
from agentdistill.agent.records import Step, Totals, Trajectory
from agentdistill.data.task import Task

ROLES = {"system", "user", "assistant", "tool-call", "tool-response"}
_AS_CHAT = {"tool-response": "user", "tool-call": "assistant"}
FORCED_MARKER = (
    "An agent tried to answer a user query but it got stuck"  # smolagents' final_answer pre-message
)
SEARCH_TOOL = "web_search"


class PaperLogError(ValueError):
    """A line of a paper log file that cannot be imported; the message names file, line and field."""


def _text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or not isinstance(part.get("text", ""), str):
                raise PaperLogError(f"{where}: content parts must be objects with a 'text' string")
            parts.append(part.get("text", ""))
        return "".join(parts)
    raise PaperLogError(
        f"{where}: content must be a string or a list of text parts, got {type(content).__name__}"
    )


def _role(raw: Any, where: str) -> str:
    role = str(raw)
    if role.startswith("MessageRole."):
        role = role[len("MessageRole.") :].lower().replace("_", "-")
    if role not in ROLES:
        raise PaperLogError(f"{where}: unknown role {raw!r} (expected one of {', '.join(sorted(ROLES))})")
    return role


def chat_from_log(messages: Any, where: str) -> list[dict[str, str]]:
    """The training chat of one log: tool calls dropped, tool responses as user turns, same roles joined."""
    if not isinstance(messages, list) or not messages:
        raise PaperLogError(f"{where}: field 'log_data.messages' must be a non-empty list")
    out: list[dict[str, str]] = []
    for i, msg in enumerate(messages):
        at = f"{where}: field 'log_data.messages.{i}'"
        if not isinstance(msg, dict) or "role" not in msg or "content" not in msg:
            raise PaperLogError(f"{at}: needs 'role' and 'content'")
        role = _role(msg["role"], at)
        if role == "tool-call":
            continue
        role = _AS_CHAT.get(role, role)
        text = _text(msg["content"], at)
        if out and out[-1]["role"] == role:
            out[-1]["content"] += text
        else:
            out.append({"role": role, "content": text})
    if len(out) < 2 or out[0]["role"] != "system" or out[1]["role"] != "user":
        raise PaperLogError(f"{where}: field 'log_data.messages': must start with a system and a user turn")
    return out


def _question(chat: list[dict[str, str]], entry: dict[str, Any]) -> str:
    if isinstance(entry.get("question"), str) and entry["question"].strip():
        return entry["question"]
    text = chat[1]["content"].removeprefix("New task:\n")
    return text.split("\n\nIMPORTANT:")[0]


def _forced(log: dict[str, Any]) -> bool:
    memory = log.get("original_memory") or {}
    for step in memory.get("steps") or []:
        for msg in (step or {}).get("messages") or []:
            content = msg.get("content") if isinstance(msg, dict) else None
            text = content if isinstance(content, str) else json.dumps(content)
            if FORCED_MARKER in text:
                return True
    return False


def _steps(chat: list[dict[str, str]]) -> list[Step]:
    steps: list[Step] = []
    turns = chat[2:]
    for i, msg in enumerate(turns):
        if msg["role"] != "assistant":
            continue
        parsed = parse_step(msg["content"])
        following = turns[i + 1]["content"] if i + 1 < len(turns) and turns[i + 1]["role"] == "user" else None
        error = following is not None and "\nError:\n" in f"\n{following}"
        error_kind = parsed.error_kind or ("exception" if error else None)
        steps.append(
            Step(
                index=len(steps),
                raw=msg["content"],
                thought=parsed.thought,
                code=parsed.code,
                observation=following or "",
                error_kind=error_kind,
                error=(parsed.error or "error in the logged observation") if error_kind else None,
            )
        )
    return steps


def trajectory_from_entry(entry: Any, where: str, dataset: str, kind: str = "auto") -> Trajectory:
    """One log record -> a ``Trajectory``. ``kind``: "qa", "math", or "auto" (qa when it calls web_search)."""
    if not isinstance(entry, dict):
        raise PaperLogError(f"{where}: expected a JSON object, got {type(entry).__name__}")
    log = entry.get("log_data")
    if isinstance(log, str):
        try:
            log = json.loads(log)
        except json.JSONDecodeError as exc:
            raise PaperLogError(f"{where}: field 'log_data': not valid JSON ({exc.msg})") from None
    if not isinstance(log, dict):
        raise PaperLogError(f"{where}: field 'log_data' must be an object (a run that failed has none)")
    chat = chat_from_log(log.get("messages"), where)
    question = _question(chat, entry)
    steps = _steps(chat)
    if not steps:
        raise PaperLogError(f"{where}: field 'log_data.messages': no assistant turn")
    forced = _forced(log)
    answer = entry.get("generated_answer", (log.get("metadata") or {}).get("final_answer"))
    if not forced and answer is not None:
        steps[-1].has_final_answer, steps[-1].final_answer = True, answer
    if kind == "auto":
        kind = "qa" if any(f"{SEARCH_TOOL}(" in s.code for s in steps) else "math"
    true = entry.get("true_answer")
    aliases = [str(a) for a in true] if isinstance(true, list) else []
    task = Task(
        id=hashlib.sha1(question.encode("utf-8")).hexdigest()[:12],
        dataset=dataset,
        kind=kind,  # type: ignore[arg-type]
        question=question,
        answer=aliases[0] if aliases else ("" if true is None else str(true)),
        aliases=aliases[1:],
    )
    score = entry.get("score")
    meta_model = ((log.get("metadata") or {}).get("model") or {}).get("model_id")
    return Trajectory(
        task=task,
        model=str(entry.get("model_id") or meta_model or "unknown"),
        messages=chat,
        steps=steps,
        final_answer=None if forced else answer,
        status="max_steps" if forced or answer is None else "answered",
        correct=None if score is None else bool(score == 1 or score is True),
        forced_final_answer=forced,
        settings={
            "prompt": "paper",
            "source": "paper-log",
            "max_steps": len(steps),
            # the paper's agent offers web_search (top 3) for every task, math included
            # (processors/agent.py; preprocess.py renders every training prompt with it)
            "search_tool": SEARCH_TOOL,
            "k": 3,
            # a line after the question (their answer-format line), whatever its wording
            "answer_format": chat[1]["content"].removeprefix("New task:\n").strip() != question.strip(),
        },
        totals=Totals(steps=len(steps)),
    )


def _failed_run(entry: Any) -> bool:
    """A record of a run that crashed: their processor writes ``error`` and ``log_data: null``."""
    return isinstance(entry, dict) and entry.get("log_data") is None and "error" in entry


def iter_paper_log(
    path: str | Path, *, dataset: str | None = None, kind: str = "auto", skipped: list[str] | None = None
) -> Iterator[Trajectory]:
    """Trajectories from a paper log file (JSONL; a JSON list is accepted too). Errors name file and line.

    Records of crashed runs (``error`` set, ``log_data`` null) carry no trajectory: their locations are
    appended to ``skipped`` when given, else they raise like any other bad record.
    """
    path = Path(path)
    if kind not in ("auto", "qa", "math"):
        raise ValueError(f"kind must be auto, qa or math, got {kind!r}")
    dataset = dataset or path.stem
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte order mark before the first line is skipped
    except OSError as exc:
        raise PaperLogError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PaperLogError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        for i, entry in enumerate(items):
            if skipped is not None and _failed_run(entry):
                skipped.append(f"{path}: item {i}")
                continue
            yield trajectory_from_entry(entry, f"{path}: item {i}", dataset, kind)
        return
    # lines end at "\n" only: str.splitlines() also splits at U+2028, U+2029 and U+0085, which json.dumps(...,
    # ensure_ascii=False) leaves raw inside strings
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PaperLogError(
                f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno})"
            ) from None
        if skipped is not None and _failed_run(entry):
            skipped.append(f"{path}:{number}")
            continue
        yield trajectory_from_entry(entry, f"{path}:{number}", dataset, kind)
