"""Plain chain-of-thought runner: the source of the first-thought prefix and the CoT / RAG baselines.

The model answers with a step-by-step explanation; the answer is taken from the last ``\\boxed{…}``, else the
last "answer is …" / "answer to the question is …" / "Final answer: …" phrase or "Answer: …" line (markdown
emphasis allowed; a phrase repeated on that line — "the answer is: The answer is: X", "3. Wait, the answer is
4" — counts from its last occurrence; an answer in ``$…$`` drops the sentence after it, as in the Minerva
ending "The final answer is $X$. I hope it is correct."; a new sentence or a "which/because/…" clause after
the answer on its line is dropped, but not at an abbreviation or initial: "St. Louis"), else the last non-empty
line. With a retriever, the top-k
passages for the question are put before it (RAG baseline).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agentdistill.agent.prompts import load_prompt
from agentdistill.agent.settings import MAX_TOKENS, SEARCH_K
from agentdistill.data.answers import last_boxed  # the one boxed extractor (shared with grading)
from agentdistill.data.task import Task
from agentdistill.llm.types import LLM, GenerationConfig, Usage

# "the answer is X", "final answer: X", and a labelled line "Answer: X" / "**Answer:** X" / "> Final Answer - X"
_ANSWER_IS = re.compile(
    r"(?:the\s+(?:final\s+)?answer(?:\s+to\s+(?:the|this)\s+question)?\s+is|final\s+answer"
    r"|^[ \t>#*_]*(?:short\s+)?answer[ \t*_]*(?=[:：-]))[ \t*_]*[:：-]?\s*(?P<ans>.+)",
    re.IGNORECASE | re.MULTILINE,
)

# one $…$ answer, then a sentence with no more math: "$2\\pi$. I hope it is correct"
_MATH_THEN_PROSE = re.compile(r"(\$[^$]+\$)[ \t]*[.,;:!]?(?:[ \t]+[^$]*)?$")

# An explanation after the answer on its line: a new sentence ("Paris. Paris is the capital") or a clause
# after a comma ("Paris, which is ..."). A full stop after an abbreviation or an initial ("St. Louis",
# "J. K. Rowling", "Washington D.C. is") does not end the answer.
_NOT_SENTENCE_END = (
    r"(?<!\b[A-Za-z])(?<!\.[A-Za-z])(?<!\bSt)(?<!\bMt)(?<!\bFt)(?<!\bMr)(?<!\bMs)(?<!\bDr)(?<!\bJr)(?<!\bSr)"
    r"(?<!\bNo)(?<!\bvs)(?<!\bCo)(?<!\bMrs)(?<!\bInc)(?<!\bLtd)(?<!\bGen)(?<!\bCol)(?<!\bGov)(?<!\bSen)"
    r"(?<!\bRev)(?<!\bvol)(?<!\bProf)(?<!\bSgt)(?<!\bCapt)(?<!\betc)"
)
_EXPLANATION = re.compile(
    _NOT_SENTENCE_END + r"[.!?][ \t]+(?=[A-Z\"'(])"
    r"|,[ \t]+(?:which|who|whose|because|since|as|so|but|although|though|while|meaning|making)\b",
)


@dataclass
class CotResult:
    text: str
    answer: str | None
    usage: Usage = field(default_factory=Usage)
    passages: list[Any] = field(default_factory=list)


def extract_answer(text: str) -> str | None:
    """Best-effort final answer of a CoT text (see module docstring for the order of rules)."""
    boxed = last_boxed(text)
    if boxed:
        return boxed
    matches = list(_ANSWER_IS.finditer(text))
    if matches:
        ans = matches[-1].group("ans").strip().splitlines()[0].strip()
        # the phrase repeated inside the answer ("the answer is: The answer is: X", "3. Wait, the answer is 4")
        while (inner := list(_ANSWER_IS.finditer(ans))) and inner[-1].group("ans").strip():
            ans = inner[-1].group("ans").strip()
        ans = ans.rstrip(".").strip().strip("*_").strip().rstrip(".").strip()
        # "$2\\pi$. I hope it is correct." (the Minerva ending): the math, not the sentence after it
        math = _MATH_THEN_PROSE.match(ans)
        ans = math.group(1) if math else _EXPLANATION.split(ans, maxsplit=1)[0].strip()
        if ans:
            return ans
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def _format_passages(passages: list[Any]) -> str:
    return "\n".join(f"[{i}] {p.title}: {p.text}" for i, p in enumerate(passages, start=1))


def run_cot(
    task: Task, llm: LLM, gen: GenerationConfig | None = None, retriever: Any = None, k: int = SEARCH_K
) -> CotResult:
    """Answer ``task`` with one plain CoT generation (optionally with the top-k retrieved passages)."""
    gen = gen or GenerationConfig(max_tokens=MAX_TOKENS)
    system = load_prompt("cot").render(kind=task.kind, search=False)
    user = task.question
    passages: list[Any] = []
    if retriever is not None:
        passages = list(retriever.search(task.question, k=k))
        if passages:
            user = f"Passages:\n{_format_passages(passages)}\n\nQuestion: {task.question}"
    result = llm.generate([{"role": "system", "content": system}, {"role": "user", "content": user}], gen)
    text = result.text
    return CotResult(text=text, answer=extract_answer(text), usage=result.usage, passages=passages)
