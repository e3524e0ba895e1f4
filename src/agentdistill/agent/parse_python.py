"""What the code of a step is, for the step parser (agent/parse.py): syntax verdicts, whether code does
something, and the one rewrite applied to parsed code (``final_answer = x`` must not hide the tool).

Trial syntax checks (which fence closes a block, where code ends and prose begins) are paid from a budget
proportional to the text being parsed (``trial_budget``), so a parse is linear in its input whatever it is.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Statements that make a bare reply an action; an expression statement counts only if it calls something.
_ACTION_STMTS = (
    ast.Assign,
    ast.AugAssign,
    ast.For,
    ast.While,
    ast.If,
    ast.With,
    ast.Try,
    ast.Import,
    ast.ImportFrom,
    ast.FunctionDef,
    ast.Return,
    ast.Delete,
    ast.Assert,
)


# Trial syntax checks (which fence closes a block, where code ends and prose begins) cost a compile each; one
# parse may spend this many characters of them, so any input parses in linear time. Real steps (a few KB) never
# reach the floor; past it, the rules fall back to their first choice.
_TRIAL_FLOOR = 1_000_000
# What compiling model-written text can raise besides SyntaxError: ValueError (null bytes), and from CPython's
# own parser MemoryError ("the " * 1500 on one line) and RecursionError (deep nesting). Every parse of model
# text catches all four: a degenerate output is a failed step, never a crashed episode.
COMPILE_ERRORS: tuple[type[Exception], ...] = (SyntaxError, ValueError, MemoryError, RecursionError)
_TRIAL_PER_CHAR = 4


class _Trials:
    """The trial budget of one parse and the syntax verdicts it has already paid for."""

    def __init__(self, text: str):
        self.left = _TRIAL_FLOOR + _TRIAL_PER_CHAR * len(text)
        self.seen: dict[str, str | None] = {}


_TRIALS: ContextVar[_Trials | None] = ContextVar("agentdistill_parse_trials", default=None)


def syntax_error(code: str) -> str | None:
    """A model-readable SyntaxError message for ``code`` ("SyntaxError line 3: ..."), or None when it compiles."""
    trials = _TRIALS.get()
    if trials is None:
        return _compile_error(code)
    if code not in trials.seen:
        trials.seen[code] = _compile_error(code)
    return trials.seen[code]


def _compile_error(code: str) -> str | None:
    try:
        compile(code, "<code>", "exec")
    except SyntaxError as exc:
        where = f" line {exc.lineno}" if exc.lineno else ""
        line = (exc.text or "").rstrip("\n")
        detail = f"\n    {line.strip()}" if line.strip() else ""
        return f"SyntaxError{where}: {exc.msg}{detail}"
    except ValueError as exc:  # e.g. null bytes in the source
        return f"SyntaxError: {exc}"
    except (MemoryError, RecursionError) as exc:  # CPython's parser on ~1,500 bare words or deep nesting
        return f"SyntaxError: the code is too long or too deeply nested to compile ({type(exc).__name__})"
    return None


def tidy(code: str) -> str:
    """Code dedented as a whole, without blank lines around it."""
    return textwrap.dedent(code).strip("\n").rstrip()


def trials_left(spend: int = 0) -> bool:
    """True while this parse's trial budget lasts (``spend``: characters of work to pay first)."""
    trials = _TRIALS.get()
    if trials is None:
        return True
    trials.left -= spend
    return trials.left > 0


def parses(code: str) -> bool:
    """A trial syntax check, paid from this parse's budget; False once the budget is spent."""
    trials = _TRIALS.get()
    if trials is not None:
        if trials.left <= 0:
            return False
        trials.left -= len(code) + 64  # a verdict already known costs as much: the code was built to ask
    return syntax_error(code) is None


_TYPE_NAMES = {"int", "float", "str", "bool", "list", "dict", "tuple", "set", "complex", "object", "Any"}


def is_annotated_assignment(line: str) -> bool:
    """``result: int = 6*7`` is code, not a 'Result:' narration line: a lower-case name annotated with a type
    (``Observation: r = 'Lyon'`` and ``Output: total = 5`` parse too, but are narration)."""
    try:
        body = ast.parse(line.strip()).body
    except COMPILE_ERRORS:
        return False
    if len(body) != 1 or not isinstance(body[0], ast.AnnAssign) or body[0].value is None:
        return False
    target, note = body[0].target, body[0].annotation
    note = note.value if isinstance(note, ast.Subscript) else note
    return (
        isinstance(target, ast.Name)
        and target.id.islower()
        and isinstance(note, ast.Name | ast.Attribute)
        and (note.id if isinstance(note, ast.Name) else note.attr) in _TYPE_NAMES
    )


def is_action(code: str) -> bool:
    """True when ``code`` parses and does something: prose such as ``Paris`` or a JSON dict does not."""
    if not code.strip() or not parses(code):
        return False
    for stmt in ast.parse(code).body:
        if isinstance(stmt, _ACTION_STMTS) or (isinstance(stmt, ast.AnnAssign) and stmt.value is not None):
            return True  # a bare annotation ("Thought: x" parses as one) does nothing
        if isinstance(stmt, ast.Expr) and any(isinstance(n, ast.Call) for n in ast.walk(stmt)):
            return True
    return False


FINAL_ANSWER_VARIABLE = "final_answer_value"
_TOOL = b"final_answer"


def unshadow_final_answer(code: str) -> str:
    """Code that assigns to ``final_answer`` (``final_answer = x``) would hide the tool for the rest of the
    episode: the variable is renamed ``final_answer_value``, its uses too; calls stay calls. smolagents does the
    same (``fix_final_answer_code``), so ``final_answer = search(q)`` then ``final_answer(final_answer)`` works."""
    if "final_answer" not in code:
        return code
    tree = ast.parse(code)
    names = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "final_answer"]
    if not any(isinstance(n.ctx, ast.Store) for n in names):
        return code
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    lines = code.split("\n")
    spots = sorted(((n.lineno - 1, n.col_offset) for n in names if id(n) not in called), reverse=True)
    for row, byte_col in spots:  # from the end, so earlier offsets stay valid
        raw = lines[row].encode()
        end = byte_col + len(_TOOL)
        if raw[byte_col:end] != _TOOL:
            return code  # a position we cannot trust (inside an f-string): leave the code as written
        lines[row] = (raw[:byte_col] + FINAL_ANSWER_VARIABLE.encode() + raw[end:]).decode()
    fixed = "\n".join(lines)
    return fixed if syntax_error(fixed) is None else code


@contextmanager
def trial_budget(text: str) -> Iterator[None]:
    """The trial budget (and syntax verdict cache) of parsing ``text``, for the calls made inside the block."""
    token = _TRIALS.set(_Trials(text))
    try:
        yield
    finally:
        _TRIALS.reset(token)
