"""The parts' import arrows point one way, as drawn in docs/CONTRACTS.md (imports inside functions included)."""

import ast
from pathlib import Path

import pytest

import agentdistill

PKG = Path(agentdistill.__file__).resolve().parent

# part -> the parts it may import directly (docs/CONTRACTS.md); `common` is the shared toolbox below everything.
DIRECT = {
    "common": set(),
    "llm": set(),
    "models": {"llm"},
    "sandbox": set(),
    "retrieval": set(),
    "data": set(),
    "grading": {"llm", "data"},  # data: the Task record
    "agent": {"llm", "sandbox", "retrieval", "data"},  # data: the Task record
    "distill": {"agent", "data", "grading", "models"},
    "evaluate": {"agent", "data", "grading"},
    "pipeline": {"distill", "evaluate"},
    "cli": {
        "pipeline",
        "distill",
        "evaluate",
        "agent",
        "data",
        "grading",
        "models",
        "retrieval",
        "sandbox",
        "llm",
    },
}


def _closure(part: str) -> set[str]:
    seen, todo = set(), [part]
    while todo:
        for dep in DIRECT[todo.pop()]:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen | {part, "common"}


def _imported_parts(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = path.relative_to(PKG).parts
    out = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this file's package
                base = list(rel[:-1])[: len(rel) - 1 - (node.level - 1)]
                names = [".".join(["agentdistill", *base, *(node.module.split(".") if node.module else [])])]
            elif node.module:
                names = [node.module]
        for name in names:
            bits = name.split(".")
            if bits[0] == "agentdistill" and len(bits) > 1:
                out.append((node.lineno, bits[1]))
    return out


def _violations() -> list[str]:
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        if len(rel.parts) < 2:
            continue
        part = rel.parts[0]
        assert part in DIRECT, f"{rel}: part {part!r} is not in the contract map; add it to docs/CONTRACTS.md"
        allowed = _closure(part)
        for line, target in _imported_parts(path):
            if target in DIRECT and target not in allowed:
                bad.append(f"{rel}:{line}: {part} -> {target}")
    return bad


def test_import_arrows_match_contracts():
    assert _violations() == []


def test_checker_sees_a_wrong_way_import(tmp_path, monkeypatch):
    fake = tmp_path / "llm" / "bad.py"
    fake.parent.mkdir()
    fake.write_text("def f():\n    from agentdistill.agent.records import Trajectory\n")
    monkeypatch.setattr(__import__(__name__), "PKG", tmp_path)
    assert _violations() == ["llm/bad.py:2: llm -> agent"]


@pytest.mark.parametrize("part", sorted(DIRECT))
def test_every_part_exists(part):
    assert (PKG / part / "__init__.py").is_file()
