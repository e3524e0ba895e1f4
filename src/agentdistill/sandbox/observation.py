"""Turn a step's captured output and error into the observation the model sees next."""

from __future__ import annotations

from .types import ExecError

MAX_ERROR_CHARS = 2000


def format_error(error: ExecError) -> str:
    """E.g. ``ZeroDivisionError: division by zero (line 3: `x = 1/0`)``."""
    text = f"{error.type}: {error.message}" if error.message else error.type
    if error.line is not None:
        text += f" (line {error.line}: `{error.text}`)" if error.text else f" (line {error.line})"
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + " ..."


def truncate(text: str, budget: int, total: int | None = None) -> str:
    """Keep the head of ``text`` within ``budget`` chars; say how many chars were cut."""
    total = len(text) if total is None else max(total, len(text))
    if total <= budget:
        return text
    keep = text[: max(budget, 0)]
    return f"{keep}\n... [truncated {total - len(keep)} chars]"


def build_observation(stdout: str, stdout_total: int, error: ExecError | None, budget: int) -> str:
    """Printed output (truncated first) followed by the error line, which is always kept."""
    err = format_error(error) if error is not None else ""
    room = max(budget - len(err) - 1, min(budget, 200)) if err else budget
    out = truncate(stdout, room, stdout_total)
    if err:
        return f"{out}\n{err}" if out and not out.endswith("\n") else out + err
    return out
