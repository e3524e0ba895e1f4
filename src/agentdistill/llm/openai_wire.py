"""What an OpenAI-compatible server must send back: the reply of ``/chat/completions`` or ``/completions``, checked.

`parse_reply` turns the decoded JSON of an HTTP 200 into a :class:`Reply` or raises one
:class:`~agentdistill.llm.types.GenerationError` that names the URL, what is wrong and the start of the body:
an ``error`` object sent with status 200 (its message), a body that is not a JSON object, no or empty
``choices``, a choice with neither ``message`` nor ``text``, or fields of the wrong type (``index: "a"``,
``usage.completion_tokens: "lots"``). Message content given as a list of parts (``[{"type": "text", "text":
"..."}]``, valid in the OpenAI API) is joined into one string; parts that are not text (images, refusals) are
left out. Unknown fields are ignored, and so are nulls where a server leaves a field empty.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agentdistill.llm.stops import truncate_at_stop
from agentdistill.llm.types import Completion, GenerationError

BODY_SHOWN = 200  # characters of a bad body quoted in the error


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ChatMessage(_Wire):
    content: str = ""  # text parts joined; null (a tool call, a refusal) is ""

    @field_validator("content", mode="before")
    @classmethod
    def _join_parts(cls, value: Any) -> str:
        if value is None or isinstance(value, str):
            return value or ""
        if not isinstance(value, list):
            raise ValueError(f"should be a string or a list of content parts, got {_kind(value)}")
        texts = []
        for i, part in enumerate(value):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise ValueError(f"part {i} should be an object with a 'type', got {_snippet(part, 60)}")
            if part["type"] == "text":
                if not isinstance(part.get("text"), str):
                    raise ValueError(f"text part {i} has no string 'text'")
                texts.append(part["text"])
        return "".join(texts)


class Choice(_Wire):
    index: int = 0
    text: str | None = None  # /completions
    message: ChatMessage | None = None  # /chat/completions
    finish_reason: str | None = None
    stop_reason: Any = None  # vLLM: the stop string that ended it, a token id, or null

    @model_validator(mode="after")
    def _has_output(self) -> Choice:
        if self.text is None and self.message is None:
            raise ValueError("has neither 'message' nor 'text'")
        return self

    def completion(self, stop: tuple[str, ...]) -> Completion:
        """This choice as a `Completion`, cut at the first stop string (servers differ in whether they do)."""
        text, hit = truncate_at_stop(self.text if self.text is not None else self.message.content, stop)
        reason = self.stop_reason
        stop_string = hit or (reason if isinstance(reason, str) and reason in stop else None)
        return Completion(text, "length" if self.finish_reason == "length" else "stop", 0, stop_string)


class PromptDetails(_Wire):
    cached_tokens: int | None = None


class WireUsage(_Wire):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_tokens_details: PromptDetails | None = None


class Reply(_Wire):
    """A completion reply: at least one choice, usage optional (missing counts are 0)."""

    choices: list[Choice] = Field(min_length=1)
    usage: WireUsage | None = None

    def completions(self, stop: tuple[str, ...]) -> list[Completion]:
        """The choices in ``index`` order; a single choice carries the reply's completion token count."""
        out = [c.completion(stop) for c in sorted(self.choices, key=lambda c: c.index)]
        if len(out) == 1:
            out[0].tokens = self.completion_tokens
        return out

    @property
    def prompt_tokens(self) -> int:
        return (self.usage.prompt_tokens or 0) if self.usage else 0

    @property
    def completion_tokens(self) -> int:
        return (self.usage.completion_tokens or 0) if self.usage else 0

    @property
    def cached_prompt_tokens(self) -> int:
        details = self.usage.prompt_tokens_details if self.usage else None
        return (details.cached_tokens or 0) if details else 0


def parse_reply(data: Any, url: str) -> Reply:
    """Check the decoded JSON body ``data`` that ``url`` sent with a success status.

    Raises GenerationError (``"<url>: <what is wrong> (body: <its start>)"``) for anything but a completion reply.
    """
    if (
        isinstance(data, dict)
        and "choices" not in data
        and ("error" in data or data.get("object") == "error")
    ):
        raise GenerationError(f"{url}: the server answered with an error: {_error_text(data)}")
    try:
        return Reply.model_validate(data)
    except ValidationError as exc:
        raise GenerationError(f"{url}: {_problem(exc, data)} (body: {_snippet(data)})") from None


def _problem(exc: ValidationError, data: Any) -> str:
    if not isinstance(data, dict):
        return f"response is a JSON {_kind(data)}, not a completion object"
    first = exc.errors()[0]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"]).lstrip(".")
    if where == "choices" and first["type"] == "missing":
        return "response has no 'choices'"
    if where == "choices" and first["type"] == "too_short":
        return "response has an empty 'choices' list"
    msg = re.sub(
        r" or instance of \w+", "", first["msg"].removeprefix("Value error, ").removeprefix("Input ")
    )
    more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
    return f"response is not a completion: '{where}' {msg}{more}"


def _error_text(data: dict[str, Any]) -> str:
    err = data.get("error")
    if isinstance(err, dict):
        err = err.get("message") or err
    elif err is None:
        err = data.get("message") or data
    return " ".join(str(err).split())[:500]


def _kind(value: Any) -> str:
    names = {list: "array", dict: "object", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _snippet(data: Any, limit: int = BODY_SHOWN) -> str:
    text = json.dumps(data, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"
