"""`agentdistill import-paper FILE --out T.jsonl`: the paper's released trajectories as our Trajectory JSONL.

The output trains like any generated file (`agentdistill filter`, then `train`); use the ``paper`` prompt
(`--student-prompt paper` in train, `--prompt paper` in eval) so the student sees the paper's turns.
"""

from __future__ import annotations

from pathlib import Path

import typer


def import_paper(
    file: Path = typer.Argument(
        ..., help="A log file in the paper's format (JSONL of records with log_data)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Trajectory JSONL to write (replaced if it exists)."),
    dataset: str = typer.Option(
        "", "--dataset", help="Dataset name for the tasks (default: the file's stem)."
    ),
    kind: str = typer.Option(
        "auto", "--kind", help="Task kind: qa, math, or auto (qa when web_search is used)."
    ),
) -> None:
    """Convert the authors' agent logs (e.g. their published teacher trajectories) into trajectories."""
    from agentdistill.agent.paper_import import PaperLogError, iter_paper_log
    from agentdistill.agent.records import TrajectoryWriter
    from agentdistill.common.files import atomic_file

    if kind not in ("auto", "qa", "math"):
        typer.echo(f"error: --kind must be auto, qa or math, got {kind!r}", err=True)
        raise typer.Exit(code=2)
    skipped: list[str] = []
    counts = {"n": 0, "correct": 0, "forced": 0}
    try:  # the output replaces --out only when the whole log converted; never the input log itself
        with atomic_file(out, file) as tmp, TrajectoryWriter(tmp, fsync=False) as writer:
            for traj in iter_paper_log(file, dataset=dataset or None, kind=kind, skipped=skipped):
                writer.write(traj)
                counts["n"] += 1
                counts["correct"] += bool(traj.correct)
                counts["forced"] += bool(getattr(traj, "forced_final_answer", False))
    except PaperLogError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(
        f"imported {counts['n']} trajectories ({counts['correct']} graded correct, {counts['forced']} forced "
        f"final answers) to {out}"
        + (f"; skipped {len(skipped)} crashed runs without a log" if skipped else "")
    )


def register(root: typer.Typer) -> None:
    """Add the `import-paper` command to the root app."""
    from agentdistill.cli._common import user_errors

    root.command("import-paper")(user_errors(import_paper))
