"""System prompts as Jinja templates (package data in ``agent/prompts/*.j2``) or user files.

A template's first line may carry settings in a Jinja comment, e.g. ``{#- agentdistill: search_tool=web_search -#}``:
the ``paper`` prompt names the search tool ``web_search`` so that models released with the paper work unchanged,
asks for the paper's turns (``format=paper``: agent/turns.py, agent/paper_format.py) and for no trailing newline
(``trailing_newline=no``: the paper's system prompt ends without one).
Variables: ``search_tool`` (tool name, or None when no retriever), ``kind`` ("qa"/"math"), ``max_steps``, ``k``.
Top-level ``{% set name %}…{% endset %}`` variables are read by ``PromptTemplate.strings`` (the ``paper`` format's
turn strings: answer-format line, retry line, error messages, forced-answer call; see agent/paper_format.py).
The teacher prompt shows one worked example matching the task kind (QA: multi-hop search; math: Python);
the student prompt has no examples and does not depend on the kind, so it is identical at training and inference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jinja2

# Stop strings that end a step live with the step format: the end marker, not a closing fence.
from agentdistill.agent.parse import STEP_STOP  # noqa: F401 (re-exported)
from agentdistill.agent.settings import MAX_STEPS, SEARCH_K

BUILTIN = ("student", "teacher", "paper", "cot")
_HEADER = re.compile(r"^\{#-?\s*agentdistill:(?P<body>.*?)-?#\}")

_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
    autoescape=False,
)


class PromptError(ValueError):
    """A prompt name or file could not be loaded or rendered; the message names it."""


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    source: str
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def search_tool(self) -> str:
        return self.settings.get("search_tool", "search")

    def render(
        self, *, kind: str = "qa", search: bool = True, max_steps: int = MAX_STEPS, k: int = SEARCH_K
    ) -> str:
        try:
            template = _ENV.from_string(self.source)
            text = template.render(
                search_tool=self.search_tool if search else None, kind=kind, max_steps=max_steps, k=k
            )
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", None)
            where = f" line {line}" if line else ""
            raise PromptError(f"prompt '{self.name}'{where}: {exc}") from exc
        return text.strip() + ("" if self.settings.get("trailing_newline") == "no" else "\n")

    def strings(
        self, *, kind: str = "qa", search: bool = True, max_steps: int = MAX_STEPS, k: int = SEARCH_K
    ) -> dict[str, object]:
        """The template's top-level variables (``{% set name %}text{% endset %}`` or ``{% set name = ... %}``),
        rendered with the same variables as ``render``: strings a turn format reads (agent/paper_format.py)."""
        try:
            module = _ENV.from_string(self.source).make_module(
                {
                    "search_tool": self.search_tool if search else None,
                    "kind": kind,
                    "max_steps": max_steps,
                    "k": k,
                }
            )
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", None)
            raise PromptError(f"prompt '{self.name}'{f' line {line}' if line else ''}: {exc}") from exc
        return {name: value for name, value in vars(module).items() if not name.startswith("_")}


def _settings(source: str) -> dict[str, str]:
    match = _HEADER.match(source.lstrip())
    if not match:
        return {}
    pairs = (item.split("=", 1) for item in match.group("body").split() if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs}


@lru_cache(maxsize=32)
def _load_builtin(name: str) -> PromptTemplate:
    source = resources.files("agentdistill.agent").joinpath("prompts", f"{name}.j2").read_text("utf-8")
    return PromptTemplate(name=name, source=source, settings=_settings(source))


def load_prompt(name_or_path: str | Path) -> PromptTemplate:
    """A built-in prompt by name (student, teacher, paper, cot) or a user's template file."""
    if isinstance(name_or_path, str) and name_or_path in BUILTIN:
        return _load_builtin(name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        raise PromptError(
            f"prompt '{name_or_path}' is neither a built-in ({', '.join(BUILTIN)}) nor an existing file"
        )
    source = path.read_text("utf-8")
    try:
        _ENV.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise PromptError(f"{path}:{exc.lineno}: template syntax error: {exc.message}") from exc
    return PromptTemplate(name=str(path), source=source, settings=_settings(source))
