"""Render chat messages with a model's Jinja chat template, the way transformers does.

Shared by the llama.cpp backend (template from GGUF metadata), the HTTP fallback (client-side prompt for
``/v1/completions``) and the GGUF → HF converter (ChatML template written into the tokenizer).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from agentdistill.llm.types import GenerationError, Message

# Plain ChatML (what all three embedded models use), with `{% generation %}` marks so TRL's
# assistant-only loss can find assistant turns.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class _GenerationTag(jinja2.ext.Extension):
    """Pass-through for HF's ``{% generation %}`` tag (only meaningful for training masks)."""

    tags = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> list[jinja2.nodes.Node]:
        parser.stream.skip(1)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


def _raise(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(x: Any, ensure_ascii: bool = False, indent: int | None = None, **kw: Any) -> str:
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, **kw)


@lru_cache(maxsize=16)
def _compile(template: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_GenerationTag, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda f: datetime.now().strftime(f)
    return env.from_string(template)


def render_chat(
    template: str | None,
    messages: list[Message],
    *,
    add_generation_prompt: bool = True,
    bos_token: str = "",
    eos_token: str = "",
) -> str:
    """Render ``messages`` to the prompt text; ``None`` template means ChatML."""
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise GenerationError(f"message {i} must be a dict with 'role' and 'content', got {m!r:.120}")
    try:
        return _compile(template or CHATML_TEMPLATE).render(
            messages=messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=bos_token,
            eos_token=eos_token,
        )
    except jinja2.TemplateError as exc:
        raise GenerationError(f"chat template failed to render the messages: {exc}") from exc


def render_prompt(
    template: str | None,
    messages: list[Message],
    prefix: str = "",
    *,
    bos_token: str = "",
    eos_token: str = "",
) -> str:
    """The exact prompt text a completion continues: the chat with its generation prompt, then ``prefix``
    (an assistant prefix to continue, e.g. a first-thought prefix)."""
    return (
        render_chat(template, messages, add_generation_prompt=True, bos_token=bos_token, eos_token=eos_token)
        + prefix
    )
