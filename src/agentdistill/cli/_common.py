"""What every command shares: one-line errors with exit 2, and tables that are never cut when piped."""

from __future__ import annotations

import contextlib
import functools
import sys
import zlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import typer
from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])


def make_console(stderr: bool = False) -> Console:
    """A rich console; when not a terminal (piped, logged) it is wide enough that no name is ever cut."""
    stream = sys.stderr if stderr else sys.stdout
    wide = None if stream.isatty() else 10_000
    return Console(stderr=stderr, width=wide, soft_wrap=not stream.isatty())


console = make_console()


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` as one plain line on stderr and exit (2: bad input)."""
    typer.echo(f"error: {' '.join(str(message).split())}", err=True)
    raise typer.Exit(code)


def _user_error_types() -> tuple[type[BaseException], ...]:
    """Errors that mean bad input (a file, a name, a setting), not a bug: shown as one line, exit 2."""
    from agentdistill.agent.prompts import PromptError
    from agentdistill.agent.records import TrajectoryFormatError
    from agentdistill.common.files import SamePathError
    from agentdistill.common.jsonl import JsonlError
    from agentdistill.common.runs import StaleOutputError
    from agentdistill.data.errors import DataError
    from agentdistill.evaluate.records import RunInputError
    from agentdistill.llm.types import GenerationError
    from agentdistill.models.registry import ModelError
    from agentdistill.retrieval.client import RetrievalError
    from agentdistill.retrieval.corpus import CorpusError
    from agentdistill.retrieval.index import IndexNotFoundError

    types: list[type[BaseException]] = [
        PromptError,
        TrajectoryFormatError,
        JsonlError,
        StaleOutputError,
        DataError,
        RunInputError,
        GenerationError,
        ModelError,
        RetrievalError,
        CorpusError,
        IndexNotFoundError,
        SamePathError,
    ]
    try:
        from agentdistill.pipeline.config import ConfigError
        from agentdistill.pipeline.runner import StaleOutputError as PipelineStale
        from agentdistill.pipeline.stages.filter import NothingKeptError

        types += [ConfigError, PipelineStale, NothingKeptError]
    except ImportError:  # pipeline mid-change elsewhere must not hide the other errors
        pass
    return tuple(types)


def settings_error(exc: Any) -> str:
    """A pydantic ``ValidationError`` from a settings model as ``--option: problem`` (first error, + count)."""
    first = exc.errors()[0]
    option = "--" + ".".join(str(p) for p in first["loc"]).replace("_", "-")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{option}: {first['msg']}{more}"


def io_error(exc: BaseException) -> str:
    """One line for a file that cannot be read or written: the path and the problem (``[Errno 2] No such file``
    becomes ``f/x.jsonl: No such file or directory``); a corrupt or truncated gzip file and bytes that are not
    UTF-8 say so, with the path where the error carries it."""
    if isinstance(exc, OSError) and exc.filename is not None:
        where = f"{exc.filename} -> {exc.filename2}" if exc.filename2 is not None else str(exc.filename)
        return f"{where}: {exc.strerror or exc}"
    if isinstance(exc, UnicodeDecodeError):
        return f"input is not UTF-8 text ({exc.reason} at byte {exc.start})"
    if isinstance(exc, zlib.error | EOFError):
        return f"corrupt or truncated compressed input ({exc})"
    return f"{type(exc).__name__}: {exc}"


def user_errors(fn: F) -> F:
    """Wrap a command: bad-input errors become ``error: <file:line: field: problem>`` and exit 2; so do files
    that cannot be read or written (``io_error``)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pydantic import ValidationError

        try:
            return fn(*args, **kwargs)
        except ValidationError as exc:  # a settings model refused an option value: name the option
            fail(settings_error(exc))
        except _user_error_types() as exc:
            fail(str(exc))
        except (
            OSError,
            UnicodeDecodeError,
            zlib.error,
            EOFError,
        ) as exc:  # a file: missing, unreadable, corrupt
            fail(io_error(exc))

    return wrapper  # type: ignore[return-value]


def model_options(n_ctx: int | None) -> dict[str, Any]:
    """Backend options from CLI flags, leaving out unset ones (the openai: backend takes no ``n_ctx``)."""
    return {"n_ctx": n_ctx} if n_ctx else {}


@contextlib.contextmanager
def model_and_retriever(
    spec: str, n_ctx: int | None, settings: Any, retriever: str | None
) -> Iterator[tuple]:
    """``(llm, index, retriever_spec)`` for a batch command: the retriever only when ``settings.needs_retriever``
    (else ``None`` twice), the model loaded last (so a bad retriever fails first) and closed on exit.

    ``settings.concurrency > 1`` on a local GGUF model (in-process llama.cpp runs one episode at a time) serves
    it with a managed llama-server of that many slots, under the same name (docs/scale-out.md §4)."""
    from agentdistill.models.loading import as_served, load_llm
    from agentdistill.retrieval import load_retriever

    use = retriever if settings.needs_retriever and retriever else None
    index = load_retriever(use) if use else None
    load, options = spec, model_options(n_ctx)
    served = as_served(spec, options, settings.concurrency) if settings.concurrency > 1 else None
    if served is not None:
        load, options = served
        typer.echo(f"--concurrency {settings.concurrency}: serving {spec} with llama-server", err=True)
    llm = load_llm(load, **options)
    try:
        yield llm, index, use
    finally:
        llm.close()
