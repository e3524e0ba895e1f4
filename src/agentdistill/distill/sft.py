"""SFT examples from teacher trajectories (DESIGN.md §4): the chat the student is trained on.

The student sees its own short system prompt (the same one used at inference), the task, and the teacher's
steps exactly as generated — first-thought prefix included, since the prefix is part of the trained text —
with observations as user turns. A forced final-answer turn (asked after ``max_steps``) is not the agent's own
behaviour and is dropped. Loss masking (assistant turns only) happens at training time via the chat template.
Files are TRL's conversational format: one ``{"messages": [...]}`` JSON object per line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

Message = dict[str, str]
ROLES = ("system", "user", "assistant")


class SFTDataError(ValueError):
    """An SFT or trajectory file has a bad record; the message names file, line and field."""


def _is_forced(message: dict[str, Any], step: Any | None) -> bool:
    """The agent marks its forced final-answer turn on the message or the step (any of these keys)."""
    for key in ("forced", "forced_final_answer"):
        if message.get(key) or (step is not None and getattr(step, key, False)):
            return True
    return message.get("name") == "forced_final_answer" or message.get("kind") == "forced_final_answer"


def student_system_prompt(traj: Any, student_prompt: str = "student") -> str:
    """Render the student prompt with the trajectory's settings, as the agent does at inference."""
    from agentdistill.agent.prompts import load_prompt

    from agentdistill.agent.settings import SEARCH_K

    s = traj.settings  # agent.records.TrajectorySettings: search_tool and k are None without a retriever
    return load_prompt(student_prompt).render(
        kind=getattr(traj.task, "kind", "qa"), search=s.search, max_steps=s.max_steps, k=s.k or SEARCH_K,
    )


def trajectory_to_sft(traj: Any, student_prompt: str = "student") -> list[Message]:
    """Chat messages for one trajectory: student system prompt, task, steps and observations.

    Raises ``SFTDataError`` when the message list does not start with system + user or has no assistant turn.
    """
    msgs = [dict(m) for m in traj.messages]
    if len(msgs) < 2 or msgs[0].get("role") != "system" or msgs[1].get("role") != "user":
        raise SFTDataError(f"trajectory {traj.task.id}: messages must start with system and user turns")
    steps = list(getattr(traj, "steps", []) or [])
    out: list[Message] = [
        {"role": "system", "content": student_system_prompt(traj, student_prompt)},
        {"role": "user", "content": msgs[1]["content"]},
    ]
    n_assistant = 0
    for m in msgs[2:]:
        step = steps[n_assistant] if m.get("role") == "assistant" and n_assistant < len(steps) else None
        if _is_forced(m, step):
            break
        if m.get("role") not in ROLES:
            raise SFTDataError(f"trajectory {traj.task.id}: unknown role {m.get('role')!r}")
        out.append({"role": m["role"], "content": m["content"]})
        n_assistant += m["role"] == "assistant"
    while out and out[-1]["role"] != "assistant":  # a trailing observation teaches nothing
        out.pop()
    if n_assistant == 0 or len(out) < 3:
        raise SFTDataError(f"trajectory {traj.task.id}: no assistant turn to train on")
    return out


def cot_to_sft(question: str, cot_text: str, system: str | None = None, kind: str = "qa") -> list[Message]:
    """CoT-distillation baseline example: the plain CoT prompt, the question, the teacher's reasoning."""
    if system is None:
        from agentdistill.agent.prompts import load_prompt

        system = load_prompt("cot").render(kind=kind)
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": question},
        {"role": "assistant", "content": cot_text},
    ]


def trajectory_or_cot_to_sft(traj: Any, student_prompt: str = "student") -> list[Message]:
    """An agent trajectory as an SFT example (no trajectory records a CoT ``mode``, so none is read here)."""
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
    out = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SFTDataError(f"{path}:{number}: not valid JSON: {exc}") from exc
            out.append(_check_messages(obj, f"{path}:{number}"))
    if not out:
        raise SFTDataError(f"{path}: no examples")
    return out


def sniff_kind(path: str | Path) -> str:
    """``sft`` for ``{"messages": ...}`` lines, ``trajectories`` for trajectory records (have ``task``)."""
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise SFTDataError(f"{path}:{number}: not valid JSON: {exc}") from exc
                if isinstance(obj, dict) and "task" in obj:
                    return "trajectories"
                if isinstance(obj, dict) and "messages" in obj:
                    return "sft"
                raise SFTDataError(f"{path}:{number}: neither an SFT example ('messages') nor a trajectory ('task')")
    raise SFTDataError(f"{path}: empty file")


def trajectories_to_sft_file(
    traj_path: str | Path, out_path: str | Path, student_prompt: str = "student", only_correct: bool = False
) -> int:
    """Convert a trajectory JSONL (already filtered, normally) into an SFT JSONL; returns the example count."""
    from agentdistill.agent.records import read_trajectories

    trajs = read_trajectories(traj_path)
    if only_correct:
        trajs = [t for t in trajs if t.correct]
    return write_sft_jsonl((trajectory_or_cot_to_sft(t, student_prompt) for t in trajs), out_path)
