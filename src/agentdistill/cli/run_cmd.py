"""`agentdistill run "question"`: one agent episode with a live, coloured trace of every step."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from ._terminal import terminal_safe as safe

console = Console()


def _render_step(step, max_steps: int) -> Panel:  # noqa: ANN001 - agent.records.Step
    """One step's panel; every text from the model or the sandbox goes through ``safe`` (``_terminal.py``)."""
    parts: list = []
    if step.prefix:
        parts.append(
            Text.assemble(
                ("Prefix (first thought): ", "bold magenta"),
                (safe(step.prefix.strip().removeprefix("Thought:").strip()), "magenta"),
            )
        )
    parts.append(Text.assemble(("Thought: ", "bold cyan"), (safe(step.thought or "(none)"), "cyan")))
    if step.code:
        parts.append(Text("Code:", style="bold yellow"))
        parts.append(Syntax(safe(step.code), "python", theme="monokai", line_numbers=False, word_wrap=True))
    style = "red" if step.error_kind else "green"
    label = f"Observation ({step.error_kind}):" if step.error_kind else "Observation:"
    if step.observation.strip() or not step.has_final_answer:
        parts.append(Text(label, style=f"bold {style}"))
        parts.append(Text(safe(step.observation.rstrip()), style=style))
    if step.has_final_answer:
        parts.append(
            Text.assemble(("final_answer: ", "bold green"), (safe(repr(step.final_answer)), "green"))
        )
    extra = (
        f" · SAG {step.n_valid}/{step.n_candidates} valid, winner #{step.winner}"
        if step.n_candidates > 1
        else ""
    )
    title = f"Step {step.index + 1}/{max_steps}{extra} · {step.tokens} tok · {step.seconds:.1f}s"
    return Panel(Group(*parts), title=title, title_align="left", border_style="blue")


def _render_end(traj, max_steps: int) -> Panel:  # noqa: ANN001 - agent.records.Trajectory
    """The closing panel: the final answer, why there is none, or the error (through ``safe``, as the steps)."""
    t = traj.totals
    summary = (
        f"{t.steps} steps · {t.completion_tokens} tokens · {t.seconds:.1f}s "
        f"(generation {t.gen_seconds:.1f}s, execution {t.exec_seconds:.1f}s)"
    )
    if traj.status == "answered":
        text, title, colour = str(traj.final_answer), "Final answer", "green"
    elif traj.status in ("max_steps", "context_overflow"):
        why = traj.error if traj.status == "context_overflow" else f"No answer within {max_steps} steps."
        text, title, colour = str(why), traj.status, "yellow"
    else:
        text, title, colour = traj.error or "error", "error", "red"
    return Panel(Text(safe(text), style=f"bold {colour}"), title=title, subtitle=summary, border_style=colour)


def run(
    question: Annotated[str, typer.Argument(help="The task question.")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model spec, e.g. smollm2-135m, hf:DIR, openai:M@URL")
    ] = "qwen2.5-coder-0.5b",
    sag_n: Annotated[
        int,
        typer.Option(
            "--sag-n", "--sag", help="Self-consistent action generation: candidates per step (1 = off)."
        ),
    ] = 1,
    kind: Annotated[str, typer.Option("--kind", help="Task kind: qa or math.")] = "qa",
    prompt: Annotated[
        str, typer.Option("--prompt", help="student, teacher, paper, or a .j2 file.")
    ] = "student",
    max_steps: Annotated[int, typer.Option("--max-steps", help="Step limit.")] = 5,
    retriever: Annotated[
        str, typer.Option("--retriever", help="default (bundled BM25), an index DIR, a URL, or none.")
    ] = "default",
    k: Annotated[int, typer.Option("--k", help="Passages per search.")] = 3,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Token budget per step.")] = 512,
    temperature: Annotated[
        float, typer.Option("--temperature", help="Sampling temperature (SAG uses 0.4).")
    ] = 0.0,
    cot_prefix: Annotated[
        bool, typer.Option("--ftp/--no-ftp", help="First-thought prefix from the model's own CoT.")
    ] = False,
    save: Annotated[
        Path | None, typer.Option("--save", help="Append the trajectory to this JSONL file.")
    ] = None,
) -> None:
    """Run one agent episode and print its thought / code / observation trace and the final answer."""
    from agentdistill.agent import TrajectoryWriter, first_thought_prefix, load_prompt, run_cot, run_episode
    from agentdistill.agent.prompts import STEP_STOP, PromptError
    from agentdistill.data.task import Task
    from agentdistill.llm.types import GenerationConfig, GenerationError
    from agentdistill.models.loading import load_llm

    if kind not in ("qa", "math"):
        raise typer.BadParameter(f"--kind must be qa or math, got {kind!r}")
    if sag_n < 1 or max_steps < 1:
        raise typer.BadParameter("--sag-n and --max-steps must be >= 1")
    try:
        template = load_prompt(prompt)
    except PromptError as exc:
        raise typer.BadParameter(str(exc), param_hint="--prompt") from exc
    task = Task(id="cli", dataset="cli", kind=kind, question=question, answer="")
    ret = None
    if retriever.lower() != "none":
        from agentdistill.retrieval import load_retriever

        with console.status(f"Loading retriever '{retriever}'…"):
            ret = load_retriever(retriever)
    with console.status(f"Loading model '{model}'…"):
        try:
            llm = load_llm(model)
        except GenerationError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
    try:
        prefix = None
        if cot_prefix:
            with console.status("Chain of thought for the first-thought prefix…"):
                cot = run_cot(task, llm, GenerationConfig(max_tokens=max_tokens))
            prefix = first_thought_prefix(cot.text) or None
        console.rule(f"[bold]{question}")
        gen = GenerationConfig(max_tokens=max_tokens, temperature=temperature, stop=STEP_STOP)
        traj = run_episode(
            task,
            llm,
            retriever=ret,
            prompt=template,
            max_steps=max_steps,
            gen=gen,
            sag_n=sag_n,
            prefix=prefix,
            k=k,
            on_step=lambda step: console.print(_render_step(step, max_steps)),
        )
    finally:
        llm.close()
    console.print(_render_end(traj, max_steps))
    if save is not None:
        with TrajectoryWriter(save) as writer:
            writer.write(traj)
        console.print(f"[dim]trajectory appended to {save}[/dim]")
    if traj.status == "error":
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    """Adds the top-level `run` command."""
    root.command("run")(run)
