"""Config loader: YAML -> dataclasses, overrides, unknown keys and type errors named."""

from dataclasses import dataclass, field
from typing import Literal

import pytest

from nebula_hub.config import apply_overrides, from_dict, load_config, to_dict
from nebula_hub.errors import ConfigError


@dataclass
class Stage:
    name: str = "stage"
    learning_rate: float = 2e-5
    datasets: list[str] = field(default_factory=list)


@dataclass
class Recipe:
    branch: Literal["instruct", "reasoning"] = "instruct"
    seed: int = 42
    push: bool = True
    stages: list[Stage] = field(default_factory=list)
    teacher: str | None = None

    def __post_init__(self):
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")


def test_yaml_with_nested_lists_and_overrides(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text("branch: reasoning\nstages:\n  - name: s1\n    learning_rate: 1e-5\n    datasets: [a, b]\n")
    cfg = load_config(path, Recipe, overrides=["stages.0.learning_rate=3e-4", "push=false", "teacher=org/t"])
    assert cfg == Recipe(
        branch="reasoning", push=False, teacher="org/t", stages=[Stage(name="s1", learning_rate=3e-4, datasets=["a", "b"])]
    )
    assert to_dict(cfg)["stages"][0]["datasets"] == ["a", "b"]


@pytest.mark.parametrize(
    "name,data,fragment,hint",
    [
        ("unknown top-level key", {"seeed": 1}, "unknown key 'seeed' for Recipe", "did you mean 'seed'?"),
        ("unknown nested key", {"stages": [{"lr": 1}]}, "recipe.yaml.stages.0: unknown key 'lr'", "valid keys:"),
        ("wrong literal", {"branch": "chat"}, "recipe.yaml.branch: 'chat' is not one of ['instruct', 'reasoning']", None),
        ("wrong int", {"seed": "many"}, "recipe.yaml.seed: expected int, got 'many'", None),
        ("fractional int", {"seed": 1.5}, "expected an integer", None),
        ("list expected", {"stages": "s1"}, "expected a list", None),
        ("post_init check", {"seed": -1}, "seed must be >= 0, got -1", None),
    ],
)
def test_errors_name_the_key(tmp_path, name, data, fragment, hint):
    with pytest.raises(ConfigError) as info:
        from_dict(Recipe, data, where="recipe.yaml")
    assert fragment in info.value.message, f"{name}: {info.value.message}"
    if hint:
        assert hint in info.value.hint, f"{name}: {info.value.hint}"


def test_bad_override_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not of the form key=value"):
        apply_overrides({}, ["seed"])
    with pytest.raises(ConfigError, match="not an index"):
        apply_overrides({"stages": [{}]}, ["stages.3.name=x"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(bad, Recipe)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml", Recipe)
