"""The quickstart's plan without running it: sizes are valid overrides of the real configs, the recipe is pointed at
the published datasets, options and the state file refuse what they should, with messages that say what to do."""

import json

import pytest

from nebula_hub.config import read_yaml
from nebula_hub.errors import NebulaError
from nebula_hub.paths import resource_path
from nebula_hub.quickstart import SIZES, QuickstartOptions
from nebula_hub.quickstart.recipe import CHECKPOINTS, dataset_overrides, dataset_roles, stage_groups, steps_overrides
from nebula_hub.quickstart.state import QuickstartState


RECIPE = resource_path("pipelines", "recipes", "tiny", "quickstart.yaml")
PUBLISHED = {"sft": ("ns/nebula-sft", "v1.2.3"), "rl": ("ns/nebula-rl", "v2.0.0")}


@pytest.mark.parametrize("size", sorted(SIZES))
def test_every_size_is_valid_overrides_of_the_real_configs(size):
    from nebula_hub.curate.rl import load_rl_config
    from nebula_hub.curate.sft import load_sft_config

    s = SIZES[size]
    sft = load_sft_config(resource_path("pipelines", "sft_corpus.yaml"), list(s.sft))
    rl = load_rl_config(resource_path("pipelines", "rl_pool.yaml"), list(s.rl))
    assert sft.executor.kind == rl.executor.kind == "local"  # the quickstart reads the outputs right after
    if size == "tiny":
        assert sft.sources[0].limit == 60 and sft.executor.workers == 1 and rl.grader.n == 2


@pytest.mark.parametrize("size", sorted(SIZES))
def test_the_recipe_reads_the_published_datasets_at_their_tags(size):
    from nebula_hub.config import apply_overrides
    from nebula_hub.train import load_recipe

    data = read_yaml(RECIPE)
    s = SIZES[size]
    sets = dataset_overrides(data, PUBLISHED) + steps_overrides(data, s.train_steps, s.train_max_steps) + list(s.train)
    recipe = load_recipe(RECIPE, sets)
    seen = set()
    for name, stage in recipe.stages.items():
        for phase in stage.phases:
            for ds in phase.datasets:
                expected = PUBLISHED["sft" if stage.method == "sft" else "rl"]
                assert (ds.repo, ds.revision) == expected, (name, phase.name, ds)
                seen.add(ds.repo)
    assert seen == {"ns/nebula-sft", "ns/nebula-rl"}
    # steps: scaled from the recipe's own values, at least 1, capped for tiny
    raw = apply_overrides(data, sets)
    steps = [p.get("args", {}).get("max_steps") for p in raw["stages"]["ins_sft"]["phases"]]
    original = [p["args"]["max_steps"] for p in data["stages"]["ins_sft"]["phases"]]
    if s.train_max_steps:
        assert all(1 <= n <= s.train_max_steps for n in steps)
    else:
        assert steps == [max(1, round(n * s.train_steps)) for n in original]


def test_a_dataset_read_by_sft_and_on_policy_stages_is_refused():
    data = read_yaml(RECIPE)
    data["stages"]["grpo"]["datasets"][0]["repo"] = data["stages"]["ins_sft"]["phases"][0]["datasets"][0]["repo"]
    with pytest.raises(NebulaError, match="read by SFT and by on-policy stages") as info:
        dataset_roles(data)
    assert "own repo" in info.value.hint


def test_stage_groups_keep_checkpoints_apart_and_helpers_together():
    names = list(read_yaml(RECIPE)["stages"])
    groups = stage_groups(names)
    flat = [s for _, stages in groups for s in stages]
    assert flat == names  # every recipe stage, in recipe order, exactly once
    for checkpoint in CHECKPOINTS:
        assert (f"train-{checkpoint.replace('_', '-')}", [checkpoint]) in groups
    assert ("train-teachers", [n for n in names if n.startswith("teacher")]) in groups


@pytest.mark.parametrize("bad", ["sample.target_size=5", "train.max_steps=2", "sft.sample.target_size", "recipe=1"])
def test_a_set_without_a_known_group_is_refused(bad, tmp_path):
    with pytest.raises(NebulaError, match="GROUP.KEY=VALUE") as info:
        QuickstartOptions(size="tiny", workdir=tmp_path, sets=[bad])
    assert repr(bad) in str(info.value) and "--set sft.sample.target_size=500" in info.value.hint


def test_unknown_size_is_refused(tmp_path):
    with pytest.raises(NebulaError, match="unknown size 'huge'"):
        QuickstartOptions(size="huge", workdir=tmp_path)


def test_the_resume_command_repeats_the_options(tmp_path):
    opts = QuickstartOptions(
        size="tiny", workdir=tmp_path, hub="http://127.0.0.1:1", sets=["eval.limit=3"], space=False
    )
    cmd = opts.command()
    assert cmd.startswith("nebula-hub quickstart --size tiny --workdir ")
    assert "--hub http://127.0.0.1:1" in cmd and "--set eval.limit=3" in cmd and cmd.endswith("--no-space")
    assert opts.user_sets()["eval"] == ["limit=3"]


def test_state_records_stages_and_refuses_other_settings(tmp_path):
    state = QuickstartState.load(tmp_path, {"size": "tiny", "hub": "local:/x", "namespace": "local"})
    state.record("curate-sft", "failed", error="boom", wall_s=1.0)
    state.record("curate-sft", "done", output={"path": "/p"}, wall_s=2.0)
    again = QuickstartState.load(tmp_path, {"size": "tiny", "hub": "local:/x", "namespace": "local"})
    assert again.done("curate-sft") and again.output("curate-sft") == {"path": "/p"}
    assert again.stages["curate-sft"]["attempts"] == 2
    with pytest.raises(NebulaError, match="size 'tiny' -> 'small'") as info:
        QuickstartState.load(tmp_path, {"size": "small", "hub": "local:/x", "namespace": "local"})
    assert "--restart" in info.value.hint and "--workdir" in info.value.hint


def test_a_corrupt_state_file_says_how_to_start_over(tmp_path):
    (tmp_path / "quickstart-state.json").write_text("{not json")
    with pytest.raises(NebulaError, match="not valid JSON") as info:
        QuickstartState.load(tmp_path, {"size": "tiny"})
    assert "--restart" in info.value.hint


def test_restart_removes_only_quickstart_outputs(tmp_path):
    from nebula_hub.quickstart.runner import _restart

    for name in ("curated", "runs", "logs"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "f").write_text("x")
    (tmp_path / "quickstart-state.json").write_text(json.dumps({"stages": {}}))
    (tmp_path / "my-notes.txt").write_text("keep me")
    _restart(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my-notes.txt"]


def test_train_stage_forwards_the_accelerate_config(monkeypatch, tmp_path):
    """`quickstart --accelerate-config` reaches train_and_push, so the real recipe can run on several GPUs."""
    import nebula_hub.train as train_pkg
    from nebula_hub.quickstart import stages

    seen = {}

    class Result:
        run_dir = tmp_path
        pushed = {"ins_sft": {"sha": "abc"}}

    def fake_train_and_push(recipe, **kwargs):
        seen.update(kwargs, recipe=recipe)
        return Result()

    monkeypatch.setattr(train_pkg, "train_and_push", fake_train_and_push)
    monkeypatch.setattr(stages, "recipe_overrides", lambda ctx: ["seed=1"])
    ctx = {"recipe": str(RECIPE), "hub": None, "accelerate_config": "pipelines/accelerate/zero3.yaml"}
    assert stages.train(ctx, ["ins_sft"])["pushed"] == {"ins_sft": {"sha": "abc"}}
    assert seen["accelerate_config"] == "pipelines/accelerate/zero3.yaml" and seen["overrides"] == ["seed=1"]
