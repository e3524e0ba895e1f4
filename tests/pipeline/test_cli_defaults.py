"""Each setting has one declaration: every CLI option that names a setting defaults to the settings model's value.

A new CLI option must either be a field of its command's settings model (same name, or an alias listed here) or
be listed as not a setting; a literal default that drifts from the model fails here.
"""

import inspect

import pytest
import typer.main

from agentdistill.agent import run_episode
from agentdistill.agent.loop import DEFAULT_GEN
from agentdistill.cli.main import app
from agentdistill.distill.settings import FilterSettings, GenerateSettings, TrainSettings
from agentdistill.evaluate.settings import EvalSettings

# command -> (settings model, CLI name -> field name where they differ, CLI params that are not settings)
COMMANDS = {
    "generate": (GenerateSettings, {}, {"tasks", "teacher", "out", "retriever", "n_ctx"}),
    "eval": (EvalSettings, {}, {"model", "sets", "out", "retriever", "n_ctx", "judge"}),
    # `mode` is the kind of records in the file (a generate setting), not a filter knob
    "filter": (FilterSettings, {}, {"src", "out", "mode", "judge"}),
    "train": (
        TrainSettings,
        {
            "lr": "learning_rate",
            "batch": "effective_batch",
            "grad_ckpt": "gradient_checkpointing",
            "compile_": "torch_compile",
        },
        {"data", "model", "out", "num_processes", "print_launch"},
    ),
}


def _defaults_of_episode() -> dict[str, object]:
    """`agentdistill run` drives run_episode directly: its defaults are run_episode's (and the loop's step config)."""
    sig = inspect.signature(run_episode)
    out = {name: p.default for name, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}
    out.update(max_tokens=DEFAULT_GEN.max_tokens, temperature=DEFAULT_GEN.temperature)
    return out


def _params(command: str) -> dict:
    root = typer.main.get_command(app)
    cmd = root.commands[command]  # type: ignore[attr-defined]
    return {p.name: p for p in cmd.params}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_cli_defaults_match_settings_model(command: str) -> None:
    model, aliases, not_settings = COMMANDS[command]
    problems = []
    for name, param in _params(command).items():
        if name in not_settings:
            continue
        field = aliases.get(name, name)
        if field not in model.model_fields:
            problems.append(
                f"--{name}: no field {field!r} in {model.__name__} (add it, or list it as not a setting)"
            )
        elif param.default != model.model_fields[field].default:
            problems.append(
                f"--{name}: CLI default {param.default!r} != {model.__name__}.{field} "
                f"default {model.model_fields[field].default!r}"
            )
    assert problems == []


def test_run_command_defaults_match_the_agent_loop() -> None:
    episode = _defaults_of_episode()
    # `run` is interactive: no first-thought prefix unless asked (generate's teacher default is on)
    not_settings = {"question", "model", "kind", "retriever", "save", "cot_prefix"}
    problems = [
        f"--{name}: CLI default {p.default!r} != run_episode default {episode.get(name)!r}"
        for name, p in _params("run").items()
        if name not in not_settings and p.default != episode.get(name, "<missing>")
    ]
    assert problems == []


def test_checker_sees_a_drifted_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison is not vacuous: a model whose default moved makes it fail."""
    changed = GenerateSettings.model_fields["max_tokens"]
    monkeypatch.setattr(changed, "default", changed.default + 1)
    with pytest.raises(AssertionError, match="max_tokens"):
        test_cli_defaults_match_settings_model("generate")


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["eval", "--model", "m", "-s", "gsm-hard-500:1", "--out", "{tmp}/e", "--sag-n", "0"], "--sag-n"),
        (["generate", "-t", "gsm8k-train:1", "--out", "{tmp}/g.jsonl", "--mode", "agnet"], "--mode"),
    ],
)
def test_a_value_the_settings_model_refuses_is_a_one_line_error(argv, option, tmp_path) -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert result.exit_code == 2
    assert result.output.strip().startswith(f"error: {option}: ") and "Traceback" not in result.output
