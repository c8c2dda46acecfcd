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


def test_the_8b_quickstart_recipe_is_the_tiny_one_with_real_settings():
    from nebula_hub.config import read_yaml
    from nebula_hub.quickstart.recipe import dataset_overrides, dataset_roles, stage_groups

    path = resource_path("pipelines", "recipes", "qwen3-8b-base", "quickstart.yaml")
    assert path in RECIPES  # so test_shipped_recipes_load validates it too
    tiny = load_recipe(resource_path("pipelines", "recipes", "tiny", "quickstart.yaml"))
    real = load_recipe(path)
    checkpoints = ["ins_sft", "grpo", "opd", "mopd"]
    assert [n for n in tiny.stage_names() if n in checkpoints] == real.stage_names() == checkpoints
    assert [p.name for p in real.stages["ins_sft"].phases] == [p.name for p in tiny.stages["ins_sft"].phases]
    assert {n: s.method for n, s in real.stages.items()} == {n: tiny.stages[n].method for n in checkpoints}
    assert [real.stages[n].init_from for n in ("grpo", "opd", "mopd")] == ["ins_sft"] * 3
    assert real.base_model == "Qwen/Qwen3-8B-Base"
    # Real settings: bf16 and checkpointing everywhere, vLLM colocate for every on-policy stage.
    for name, stage in real.stages.items():
        args = merged_args(real, stage, stage.phases[0])
        assert args["bf16"] is True and args["gradient_checkpointing"] is True, name
        if stage.method != "sft":
            assert (args["use_vllm"], args["vllm_mode"]) == (True, "colocate"), name
    # Teachers: Hub repos pinned by a revision, one per task for MOPD (no tiny or stage: teachers).
    for name in ("opd", "mopd"):
        assert all("/" in t.model and t.revision for t in real.stages[name].teachers), name
    assert {task for t in real.stages["mopd"].teachers for task in t.tasks} >= {
        "math",
        "code",
        "instruction_following",
        "knowledge",
        "*",
    }
    # The quickstart takes it as it takes the tiny recipe: same stage groups, one SFT repo and one RL repo, each
    # dataset entry re-pointed at what it published.
    data = read_yaml(path)
    assert stage_groups(real.stage_names()) == [
        g for g in stage_groups(tiny.stage_names()) if g[0] != "train-teachers"
    ]
    assert sorted(dataset_roles(data).values()) == ["rl", "sft"]
    published = {"sft": ("me/nebula-sft", "v1.0.2"), "rl": ("me/nebula-rl", "v1.0.0")}
    sets = ["repo=me/nebula-quickstart", "version=null", *dataset_overrides(data, published)]
    pointed = load_recipe(path, sets)
    for name, stage in pointed.stages.items():
        for phase in stage.phases:
            assert {(d.repo, d.revision) for d in phase.datasets} == {published["sft" if name == "ins_sft" else "rl"]}
    assert pointed.repo == "me/nebula-quickstart" and pointed.version is None
