"""LLM judge for QA answers, in the paper's format, through the ``llm`` interface (any backend).

Format (Kang et al. 2025, ``exps_research/unified_framework/score_answers.py`` in Nardien/agent-distillation):
the judge sees the question, the predicted answer (cut to 1,000 characters) and the gold answer, is asked
whether they match in meaning (aliases and rephrasing accepted, an answer too verbose to carry the gold's key
information rejected) and replies with a JSON object ``{"explanation": str, "score": 0 | 1}``. The rubric is
``grading/prompts/judge.md``.

A reply with no readable score is *malformed*: the judge is asked again (``retries`` times, the bad reply and a
format reminder added to the chat); if it is still unreadable the verdict is ``None``, graded as
``method="judge-unparsed"`` (counted as not correct, and counted separately by ``JudgeTally``). Verdicts are
cached in a JSONL file keyed by (judge model, rubric, question, gold, prediction): re-grading costs nothing, and
a line torn by a kill is skipped and re-judged.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from agentdistill.common.jsonl import iter_jsonl
from agentdistill.common.progress import stage_progress
from agentdistill.data.task import Task
from agentdistill.grading.types import Grade

MAX_PREDICTION_CHARS = 1000  # as the paper's judge
FORMAT_REMINDER = (
    'Your reply could not be read. Reply with only a JSON object: {"explanation": "<one sentence>", "score": 1} '
    'if the answers match, or with "score": 0 if they do not.'
)
# a "score": N fragment, also as markdown ("**Score:** 1", "Score: **0**"); not "1.5" or "10"
# ("'score': 1" in a Python-style dict, "The score is 1.")
_SCORE_RE = re.compile(
    r"""["']?score["']?(?:[\s*_]*[:=]|\s+is)[\s*_]*["']?\s*([01])(?!\d|\.\d)""", re.IGNORECASE
)
# a last line that is only a verdict: "CORRECT", "1", "Verdict: incorrect", "The answer is not correct."
_VERDICT_RE = re.compile(
    r"(?:(?:final\s+)?(?:verdict|judgement|judgment|evaluation|result)\s*[:=-]\s*)?"
    r"(?:the\s+(?:predicted\s+)?answer\s+is\s+)?(?P<neg>not\s+)?"
    r"(?P<word>correct|incorrect|right|wrong|true|false|yes|no|match|no match|1|0)",
    re.IGNORECASE,
)
_POSITIVE = {"correct", "right", "true", "yes", "match", "1"}
_OBJECT_RE = re.compile(r"\{.*?\}", re.DOTALL)


def load_rubric() -> str:
    return resources.files("agentdistill.grading").joinpath("prompts/judge.md").read_text(encoding="utf-8")


def parse_verdict(text: str) -> bool | None:
    """``score`` 1 -> True, 0 -> False, from the last JSON object in ``text`` (code fences allowed), else from
    a ``"score": N`` fragment (a reply cut short, ``Score: 1/1``, ``The score is 0``), else from a last line
    that is only a verdict (``CORRECT``, ``1``, ``The answer is not correct.``, as small judges reply without
    the JSON); anything else -> None (malformed)."""
    text = text or ""
    for raw in reversed(_OBJECT_RE.findall(text)):
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and "score" in obj:
            score = obj["score"]
            if isinstance(score, bool):
                return score
            if isinstance(score, int | float) and score in (0, 1):
                return bool(score)
            if isinstance(score, str) and score.strip() in ("0", "1"):
                return score.strip() == "1"
            return None
    found = _SCORE_RE.findall(text)
    if found:
        return found[-1] == "1"
    lines = [ln.strip(" \t*_`#>.!").strip() for ln in text.splitlines() if ln.strip(" \t*_`#>.!")]
    verdict = _VERDICT_RE.fullmatch(lines[-1]) if lines else None
    if verdict is None:
        return None
    return (verdict.group("word").lower() in _POSITIVE) != bool(verdict.group("neg"))


@dataclass
class JudgeTally:
    """Judge results over a set of predictions, beside exact match. Counts, not rates (see ``as_dict``)."""

    n: int = 0
    judged_correct: int = 0
    unparsed: int = 0
    em_correct: int = 0
    agree: int = 0  # parsed verdicts equal to the EM verdict
    judged: int = 0  # parsed verdicts: what agreement is over
    empty: int = 0  # empty predictions: wrong without asking the judge, so not in the agreement

    def add(self, grade: Grade, em_correct: bool) -> None:
        self.n += 1
        self.em_correct += bool(em_correct)
        if grade.method == "judge-unparsed":
            self.unparsed += 1
            return
        if grade.method == "judge-empty":
            self.empty += 1
            return
        self.judged += 1
        self.judged_correct += bool(grade.correct)
        self.agree += bool(grade.correct) == bool(em_correct)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "judge_correct": self.judged_correct,
            "unparsed": self.unparsed,
            "em_correct": self.em_correct,
            "judge_accuracy": self.judged_correct / self.n if self.n else None,
            "em_accuracy": self.em_correct / self.n if self.n else None,
            "agreement": self.agree / self.judged if self.judged else None,
            "judged": self.judged,
            "empty": self.empty,
        }


class LLMJudge:
    """Grade QA predictions with a judge model; ``llm`` is any object with ``generate(messages, config)``.

    ``retries``: extra attempts after a malformed reply. ``max_tokens``: per reply (the explanation is short).
    """

    def __init__(
        self,
        llm: Any,
        cache_path: str | Path | None = None,
        *,
        rubric: str | None = None,
        max_tokens: int = 160,
        retries: int = 2,
    ) -> None:
        self.llm = llm
        self.rubric = rubric or load_rubric()
        self.max_tokens = max_tokens
        self.retries = retries
        self.model = str(getattr(llm, "name", type(llm).__name__))
        self.cache_path = Path(cache_path) if cache_path else None
        self._cache: dict[str, dict] = {}
        self._lock = threading.Lock()
        if self.cache_path and self.cache_path.exists():
            self._cache.update(read_cache(self.cache_path))

    def key(self, question: str, prediction: str, answer: str = "") -> str:
        blob = json.dumps([self.model, self.rubric, question, prediction, answer])
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _ask(self, question: str, answer: str, pred: str) -> tuple[bool | None, list[str]]:
        from agentdistill.llm.types import GenerationConfig

        prompt = self.rubric.format(question=question, answer=answer, prediction=pred[:MAX_PREDICTION_CHARS])
        messages = [{"role": "user", "content": prompt}]
        config = GenerationConfig(max_tokens=self.max_tokens, temperature=0.0, seed=0)
        replies: list[str] = []
        for _ in range(1 + self.retries):
            result = self.llm.generate(messages, config)
            reply = result.completions[0].text if result.completions else ""
            replies.append(reply)
            verdict = parse_verdict(reply)
            if verdict is not None:
                return verdict, replies
            messages = messages + [
                {"role": "assistant", "content": reply},
                {"role": "user", "content": FORMAT_REMINDER},
            ]
        return None, replies

    def judge(self, question: str, answer: str, prediction: object) -> Grade:
        """Grade one prediction against the gold ``answer``. An empty prediction is not correct (no call)."""
        pred = "" if prediction is None else str(prediction)
        if not pred.strip():
            return Grade(correct=False, em=0.0, method="judge-empty", detail="empty prediction")
        k = self.key(question, pred, answer)
        rec = self._cache.get(k)
        if rec is None:
            start = time.perf_counter()
            verdict, replies = self._ask(question, answer, pred)
            rec = {
                "key": k,
                "model": self.model,
                "question": question,
                "prediction": pred,
                "answer": answer,
                "raw": replies[-1],
                "replies": replies,
                "attempts": len(replies),
                "verdict": verdict,
                "seconds": round(time.perf_counter() - start, 3),  # the calls' wall time (a cache hit: none)
            }
            with self._lock:
                self._cache[k] = rec
                if self.cache_path:
                    self.cache_path.parent.mkdir(parents=True, exist_ok=True)
                    with self.cache_path.open("a", encoding="utf-8") as fh:
                        fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        verdict = rec["verdict"]
        if verdict is None:
            return Grade(
                correct=False,
                method="judge-unparsed",
                detail=f"unparsed judge output after {rec.get('attempts', 1)} attempts: {rec['raw'][:200]!r}",
            )
        return Grade(correct=verdict, em=float(verdict), method="judge", detail=rec["raw"][:200])

    def seconds(self, task: Task, prediction: object) -> float:
        """Wall seconds the judge's calls took for this verdict when it was made (0.0: not judged yet, an empty
        prediction, or a cache line written before the cache recorded time)."""
        pred = "" if prediction is None else str(prediction)
        rec = self._cache.get(self.key(task.question, pred, _gold(task)))
        return float((rec or {}).get("seconds") or 0.0)

    def grade(self, task: Task, prediction: object) -> Grade:
        """Judge ``prediction`` against the task's answer (aliases listed after it, as the gold)."""
        return self.judge(task.question, _gold(task), prediction)


def read_cache(path: Path) -> dict[str, dict]:
    """The verdicts of a judge cache file by key. Lines end at ``\n`` only (a prediction may hold U+2028 or
    U+0085, which ``str.splitlines`` would split at); a line cut short by a kill (later appends may run on from
    it) is skipped: its verdict is simply judged again."""
    cache: dict[str, dict] = {}
    for raw in path.read_bytes().split(b"\n"):
        try:
            rec = json.loads(raw.decode("utf-8"))
            cache[rec["key"]] = rec
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
            continue
    return cache


def _gold(task: Task) -> str:
    """The gold the judge sees: the answer, then its aliases."""
    return task.answer if not task.aliases else f"{task.answer} (also accepted: {', '.join(task.aliases)})"


JUDGE_FILE = "judge.jsonl"
JUDGE_SUMMARY = "judge_summary.json"


def judge_results_file(
    results: str | Path, judge: LLMJudge, out_dir: str | Path | None = None
) -> dict[str, Any]:
    """Judge every QA prediction of an eval run's ``results.jsonl`` beside its EM grade.

    Writes ``judge.jsonl`` (one verdict per QA question: set, id, prediction, EM, judge grade) and
    ``judge_summary.json`` (per set: ``JudgeTally.as_dict()`` — n, judge accuracy, EM accuracy, agreement of
    parsed verdicts with EM, unparsed count —; the judge model; ``seconds``, the wall time its calls took when
    made, cached verdicts included) into ``out_dir`` (default: the results' folder), both atomically; returns
    the summary. Math questions are not judged (equivalence grading).
    A question recorded more than once (a failure, then its retry) is judged on its last record; records of
    backend failures are not judged. Raises ``ValueError`` naming the file and line of a record without
    ``task`` / ``grade``.
    """
    results = Path(results)
    out = Path(out_dir) if out_dir else results.parent
    latest: dict[tuple[str, str], tuple[Task, dict]] = {}  # a retried question's last record wins
    for number, rec in iter_jsonl(results, on_torn_tail=lambda msg: None):  # a torn tail: a run still going
        if "task" not in rec or "grade" not in rec:
            raise ValueError(f"{results}:{number}: not an eval result record (fields 'task' and 'grade')")
        task = Task.model_validate(rec["task"])
        latest[(task.dataset, task.id)] = (task, rec)
    tallies: dict[str, JudgeTally] = {}
    lines = []
    # a backend failure is no answer: not judged; math is graded by equivalence
    todo = [(t, r) for t, r in latest.values() if t.kind == "qa" and r.get("failure") is None]
    seconds = 0.0  # the verdicts' own wall time, cache hits too: a resumed row's total stays its real cost
    with stage_progress(f"judge {results.parent.name}", len(todo), unit="answers") as progress:
        for task, rec in todo:
            em = bool(rec["grade"].get("correct"))
            g = judge.grade(task, rec.get("prediction"))
            tallies.setdefault(task.dataset, JudgeTally()).add(g, em)
            seconds += judge.seconds(task, rec.get("prediction"))
            lines.append(
                json.dumps(
                    {
                        "set": task.dataset,
                        "id": task.id,
                        "prediction": rec.get("prediction"),
                        "em_correct": em,
                        "judge": g.model_dump(),
                    },
                    ensure_ascii=False,
                    default=str,
                )
            )
            progress.advance()
    summary = {
        "judge_model": judge.model,
        "per_set": {k: v.as_dict() for k, v in tallies.items()},
        "seconds": round(seconds, 1),
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (
        (JUDGE_FILE, "\n".join(lines) + ("\n" if lines else "")),
        (JUDGE_SUMMARY, json.dumps(summary, indent=2) + "\n"),
    ):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out / name)
    return summary


def read_judge_summary(run_dir: str | Path) -> dict[str, Any] | None:
    """An eval run's ``judge_summary.json`` (see ``judge_results_file``), or None when it was not judged."""
    path = Path(run_dir) / JUDGE_SUMMARY
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
