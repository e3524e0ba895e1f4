"""Self-consistent action generation (SAG), DESIGN.md §3.

N candidates come from one generation call. Each parsable candidate runs in its own ``sandbox.fork()``; those
that do not parse or whose code raises are dropped; the survivors are grouped by (observation, final answer) —
the answer is part of the key so two candidates that answer differently never agree — and the first candidate
of the largest group wins (ties and all-distinct: the earliest). The winner's fork is adopted as the episode
state, so its code is not run twice and losers leave no side effects. If none survive, the first candidate is
used (its fork adopted when it ran). Candidates with identical code share one execution (same state, same
code): the later one is recorded with ``shared_execution_with`` and cannot win over the earlier one anyway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agentdistill.agent.parse import ParsedStep, parse_step
from agentdistill.agent.records import Candidate
from agentdistill.agent.sampling import RawCandidate
from agentdistill.sandbox.types import ExecResult


def vote_key(result: ExecResult) -> str:
    """What two candidates must share to agree: the observation and the final answer (if any)."""
    answer = repr(result.final_answer) if result.has_final_answer else None
    return json.dumps([result.observation, answer], ensure_ascii=False)


def vote(keys: list[str | None]) -> tuple[int, dict[str, int]]:
    """Winner index and group sizes; ``None`` marks an invalid candidate. No valid one: index 0."""
    sizes: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key is None:
            continue
        sizes[key] = sizes.get(key, 0) + 1
        first.setdefault(key, i)
    if not sizes:
        return 0, sizes
    best = max(sizes, key=lambda k: (sizes[k], -first[k]))
    return first[best], sizes


@dataclass
class StepOutcome:
    winner: int
    parsed: ParsedStep
    result: ExecResult | None  # None when the chosen step did not parse
    candidates: list[Candidate]
    exec_seconds: float


def _record(i: int, raw: RawCandidate, parsed: ParsedStep) -> Candidate:
    return Candidate(
        index=i,
        raw=raw.raw,
        thought=parsed.thought,
        code=parsed.code,
        error_kind=parsed.error_kind,
        error=parsed.error,
        tokens=raw.tokens,
        finish_reason=raw.finish_reason,
    )


def _fill(rec: Candidate, result: ExecResult) -> None:
    rec.observation = result.observation
    rec.final_answer = result.final_answer
    rec.has_final_answer = result.has_final_answer
    rec.exec_seconds = result.seconds
    rec.tool_calls = list(result.tool_calls)
    if result.error is not None:
        rec.error_kind = result.error.kind
        rec.error = f"{result.error.type}: {result.error.message}"
    else:
        rec.valid = True
        rec.vote_key = vote_key(result)


def run_sag(sandbox: Any, raws: list[RawCandidate], *, dedupe: bool = True) -> StepOutcome:
    """Run every candidate in a fork, vote, adopt the winner's fork, close the rest."""
    parsed = [parse_step(r.raw) for r in raws]
    records = [_record(i, r, p) for i, (r, p) in enumerate(zip(raws, parsed, strict=True))]
    results: list[ExecResult | None] = [None] * len(raws)
    forks: dict[int, Any] = {}
    by_code: dict[str, int] = {}
    exec_seconds = 0.0
    try:
        for i, p in enumerate(parsed):
            if not p.ok:
                continue
            if dedupe and p.code in by_code:
                j = by_code[p.code]
                results[i] = results[j]
                records[i].shared_execution_with = j
            else:
                forks[i] = sandbox.fork()
                results[i] = forks[i].run(p.code)
                exec_seconds += results[i].seconds
                by_code[p.code] = i
            _fill(records[i], results[i])
        keys = [rec.vote_key if rec.valid else None for rec in records]
        winner, sizes = vote(keys)
        for rec in records:
            rec.group_size = sizes.get(rec.vote_key, 0) if rec.vote_key else 0
        if winner in forks:
            sandbox.adopt(forks.pop(winner))
    finally:
        for fork in forks.values():
            fork.close()
    return StepOutcome(
        winner=winner,
        parsed=parsed[winner],
        result=results[winner],
        candidates=records,
        exec_seconds=exec_seconds,
    )


def run_single(sandbox: Any, raw: RawCandidate) -> StepOutcome:
    """SAG off: parse and run the one candidate directly in the episode sandbox."""
    parsed = parse_step(raw.raw)
    result = sandbox.run(parsed.code) if parsed.ok else None
    return StepOutcome(
        winner=0, parsed=parsed, result=result, candidates=[], exec_seconds=result.seconds if result else 0.0
    )
