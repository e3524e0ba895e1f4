"""Stage ``report``: Markdown + HTML report of the eval runs (this run's, else every current run on disk)."""

from __future__ import annotations

from typing import Any

from agentdistill.pipeline.stages.base import Context, Stage, console


class ReportStage(Stage):
    name = "report"
    inputs = ("eval",)

    def run(self, ctx: Context) -> Any:
        from agentdistill.evaluate.records import load_run
        from agentdistill.evaluate.report import write_report

        eval_dir = ctx.work / "eval"
        dirs = ctx.outputs.get("eval") or sorted(p for p in eval_dir.iterdir() if ".stale-" not in p.name)
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
