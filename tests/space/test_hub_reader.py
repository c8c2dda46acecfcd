"""Reading the Space's content from the hub: config, checkpoints (cards), datasets, records, discovery."""

import pytest

from nebula_hub.errors import ConfigError, NebulaError
from nebula_hub.space import CheckpointRef, DatasetRef, SpaceConfig, load_space_config
from nebula_hub.space.hub_reader import discover, load_content, read_checkpoint, read_dataset, read_records


def test_config_short_forms_and_errors(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("checkpoints:\n  - org/m@v1\n  - {repo: org/m, revision: v2, label: two}\nbase: two\n")
    cfg = load_space_config(path)
    assert [(c.repo, c.revision, c.label) for c in cfg.checkpoints] == [
        ("org/m", "v1", "org/m@v1"),
        ("org/m", "v2", "two"),
    ]
    assert cfg.find_checkpoint("org/m@v2").label == "two"
    path.write_text("checkpoints: [not-a-repo]\n")
    with pytest.raises(ConfigError, match="'not-a-repo' is not a model repo id") as err:
        load_space_config(path)
    assert "namespace/name" in err.value.hint
    path.write_text("chekpoints: []\n")
    with pytest.raises(ConfigError, match="unknown key 'chekpoints'") as err:
        load_space_config(path)
    assert "checkpoints" in err.value.hint
    with pytest.raises(ConfigError, match="label 'x' is used twice"):
        SpaceConfig.from_dict({"checkpoints": [{"repo": "a/b", "label": "x"}, {"repo": "a/c", "label": "x"}]})


def test_read_checkpoint_card(space_hub):
    api = space_hub.api()
    ckpt = read_checkpoint(api, CheckpointRef(space_hub.model_repo, "run-grpo"))
    assert ckpt.sha == space_hub.shas["run-grpo"]
    assert ckpt.parent == {"repo": space_hub.model_repo, "revision": "run-sft", "sha": space_hub.shas["run-sft"]}
    assert ckpt.nebula["datasets"][0]["sha"] == space_hub.dataset_sha
    by_bench = {s.benchmark: s for s in ckpt.scores}
    assert by_bench["GSM8K"].value == pytest.approx(0.42) and by_bench["GSM8K"].area == "math"
    assert (
        by_bench["IFEval"].area == "instruction_following" and by_bench["IFEval"].metric == "prompt_level_strict_acc"
    )
    assert by_bench["MMLU"].settings["enable_thinking"] is False


def test_read_checkpoint_missing_revision(space_hub):
    with pytest.raises(NebulaError, match="revision 'nope' not found") as err:
        read_checkpoint(space_hub.api(), CheckpointRef(space_hub.model_repo, "nope"))
    assert space_hub.model_repo in err.value.hint


def test_read_dataset_and_records(space_hub):
    api = space_hub.api()
    info = read_dataset(api, DatasetRef(space_hub.dataset_repo))
    assert (info.revision, info.sha, info.kind) == ("v1.0.0", space_hub.dataset_sha, "sft")
    assert list(info.configs) == ["default", "math", "code", "rejected"]
    assert info.stats["totals"]["rejected"] == 4
    rejected = read_records(api, info, "rejected")
    assert sorted(r["reason"] for r in rejected) == ["near_duplicate", "wrong_answer", "wrong_answer", "wrong_answer"]
    assert isinstance(rejected[0]["record"], dict)  # the JSON body is decoded
    curated = read_records(api, info, "default", limit=7)
    assert len(curated) == 7 and {r["task"]["label"] for r in curated} <= {"math", "code"}
    assert curated[0]["verification"][0]["verdict"] == "pass"
    with pytest.raises(NebulaError, match="no config 'nope'") as err:
        read_records(api, info, "nope")
    assert "rejected" in str(err.value)


def test_discover_finds_lineage_root_first(space_hub):
    cfg = discover(space_hub.api())
    assert [(c.repo, c.revision, c.label) for c in cfg.checkpoints] == [
        (space_hub.model_repo, "base", "base"), (space_hub.model_repo, "run-sft", "run-sft"),
        (space_hub.model_repo, "run-grpo", "run-grpo")]  # fmt: skip
    assert [(d.repo, d.revision) for d in cfg.datasets] == [(space_hub.dataset_repo, "v1.0.0")]


def test_load_content_keeps_going_on_errors(space_hub):
    cfg = space_hub.config()
    cfg.checkpoints.append(CheckpointRef(space_hub.model_repo, "deleted-branch"))
    content = load_content(space_hub.api(), cfg)
    assert [c.label for c in content.checkpoints] == ["base", "run-sft", "run-grpo"]
    assert len(content.errors) == 1 and "deleted-branch" in content.errors[0]
    assert content.base().label == "base"
