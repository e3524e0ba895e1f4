from pathlib import Path

import pytest
import yaml

from agentdistill.pipeline.config import BUILTIN, ConfigError, load_config


@pytest.mark.parametrize("name", BUILTIN[:2])
def test_builtin_configs_load(name: str) -> None:
    cfg = load_config(name)
    assert cfg.name == name
    assert cfg.eval.runs and cfg.generate.tasks


def test_typo_names_file_and_field(tmp_path: Path) -> None:
    raw = yaml.safe_load(Path(load_config.__globals__["builtin_config_path"]("demo")).read_text())
    raw["generate"]["sampels"] = 4  # typo of "samples"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(path) in str(e.value)
    assert "generate.sampels" in str(e.value) and "typo" in str(e.value)


def test_wrong_type_and_missing_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: x\nteacher: {model: a}\nstudent: {model: b}\ngenerate: {tasks: [], samples: many}\n"
    )
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert "generate.samples" in msg and "field 'eval'" in msg


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(path)
    with pytest.raises(ConfigError, match="config not found"):
        load_config(tmp_path / "nope.yaml")


def test_dotted_overrides() -> None:
    cfg = load_config("demo", {"student.model": "smollm2-135m", "eval.max_steps": 2})
    assert cfg.student.model == "smollm2-135m"
    assert cfg.eval.max_steps == 2


def test_openai_models_get_no_n_ctx():  # used for teacher, student and judge (runner, stages/judging.py)
    from agentdistill.pipeline.config import ModelRef

    assert ModelRef(model="openai:m@http://127.0.0.1:1/v1", options={"timeout": 5}).load_options() == {
        "timeout": 5
    }
    assert ModelRef(model="smollm2-135m", n_ctx=2048).load_options() == {"n_ctx": 2048}
