"""Pushing a checkpoint to a branch (refusing to clobber), tags, and the model card rendered offline."""

import pytest
from huggingface_hub import ModelCard

from nebula_hub.errors import NebulaError
from nebula_hub.train.card import StageLineage, render_model_card
from nebula_hub.train.push import push_checkpoint


def _lineage(**kw):
    base = dict(
        model_id="local/m", branch="run-mopd", stage="mopd", method="mopd", recipe_name="quickstart",
        recipe_path="pipelines/recipes/tiny/quickstart.yaml", recipe_sha256="ab" * 32, recipe_yaml="name: quickstart",
        parent={"repo": "local/m", "revision": "run-ins-sft", "sha": "1" * 40},
        datasets=[{"phase": "main", "repo": "local/rl", "config": "default", "split": "train", "revision": "v0.1.0",
                   "sha": "2" * 40, "weight": 1.0, "where": {}, "rows_loaded": 32, "rows_used": 32}],
        teachers=[{"name": "math", "tasks": ["math"], "repo": "local/m", "revision": "run-teacher-math", "sha": "3" * 40}],
        phases=[{"name": "main", "global_step": 2, "resumed_from": None, "settings": {"beta": 1.0},
                 "metrics": {"final_loss": 0.5}}],
        routing={"math->math": 16},
    )  # fmt: skip
    base.update(kw)
    return StageLineage(**base)


def test_card_metadata_round_trips(tmp_path):
    card = render_model_card(_lineage())
    card.save(tmp_path / "README.md")
    loaded = ModelCard.load(tmp_path / "README.md")
    meta = loaded.data.to_dict()
    assert meta["base_model"] == "local/m" and meta["datasets"] == ["local/rl"]
    assert meta["nebula"]["parent"]["sha"] == "1" * 40
    assert meta["nebula"]["datasets"][0]["sha"] == "2" * 40
    assert meta["nebula"]["teachers"][0] == {"name": "math", "tasks": ["math"], "repo": "local/m",
                                             "revision": "run-teacher-math", "sha": "3" * 40}  # fmt: skip
    assert meta["nebula"]["metrics"]["main"]["final_loss"] == 0.5
    assert "model-index" not in meta  # left for `nebula-hub eval`
    text = loaded.text
    assert "| teacher `math` (tasks: math) | `local/m` | `run-teacher-math` | `" + "3" * 40 in text
    assert "| math->math | 16 |" in text and "nebula-hub eval local/m@run-mopd" in text


def test_card_renders_without_optional_parts():
    card = render_model_card(_lineage(teachers=[], routing={}, datasets=[], phases=[]))
    assert "## Teacher routing" not in card.text and card.data.datasets is None


def test_push_refuses_another_runs_branch_and_is_idempotent(local_hub, tmp_path):
    repo = local_hub.repo_id("push")
    api = local_hub.api()
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "checkpoint-5").mkdir()
    (folder / "checkpoint-5" / "optimizer.pt").write_text("x")

    sha = push_checkpoint(folder, repo, "run-a-sft", api, run_id="a", tag="run-a-sft-v1")
    files = api.list_repo_files(repo, revision="run-a-sft")
    assert "config.json" in files and "nebula_run.json" in files
    assert not any(f.startswith("checkpoint-") for f in files)  # trainer checkpoints stay local
    assert {t.name: t.target_commit for t in api.list_repo_refs(repo).tags}["run-a-sft-v1"] == sha

    # The same run pushing again (a resumed run) gets the existing commit back, no new commit.
    assert push_checkpoint(folder, repo, "run-a-sft", api, run_id="a", tag="run-a-sft-v1") == sha
    with pytest.raises(NebulaError) as err:
        push_checkpoint(folder, repo, "run-a-sft", api, run_id="b")
    assert "already holds a checkpoint from another run ('a')" in err.value.message
    assert "--overwrite" in err.value.hint
    (folder / "config.json").write_text('{"v": 2}')
    new = push_checkpoint(folder, repo, "run-a-sft", api, run_id="b", overwrite=True)
    assert new != sha
    with pytest.raises(NebulaError, match="tag 'run-a-sft-v1' .* already points to"):
        push_checkpoint(folder, repo, "run-a-sft", api, run_id="b", tag="run-a-sft-v1")


def test_cli_help_lists_examples():
    from nebula_hub.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["train-and-push"]
    text = sub.format_help()
    for flag in ("--recipe", "--set", "--hub", "--resume", "--stages", "--overwrite", "--accelerate-config"):
        assert flag in text
    assert "nebula-hub train-and-push --recipe pipelines/recipes/tiny/quickstart.yaml --resume" in text


def test_accelerate_command_reruns_the_same_arguments():
    from nebula_hub.train.launch import accelerate_command, make_parser

    args = make_parser().parse_args(
        ["--recipe", "r.yaml", "--set", "a=1", "--resume", "--accelerate-config", "pipelines/accelerate/zero3.yaml"]
    )
    cmd = accelerate_command(args)
    assert cmd[1:] == ["-m", "accelerate.commands.launch", "--config_file", "pipelines/accelerate/zero3.yaml",
                       "-m", "nebula_hub.train", "--recipe", "r.yaml", "--set", "a=1", "--resume"]  # fmt: skip
