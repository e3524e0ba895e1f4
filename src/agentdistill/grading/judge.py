"""Optional LLM judge through the `llm` interface: rubric prompt, parsed verdict, JSONL cache per (question,
prediction) so re-grading a run costs nothing."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from importlib import resources
from pathlib import Path

from agentdistill.data.task import Task
from agentdistill.grading.types import Grade

_VERDICT_RE = re.compile(r"verdict\s*[:\-]?\s*\**\s*(correct|incorrect)\b", re.IGNORECASE)
_BARE_RE = re.compile(r"^\W*(correct|incorrect|yes|no)\W*$", re.IGNORECASE)


def load_rubric() -> str:
    return resources.files("agentdistill.grading").joinpath("prompts/judge.md").read_text(encoding="utf-8")


def parse_verdict(text: str) -> bool | None:
    """CORRECT -> True, INCORRECT -> False, anything else -> None ('unparsed')."""
    m = _VERDICT_RE.findall(text)
    if m:
        return m[-1].lower() == "correct"
    m2 = _BARE_RE.match(text.strip())
    if m2:
        return m2.group(1).lower() in ("correct", "yes")
    return None


class LLMJudge:
    """Grade with a judge model; `llm` is any object with `generate(messages, GenerationConfig) -> result`."""

    def __init__(self, llm, cache_path: str | Path | None = None, *, rubric: str | None = None,
                 max_tokens: int = 32) -> None:
        self.llm = llm
        self.rubric = rubric or load_rubric()
        self.max_tokens = max_tokens
        self.cache_path = Path(cache_path) if cache_path else None
        self._cache: dict[str, dict] = {}
        self._lock = threading.Lock()
        if self.cache_path and self.cache_path.exists():
            for line in self.cache_path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    self._cache[rec["key"]] = rec
                except (json.JSONDecodeError, KeyError, TypeError):
                    # a line cut short by a kill is skipped, not fatal: it is simply re-judged
                    continue

    @staticmethod
    def key(question: str, prediction: str, answer: str = "") -> str:
        return hashlib.sha256(json.dumps([question, prediction, answer]).encode("utf-8")).hexdigest()

    def judge(self, question: str, answer: str, prediction: object) -> Grade:
        pred = "" if prediction is None else str(prediction)
        k = self.key(question, pred, answer)
        rec = self._cache.get(k)
        if rec is None:
            from agentdistill.llm.types import GenerationConfig

            prompt = self.rubric.format(question=question, answer=answer, prediction=pred)
            result = self.llm.generate([{"role": "user", "content": prompt}],
                                       GenerationConfig(max_tokens=self.max_tokens, temperature=0))
            raw = result.completions[0].text if result.completions else ""
            rec = {"key": k, "question": question, "prediction": pred, "answer": answer, "raw": raw,
                   "verdict": parse_verdict(raw)}
            with self._lock:
                self._cache[k] = rec
                if self.cache_path:
                    self.cache_path.parent.mkdir(parents=True, exist_ok=True)
                    with self.cache_path.open("a", encoding="utf-8") as fh:
                        fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        verdict = rec["verdict"]
        if verdict is None:
            return Grade(correct=False, method="judge-unparsed", detail=f"unparsed judge output: {rec['raw'][:200]!r}")
        return Grade(correct=verdict, em=float(verdict), method="judge", detail=rec["raw"][:200])

    def grade(self, task: Task, prediction: object) -> Grade:
        return self.judge(task.question, task.answer, prediction)
