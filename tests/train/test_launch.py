"""Multi-GPU from the library: `train_and_push(..., accelerate_config=...)` builds the `accelerate launch` command,
waits for it, and reads the result back from the run folder's `state.json` (the real launch on CPU is in
test_resume.py; here the launched processes are stood in for by what they leave behind)."""

import json
import subprocess
import sys

import pytest

from nebula_hub.errors import NebulaError
from nebula_hub.paths import resource_path
from nebula_hub.train.configs import load_recipe
from nebula_hub.train.launch import make_parser
from nebula_hub.train.run import RunResult, launch_command, launch_stages


RECIPE = resource_path("pipelines", "recipes", "tiny", "quickstart.yaml")


def _pushed(stage: str, digit: str) -> dict:
    return {"repo": "local/m", "branch": f"quickstart-{stage}".replace("_", "-"), "sha": digit * 40, "tag": None}


@pytest.fixture
def recipe(tmp_path):
    return load_recipe(RECIPE, [f"output_dir={tmp_path / 'runs'}", "stages.grpo.args.max_steps=3"])


@pytest.fixture
def accelerate_config(tmp_path):
    path = tmp_path / "accelerate.yaml"
    path.write_text("compute_environment: LOCAL_MACHINE\ndistributed_type: 'NO'\nnum_processes: 1\nuse_cpu: true\n")
    return path


def test_the_launched_processes_get_the_same_recipe_and_flags(recipe):
    cmd = launch_command(recipe, "pipelines/accelerate/zero3.yaml", hub="https://huggingface.co", resume=True,
                         stages=["grpo", "opd"])  # fmt: skip
    head = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", "pipelines/accelerate/zero3.yaml"]
    assert cmd[: len(head) + 2] == [*head, "-m", "nebula_hub.train"]
    args = make_parser().parse_args(cmd[len(head) + 2 :])
    assert (args.hub, args.stages, args.resume, args.overwrite) == ("https://huggingface.co", "grpo,opd", True, False)
    assert args.accelerate_config is None  # the launched processes train; they do not launch again
    relaunched = load_recipe(args.recipe, args.overrides)
    # Same file, same overrides: the same sha256 lands in every card, and the same run folder is used.
    assert relaunched.source_sha256 == recipe.source_sha256 and relaunched.run_dir == recipe.run_dir
    assert relaunched.stages["grpo"].args["max_steps"] == 3


def test_the_result_is_read_back_from_state_json(recipe, accelerate_config, monkeypatch):
    run_dir = recipe.run_dir
    run_dir.mkdir(parents=True)
    # An earlier call of this run already pushed ins_sft.
    before = {
        "run_id": "r1",
        "stages": {"ins_sft": {"phases": {}, "final_dir": "x", "pushed": _pushed("ins_sft", "a")}},
    }
    (run_dir / "state.json").write_text(json.dumps(before))
    launched = []

    def launched_processes(cmd):  # what `accelerate launch` leaves behind: grpo trained and pushed by rank 0
        launched.append(cmd)
        state = json.loads((run_dir / "state.json").read_text())
        state["stages"]["grpo"] = {"phases": {"main": {}}, "final_dir": "y", "carded": True,
                                   "pushed": _pushed("grpo", "b")}  # fmt: skip
        (run_dir / "state.json").write_text(json.dumps(state))
        return 0

    monkeypatch.setattr(subprocess, "call", launched_processes)
    result = launch_stages(recipe, accelerate_config, resume=True, stages=["ins_sft", "grpo"])
    assert isinstance(result, RunResult) and result.run_dir == run_dir
    assert result.skipped == ["ins_sft"] and result.trained == ["grpo"]
    assert result.pushed == {"ins_sft": _pushed("ins_sft", "a"), "grpo": _pushed("grpo", "b")}
    assert result.launched == launched[0] and "--resume" in launched[0]
    assert launched[0][launched[0].index("--stages") + 1] == "ins_sft,grpo"


def test_refusals_come_before_any_process_starts(recipe, accelerate_config, tmp_path, monkeypatch):
    monkeypatch.setattr(subprocess, "call", lambda cmd: pytest.fail(f"launched {cmd}"))
    with pytest.raises(NebulaError) as err:
        launch_stages(recipe, tmp_path / "missing.yaml")
    assert f"accelerate config {tmp_path / 'missing.yaml'} does not exist" in err.value.message
    assert "pipelines/accelerate/" in err.value.hint
    recipe.run_dir.mkdir(parents=True)
    (recipe.run_dir / "state.json").write_text(json.dumps({"run_id": "r1", "stages": {}}))
    with pytest.raises(NebulaError) as err:
        launch_stages(recipe, accelerate_config)
    assert "already holds a run" in err.value.message and "--resume" in err.value.hint


def test_a_failed_or_unfinished_launch_says_so(recipe, accelerate_config, monkeypatch):
    monkeypatch.setattr(subprocess, "call", lambda cmd: 3)
    with pytest.raises(NebulaError) as err:
        launch_stages(recipe, accelerate_config)
    assert "exited with code 3" in err.value.message and "--resume" in err.value.hint

    def stopped_early(cmd):  # exit 0, but grpo never reached its push
        recipe.run_dir.mkdir(parents=True, exist_ok=True)
        state = {"run_id": "r1", "stages": {"grpo": {"phases": {"main": {}}}}}
        (recipe.run_dir / "state.json").write_text(json.dumps(state))
        return 0

    monkeypatch.setattr(subprocess, "call", stopped_early)
    with pytest.raises(NebulaError) as err:
        launch_stages(recipe, accelerate_config, stages=["grpo"])
    assert f"stage 'grpo' is not done in {recipe.run_dir / 'state.json'}" in err.value.message
