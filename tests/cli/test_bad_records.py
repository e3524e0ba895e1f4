"""Bad records and stamps in files a command resumes or reads (docs/reviews/bad-input-2026-12-02.md items 8, 11,
12, 16, 17, 19): one line naming the file (and line and field), a non-zero exit, and no file changed. Each case
failed before (a traceback, a wrong explanation, or a silent success).

The records are made by the commands themselves: the real CLI, with the model load replaced by a scripted
model (``ReplayLLM``), as tests/cli/test_terminal_safe.py does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentdistill.agent.paper_import import iter_paper_log
from agentdistill.agent.records import read_trajectories
from agentdistill.agent.replay import ReplayLLM

from .helpers import assert_one_line_error, run_cli, write_tasks

F = "```"
COT = "2 plus 3 is 5, so the answer is \\boxed{5}."
AGENT = f"Thought: add\nCode:\n{F}py\nfinal_answer(5)\n{F}<end_code>"
PAPER_LOG = Path(__file__).parents[1] / "agent" / "fixtures" / "paper_log.jsonl"


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every model spec loads a scripted model answering 5 (a CoT answer, or one agent step)."""

    def load(spec: str, **_: object) -> ReplayLLM:
        return ReplayLLM([COT if "cot" in spec else AGENT], name=spec, cycle=True)

    monkeypatch.setattr("agentdistill.models.loading.load_llm", load)


def _drop_task(path: Path, line: int) -> bytes:
    """Remove ``task`` from record ``line`` (1-based) of a JSONL file; return the file's new bytes."""
    lines = path.read_text(encoding="utf-8").split("\n")
    rec = json.loads(lines[line - 1])
    del rec["task"]
    lines[line - 1] = json.dumps(rec, ensure_ascii=False)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path.read_bytes()


def _generate(tasks: Path, out: Path, mode: str) -> tuple[str, ...]:
    return ("generate", "-t", tasks, "--teacher", f"{mode}-teacher", "--out", out, "--mode", mode)


@pytest.mark.usefixtures("scripted")
@pytest.mark.parametrize("mode", ["agent", "cot"])
def test_resumed_generate_with_a_record_without_task(tmp_path: Path, mode: str) -> None:
    tasks, out = write_tasks(tmp_path / "t.jsonl", 2), tmp_path / "g.jsonl"
    args = (*_generate(tasks, out, mode), "--retriever", "")
    assert run_cli(*args).code == 0
    before = _drop_task(out, 2)
    assert_one_line_error(run_cli(*args), f"{out}:2", "field 'task'")
    assert out.read_bytes() == before


@pytest.mark.usefixtures("scripted")
def test_resumed_eval_with_a_record_without_task(tmp_path: Path) -> None:
    tasks, run = write_tasks(tmp_path / "t.jsonl", 2), tmp_path / "run"
    args = ("eval", "--model", "cot-student", "-s", tasks, "--out", run, "--mode", "cot")
    assert run_cli(*args).code == 0
    results = run / "results.jsonl"
    before = _drop_task(results, 2)
    assert_one_line_error(run_cli(*args), f"{results}:2", "field 'task'")
    assert results.read_bytes() == before


@pytest.mark.usefixtures("scripted")
def test_filter_cot_record_without_task(tmp_path: Path) -> None:
    tasks, gen = write_tasks(tmp_path / "t.jsonl", 2), tmp_path / "cot.jsonl"
    assert run_cli(*_generate(tasks, gen, "cot")).code == 0
    _drop_task(gen, 1)
    kept = tmp_path / "kept.jsonl"
    assert_one_line_error(run_cli("filter", gen, "--out", kept, "--mode", "cot"), f"{gen}:1", "field 'task'")
    assert not kept.exists()


@pytest.mark.usefixtures("scripted")
def test_generate_out_is_a_directory(tmp_path: Path) -> None:
    tasks, gen = write_tasks(tmp_path / "t.jsonl", 1), tmp_path / "gen"
    gen.mkdir()
    line = assert_one_line_error(run_cli(*_generate(tasks, gen, "cot")), f"--out {gen}", "is a directory")
    assert "settings" not in line and list(gen.iterdir()) == []


@pytest.mark.usefixtures("scripted")
def test_a_corrupt_stamp_is_named_as_not_json(tmp_path: Path) -> None:
    tasks, out = write_tasks(tmp_path / "t.jsonl", 1), tmp_path / "g.jsonl"
    assert run_cli(*_generate(tasks, out, "cot")).code == 0
    stamp = tmp_path / "g.jsonl.stamp.json"
    stamp.write_text("{")
    line = assert_one_line_error(run_cli(*_generate(tasks, out, "cot")), f"{stamp}: not valid JSON")
    assert "other settings" not in line and stamp.read_text() == "{"


@pytest.mark.usefixtures("scripted")
def test_output_without_a_stamp_names_no_missing_file_as_holding_settings(tmp_path: Path) -> None:
    tasks, out = write_tasks(tmp_path / "t.jsonl", 1), tmp_path / "g.jsonl"
    assert run_cli(*_generate(tasks, out, "cot")).code == 0
    other = tmp_path / "other.jsonl"
    other.write_bytes(out.read_bytes())  # records without their stamp
    line = assert_one_line_error(run_cli(*_generate(tasks, other, "cot")), str(other), "no settings stamp")
    assert "holds the old settings" not in line and not (tmp_path / "other.jsonl.stamp.json").exists()


def test_eval_cot_with_a_missing_prompt_file(tmp_path: Path) -> None:
    tasks, run, missing = write_tasks(tmp_path / "t.jsonl", 1), tmp_path / "run", tmp_path / "nonexist.j2"
    r = run_cli("eval", "--model", "m", "-s", tasks, "--out", run, "--mode", "cot", "--prompt", missing)
    assert_one_line_error(r, "--prompt", str(missing))
    assert not run.exists()  # refused before the model, before the run dir


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('"aliases": 5', "aliases"),
        ('"aliases": [["4"]]', "aliases"),
        ('"aliases": {"a": "4"}', "aliases"),
        ('"meta": "x"', "meta"),
        ('"meta": [1]', "meta"),
    ],
)
def test_task_file_with_wrongly_typed_aliases_or_meta(tmp_path: Path, extra: str, field: str) -> None:
    path = tmp_path / "wrongtype.jsonl"
    path.write_text('{"id": "0", "question": "What is 2+2?", "answer": "4"}\n'
                    f'{{"id": "1", "question": "q", "answer": "4", {extra}}}\n')  # fmt: skip
    r = run_cli("generate", "-t", path, "--teacher", "m", "--out", tmp_path / "g.jsonl", "--retriever", "")
    assert_one_line_error(r, f"{path}:2", f"field '{field}'")
    assert not (tmp_path / "g.jsonl").exists()


def test_task_aliases_and_meta_in_their_accepted_shapes(tmp_path: Path) -> None:
    from agentdistill.data import load_tasks

    path = tmp_path / "t.csv"
    path.write_text('question,answer,aliases,meta\nq1,4,four|IV,"{""src"": ""x""}"\nq2,5,,\n')
    t1, t2 = load_tasks(str(path))
    assert (t1.aliases, t1.meta, t2.aliases, t2.meta) == (["four", "IV"], {"src": "x"}, [], {})
    js = tmp_path / "t.jsonl"
    js.write_text('{"question": "q", "answer": "4", "aliases": [4, "four"], "meta": {"a": 1}}\n')
    assert [(t.aliases, t.meta) for t in load_tasks(str(js))] == [(["4", "four"], {"a": 1})]


@pytest.mark.usefixtures("scripted")
@pytest.mark.parametrize("value", ["0", "-1"])
def test_filter_max_per_task_below_one(tmp_path: Path, value: str) -> None:
    tasks, gen = write_tasks(tmp_path / "t.jsonl", 1), tmp_path / "cot.jsonl"
    assert run_cli(*_generate(tasks, gen, "cot")).code == 0
    kept = tmp_path / "kept.jsonl"
    r = run_cli("filter", gen, "--out", kept, "--mode", "cot", "--max-per-task", value)
    assert_one_line_error(r, "--max-per-task", "1")
    assert not kept.exists()


def test_filter_unknown_mode(tmp_path: Path) -> None:
    src = tmp_path / "t.jsonl"
    src.write_text("{}\n")
    assert_one_line_error(
        run_cli("filter", src, "--out", tmp_path / "k.jsonl", "--mode", "foo"), "--mode", "foo"
    )


@pytest.mark.parametrize("mode", ["agent", "cot"])
@pytest.mark.parametrize("content", ["", "\n\n"])
def test_filter_of_a_file_without_records(tmp_path: Path, mode: str, content: str) -> None:
    empty, kept = tmp_path / "empty.jsonl", tmp_path / "kept.jsonl"
    empty.write_text(content)
    r = run_cli("filter", empty, "--out", kept, "--mode", mode)
    assert_one_line_error(r, str(empty), "no records")
    assert not kept.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["empty.jsonl"]


def test_import_paper_keeps_line_separators_inside_strings(tmp_path: Path) -> None:
    first = json.loads(PAPER_LOG.read_text(encoding="utf-8").split("\n")[0])
    odd = " a\u2028b\u2029c\u0085d"
    first["log_data"]["messages"][4]["content"][0]["text"] += odd  # the tool response (an observation)
    log = tmp_path / "u2028.jsonl"
    log.write_text(json.dumps(first, ensure_ascii=False) + "\n", encoding="utf-8")
    assert "\u2028" in log.read_text(encoding="utf-8")  # raw in the file, as ensure_ascii=False writes it
    out = tmp_path / "t.jsonl"
    r = run_cli("import-paper", log, "--out", out)
    assert r.code == 0 and "imported 1 trajectories" in r.stdout, r.stderr
    (traj,) = read_trajectories(out)
    assert traj.messages[3]["content"].endswith(odd) and traj.steps[0].observation.endswith(odd)
    assert [t.messages for t in iter_paper_log(log)] == [traj.messages]
