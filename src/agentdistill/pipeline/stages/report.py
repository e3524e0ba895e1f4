"""Stage ``report``: Markdown + HTML report of the eval runs (this run's, else every current run on disk)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentdistill.pipeline.stages.base import Context, Stage, console, slug


def _runs_on_disk(eval_dir: Path, order: list[str]) -> list[Path]:
    """Every current run folder (none retired, ``.stale-N``): the config's rows in its order (``order``: their
    folder names), then any others by name. A ``--stages report`` re-run then lists rows as the full run did."""
    found = {p.name: p for p in eval_dir.iterdir() if p.is_dir() and ".stale-" not in p.name}
    return [found[n] for n in order if n in found] + [found[n] for n in sorted(found) if n not in order]


class ReportStage(Stage):
    name = "report"
    inputs = ("eval",)

    def run(self, ctx: Context) -> Any:
        from agentdistill.evaluate.records import load_run
        from agentdistill.evaluate.report import write_report

        dirs = ctx.outputs.get("eval") or _runs_on_disk(
            ctx.work / "eval", [slug(r.label) for r in ctx.cfg.eval.runs]
        )
        from agentdistill.evaluate.compare import parse_pair
        from agentdistill.pipeline.ledger import write_ledger

        runs = [load_run(d) for d in dirs]
        labels = {r.label for r in runs}
        pairs = [parse_pair(c) for c in ctx.cfg.compare]
        for a, b in pairs:  # a report made part-way (`--stages report`) has not every row yet
            if not {a, b} <= labels:
                console.print(f"[yellow]compare '{a} vs {b}': not every row has results yet; left out[/]")
        paths = write_report(
            runs,
            ctx.folder(self),
            title=ctx.cfg.report_title,
            comparisons=[(a, b) for a, b in pairs if {a, b} <= labels],
        )
        write_ledger(ctx.work, ctx.folder(self))  # yield and hours per stage, summed over every invocation
        ctx.result.report_md, ctx.result.report_html = paths.markdown, paths.html
        return paths

    def settings(self, cfg: Any) -> None:
        return None


REPORT = ReportStage()
