"""SFT examples from teacher records (DESIGN.md §4): the chat the student is trained on.

Agent trajectories: the student sees its own short system prompt (rendered with the settings the agent loop
recorded: search offered only when the run had a retriever, its ``k``, ``max_steps``), the task, and the
teacher's steps exactly as generated — first-thought prefix included, since the prefix is part of the trained
text — with observations as user turns. CoT records (``generate --mode cot``, one ``CotRecord`` per line):
the plain CoT prompt, the question, the teacher's reasoning — the paper's CoT-distillation baseline.
A trajectory whose answer came from the forced final-answer turn (``Trajectory.forced_final_answer``, asked
after ``max_steps``) is not the agent's own behaviour: it is never training data (``SFTDataError`` here;
skipped and counted by the file converter). Loss masking (assistant turns only) happens at training time via
the chat template. Files are TRL's conversational format: one ``{"messages": [...]}`` JSON object per line.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agentdistill.common.jsonl import JsonlError, iter_jsonl

Message = dict[str, str]
ROLES = ("system", "user", "assistant")


class SFTDataError(ValueError):
    """An SFT or trajectory file has a bad record; the message names file, line and field."""


def is_forced(traj: Any) -> bool:
    """True when the trajectory's answer (or any step) came from the forced final-answer turn."""
    return bool(getattr(traj, "forced_final_answer", False)) or any(
        getattr(s, "forced", False) for s in getattr(traj, "steps", []) or []
    )


def student_system_prompt(traj: Any, student_prompt: str = "student") -> str:
    """Render the student prompt with the trajectory's recorded settings, as the agent does at inference.

    The loop records ``search_tool`` (None without a retriever), ``k`` (None without a retriever) and
    ``max_steps``; search is offered exactly when the teacher had it.
    """
    from agentdistill.agent.prompts import load_prompt
    from agentdistill.agent.settings import SEARCH_K

    s = traj.settings  # agent.records.TrajectorySettings
    return load_prompt(student_prompt).render(
        kind=getattr(traj.task, "kind", "qa"),
        search=s.search,
        max_steps=s.max_steps,
        k=s.k or SEARCH_K,
    )


def trajectory_to_sft(traj: Any, student_prompt: str = "student") -> list[Message]:
    """Chat messages for one trajectory: student system prompt, task, steps and observations.

    Raises ``SFTDataError`` for a forced final-answer trajectory, when the message list does not start with
    system + user, or when it has no assistant turn.
    """
    if is_forced(traj):
        raise SFTDataError(
            f"trajectory {traj.task.id}: answer from the forced final-answer turn (not training data)"
        )
    msgs = [dict(m) for m in traj.messages]
    if len(msgs) < 2 or msgs[0].get("role") != "system" or msgs[1].get("role") != "user":
        raise SFTDataError(f"trajectory {traj.task.id}: messages must start with system and user turns")
    out: list[Message] = [
        {"role": "system", "content": student_system_prompt(traj, student_prompt)},
        {"role": "user", "content": msgs[1]["content"]},
    ]
    for m in msgs[2:]:
        if m.get("role") not in ROLES:
            raise SFTDataError(f"trajectory {traj.task.id}: unknown role {m.get('role')!r}")
        out.append({"role": m["role"], "content": m["content"]})
    while out and out[-1]["role"] != "assistant":  # a trailing observation teaches nothing
        out.pop()
    if len(out) < 3:
        raise SFTDataError(f"trajectory {traj.task.id}: no assistant turn to train on")
    return out


def cot_to_sft(question: str, cot_text: str, system: str | None = None, kind: str = "qa") -> list[Message]:
    """CoT-distillation example: the plain CoT prompt (as ``run_cot`` renders it), the question, the reasoning."""
    if system is None:
        from agentdistill.agent.prompts import load_prompt

        system = load_prompt("cot").render(kind=kind, search=False)
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": question},
        {"role": "assistant", "content": cot_text},
    ]


def cot_record_to_sft(rec: dict[str, Any], where: str = "CoT record") -> list[Message]:
    """A ``CotRecord`` line (``generate --mode cot``) as a CoT-distillation example; errors name the field."""
    task = rec.get("task")
    if not isinstance(task, dict) or not isinstance(task.get("question"), str):
        raise SFTDataError(f"{where}: field 'task.question' must be a string")
    text = rec.get("text")
    if not isinstance(text, str) or not text.strip():
        raise SFTDataError(f"{where}: field 'text' must be a non-empty string (the teacher's CoT)")
    return cot_to_sft(task["question"], text, kind=task.get("kind", "qa"))


def trajectory_or_cot_to_sft(traj: Any, student_prompt: str = "student") -> list[Message]:
    """An agent trajectory as an SFT example (CoT records are ``CotRecord`` lines, converted by
    ``cot_record_to_sft``; no trajectory records a CoT ``mode``, so none is read here)."""
    return trajectory_to_sft(traj, student_prompt)


def write_sft_jsonl(examples: Iterable[list[Message]], path: str | Path) -> int:
    """Write ``{"messages": [...]}`` lines atomically (temp file + rename); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8") as fh:
        for ex in examples:
            fh.write(json.dumps({"messages": ex}, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n


def _check_messages(obj: Any, where: str) -> list[Message]:
    if not isinstance(obj, dict) or "messages" not in obj:
        raise SFTDataError(f"{where}: missing field 'messages'")
    msgs = obj["messages"]
    if not isinstance(msgs, list) or not msgs:
        raise SFTDataError(f"{where}: field 'messages' must be a non-empty list")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise SFTDataError(f"{where}: field 'messages.{i}.role' must be one of {', '.join(ROLES)}")
        if not isinstance(m.get("content"), str):
            raise SFTDataError(f"{where}: field 'messages.{i}.content' must be a string")
    if not any(m["role"] == "assistant" for m in msgs):
        raise SFTDataError(f"{where}: field 'messages' has no assistant turn (nothing to train on)")
    return [{"role": m["role"], "content": m["content"]} for m in msgs]


def read_sft_jsonl(path: str | Path) -> list[list[Message]]:
    """Validated SFT examples; errors name the file, line and field."""
    path = Path(path)
    if not path.is_file():
        raise SFTDataError(f"{path}: file not found")
    try:
        out = [_check_messages(obj, f"{path}:{number}") for number, obj in iter_jsonl(path)]
    except JsonlError as exc:
        raise SFTDataError(str(exc)) from None
    if not out:
        raise SFTDataError(f"{path}: no examples")
    return out


def sniff_kind(path: str | Path) -> str:
    """``sft`` for ``{"messages": ...}`` lines, ``cot`` for CoT records (``task`` + ``text``), ``trajectories``
    for agent trajectory records (``task`` + ``steps``/``messages``)."""
    try:
        for number, obj in iter_jsonl(Path(path)):
            if "task" in obj:
                return "cot" if "text" in obj and "steps" not in obj else "trajectories"
            if "messages" in obj:
                return "sft"
            raise SFTDataError(
                f"{path}:{number}: neither an SFT example ('messages'), a trajectory nor a CoT record ('task')"
            )
    except JsonlError as exc:
        raise SFTDataError(str(exc)) from None
    raise SFTDataError(f"{path}: empty file")


def records_to_sft(
    path: str | Path, student_prompt: str = "student", only_correct: bool = False
) -> tuple[list[list[Message]], Counter]:
    """SFT examples from a trajectory or CoT-record JSONL, and the count of records left out by reason
    (``forced_final_answer``, ``incorrect``, ``error``). Forced final-answer trajectories and failed CoT
    attempts are always left out."""
    path = Path(path)
    kind = sniff_kind(path)
    skipped: Counter = Counter()
    examples: list[list[Message]] = []
    if kind == "cot":
        from agentdistill.common.jsonl import iter_jsonl

        for number, rec in iter_jsonl(path):
            if rec.get("error"):  # a backend failure recorded by generate (retried there), not a CoT
                skipped["error"] += 1
                continue
            if only_correct and not rec.get("correct"):
                skipped["incorrect"] += 1
                continue
            examples.append(cot_record_to_sft(rec, f"{path}:{number}"))
        return examples, skipped
    if kind != "trajectories":
        raise SFTDataError(f"{path}: holds SFT examples already, not trajectories or CoT records")
    from agentdistill.agent.records import iter_trajectories

    for traj in iter_trajectories(path):
        if is_forced(traj):
            skipped["forced_final_answer"] += 1
        elif traj.status == "error" and not any(m.get("role") == "assistant" for m in traj.messages):
            skipped["error"] += 1  # a backend failure before any step: nothing to learn from
        elif only_correct and not traj.correct:
            skipped["incorrect"] += 1
        else:
            examples.append(trajectory_or_cot_to_sft(traj, student_prompt))
    return examples, skipped


def trajectories_to_sft_file(
    traj_path: str | Path, out_path: str | Path, student_prompt: str = "student", only_correct: bool = False
) -> int:
    """Convert a trajectory or CoT-record JSONL (already filtered, normally) into an SFT JSONL; returns the
    example count. Forced final-answer trajectories are left out (``records_to_sft`` says how many)."""
    examples, _ = records_to_sft(traj_path, student_prompt, only_correct)
    return write_sft_jsonl(examples, out_path)
