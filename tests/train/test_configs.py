"""Recipes: every shipped recipe loads; errors name the stage, the key and what to do."""

import pytest

from nebula_hub.errors import ConfigError
from nebula_hub.paths import resource_path
from nebula_hub.train.configs import load_recipe, merged_args, stage_args


RECIPES = sorted(resource_path("pipelines", "recipes").rglob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_recipes_load(path):
    recipe = load_recipe(path)
    assert recipe.stages and recipe.repo
    for stage in recipe.stages.values():
        assert all(phase.datasets for phase in stage.phases)


def test_quickstart_shape_and_overrides():
    recipe = load_recipe(
        resource_path("pipelines", "recipes", "tiny", "quickstart.yaml"),
        ["stages.grpo.args.max_steps=7", "defaults.learning_rate=0.5", "run_name=abc"],
    )
    assert [p.name for p in recipe.stages["ins_sft"].phases] == ["stage1", "stage2", "stage3"]
    assert recipe.branch("ins_sft") == "abc-ins-sft"
    grpo = merged_args(recipe, recipe.stages["grpo"], recipe.stages["grpo"].phases[0])
    assert grpo["max_steps"] == 7 and grpo["reward_funcs"] == ["multi_task", "format"]
    # Phase args win over stage args, which win over recipe defaults.
    phase1 = merged_args(recipe, recipe.stages["ins_sft"], recipe.stages["ins_sft"].phases[0])
    assert phase1["learning_rate"] == 3.0e-3 and phase1["assistant_only_loss"] is True
    assert merged_args(recipe, recipe.stages["mopd"], recipe.stages["mopd"].phases[0])["learning_rate"] == 1.0e-4
    assert recipe.stages["mopd"].teachers[0].model == "stage:teacher_math"


def test_stage_args_builds_the_trl_config(tmp_path):
    from trl import SFTConfig

    recipe = load_recipe(resource_path("pipelines", "recipes", "tiny", "quickstart.yaml"))
    args = stage_args(recipe, "ins_sft", recipe.stages["ins_sft"].phases[1], tmp_path)
    assert isinstance(args, SFTConfig) and args.max_steps == 20 and args.eos_token == "<|im_end|>"
    assert args.output_dir == str(tmp_path)
    mopd = stage_args(recipe, "mopd", recipe.stages["mopd"].phases[0], tmp_path)
    assert type(mopd).__name__ == "MOPDConfig" and mopd.mopd_mode == "route"


@pytest.mark.parametrize(
    "override, message",
    [
        ("stages.grpo.args.learning_rat=1", "stage 'grpo'.args: unknown key 'learning_rat' for NebulaGRPOConfig"),
        ("stages.grpo.args.max_steps=many", "max_steps: expected int, got 'many'"),
        ("stages.opd.init_from=nowhere", "init_from 'nowhere' is not an earlier stage"),
        ("stages.mopd.args.mopd_mode=blend", None),  # checked when the TRL config is built
        ("stages.ins_sft.method=dpo", "'dpo' is not one of"),
    ],
)
def test_recipe_errors_name_the_field(override, message, tmp_path):
    path = resource_path("pipelines", "recipes", "tiny", "quickstart.yaml")
    if message is None:
        recipe = load_recipe(path, [override])
        with pytest.raises(ConfigError, match="mopd_mode must be 'route' or 'fuse', got 'blend'"):
            stage_args(recipe, "mopd", recipe.stages["mopd"].phases[0], tmp_path)
        return
    with pytest.raises(ConfigError) as err:
        load_recipe(path, [override])
    assert message in err.value.message


def test_unknown_key_suggests_the_right_one():
    with pytest.raises(ConfigError) as err:
        load_recipe(
            resource_path("pipelines", "recipes", "tiny", "quickstart.yaml"), ["stages.grpo.args.num_generation=2"]
        )
    assert "did you mean 'num_generations'" in err.value.hint


def test_opd_needs_exactly_one_teacher(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(
        "name: r\nrepo: local/r\nstages:\n  opd:\n    method: opd\n    teachers: [{name: a, model: x/a}, {name: b, model: x/b}]\n"
        "    datasets: [{repo: d/rl}]\n"
    )
    with pytest.raises(ConfigError, match="opd needs exactly one teacher, got 2"):
        load_recipe(path)
