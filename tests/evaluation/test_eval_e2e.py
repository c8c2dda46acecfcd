"""End to end on the local Hub: evaluate a pushed tiny checkpoint on the bundled sets with --push, read the scores
back from the model card, audit them against the published details, and compare two revisions."""

import json

import pytest

from nebula_hub.cli import main


CARD = """---
base_model: local/tiny-base
nebula:
  stage: sft
---
# tiny checkpoint
"""


@pytest.fixture(scope="module")
def pushed_model(local_hub, tiny_model_path):
    """A tiny Qwen3 on the local Hub: branch `sft` (the fixture model) and branch `grpo` (another seed)."""
    from nebula_hub.models import TinyModelConfig, build_tiny_model

    api = local_hub.api()
    repo = local_hub.repo_id("tiny-eval")
    api.create_repo(repo)
    api.upload_folder(folder_path=str(tiny_model_path), repo_id=repo, commit_message="tiny checkpoint")
    api.upload_file(path_or_fileobj=CARD.encode(), path_in_repo="README.md", repo_id=repo)
    api.create_branch(repo, branch="sft")
    api.create_branch(repo, branch="grpo")
    other = build_tiny_model(TinyModelConfig(seed=3))
    api.upload_folder(
        folder_path=str(other),
        repo_id=repo,
        revision="grpo",
        commit_message="another checkpoint",
        allow_patterns=["*.safetensors"],
    )
    api.create_tag(repo, tag="v-sft", revision="sft")
    return repo


@pytest.fixture
def hub_cli(local_hub, monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_TOKEN", local_hub.token)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return local_hub


def _eval(hub, ref, output, *extra):
    return main(
        [
            "eval",
            ref,
            "--hub",
            hub.endpoint,
            "--data",
            "bundled",
            "--max-tokens",
            "12",
            "--quiet",
            "--output",
            str(output),
            "--batch-size",
            "32",
            *extra,
        ]
    )


@pytest.mark.slow
def test_eval_push_card_details_and_compare(hub_cli, pushed_model, tmp_path, capsys):
    from huggingface_hub import ModelCard

    from nebula_hub.evaluation.benchmarks import BENCHMARKS, get_benchmark
    from nebula_hub.evaluation.runner import recompute_from_details
    from nebula_hub.hub import use_hub

    api = hub_cli.api()
    repo = pushed_model
    sft_head = api.model_info(repo, revision="sft").sha
    grpo_head = api.model_info(repo, revision="grpo").sha

    # 1. the whole suite on the sft branch, pushed
    assert _eval(hub_cli, f"{repo}@sft", tmp_path / "sft.json", "--suite", "all", "--limit", "2", "--push") == 0
    out = capsys.readouterr().out
    assert "| **average (all)** |" in out and f"card: {repo}@sft updated" in out
    report = json.loads((tmp_path / "sft.json").read_text())
    assert report["model"]["sha"] == sft_head and [b["name"] for b in report["benchmarks"]] == list(BENCHMARKS)
    assert report["card"]["parent"] == sft_head and report["card"]["branch"] == "sft"
    new_head = api.model_info(repo, revision="sft").sha
    assert report["card"]["commit"] == new_head != sft_head  # one new commit on the branch
    assert api.model_info(repo, revision="v-sft").sha == sft_head  # the tag did not move
    assert api.model_info(repo, revision="grpo").sha == grpo_head

    # 2. the card holds every number with its settings; lineage metadata survived
    card = ModelCard.load(api.hf_hub_download(repo, "README.md", revision="sft"))
    assert card.data.base_model == "local/tiny-base" and card.data.nebula["stage"] == "sft"
    results = {(r.task_name, r.metric_type): r for r in card.data.eval_results}
    assert len(results) == sum(len(b.metrics) for b in BENCHMARKS.values()) + 1
    for bench in report["benchmarks"]:
        for name, metric in bench["metrics"].items():
            r = results[(bench["name"], name)]
            assert r.metric_value == metric["value"]
            args = r.metric_args
            assert args["n"] == metric["n"] and args["ci_low"] <= r.metric_value <= args["ci_high"]
            for key in (
                "prompt_template",
                "thinking",
                "temperature",
                "top_p",
                "max_tokens",
                "samples_per_prompt",
                "seed",
                "backend",
            ):
                assert key in args, key
            assert args["max_tokens"] == 12 and args["libraries"]["transformers"]
            assert args["details"]["commit"] == report["details"]["commit"]
    average = results[("average", "average")]
    primaries = [b["metrics"][b["primary"]]["value"] for b in report["benchmarks"]]
    assert average.metric_value == pytest.approx(sum(primaries) / len(primaries))

    # 3. the details dataset loads, and the metrics recomputed from it give the card's numbers
    import datasets

    details = report["details"]
    assert details["repo"] == f"{repo}-evals" and details["revision"] == "sft"
    with use_hub(hub_cli.target):
        dd = datasets.load_dataset(details["repo"], revision=details["commit"])
    assert set(dd) == set(BENCHMARKS)
    for name, split in dd.items():
        rows = list(split)
        assert len(rows) == 2 and all(r["prompt"] and r["verdict"] for r in rows), name
        recomputed = recompute_from_details(get_benchmark(name), rows)
        for metric, value in recomputed.items():
            assert value == results[(name, metric)].metric_value, (name, metric)

    # 4. a second revision, fewer benchmarks, then the comparison table read from the cards only
    assert (
        _eval(hub_cli, f"{repo}@grpo", tmp_path / "grpo.json", "--benchmarks", "gsm8k,mmlu", "--limit", "3", "--push")
        == 0
    )
    capsys.readouterr()
    csv_path = tmp_path / "table.csv"
    assert (
        main(
            [
                "eval",
                "compare",
                f"{repo}@sft",
                f"{repo}@grpo",
                "--baseline",
                f"{repo}@sft",
                "--hub",
                hub_cli.endpoint,
                "--csv",
                str(csv_path),
            ]
        )
        == 0
    )
    table = capsys.readouterr().out
    header = next(line for line in table.splitlines() if line.startswith("| benchmark"))
    assert f"{repo}@sft (baseline)" in header and f"{repo}@grpo" in header
    gsm_row = next(line for line in table.splitlines() if line.startswith("| GSM8K (nebula-hub bundled sample) |"))
    assert "(+0.0)" in gsm_row or "(-" in gsm_row or "(+" in gsm_row
    ifeval_row = next(line for line in table.splitlines() if "IFEval" in line and "prompt_level_strict_acc" in line)
    assert ifeval_row.rstrip(" |").endswith("-")  # grpo has no IFEval score
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("benchmark,metric,settings,") and lines[0].endswith(f"delta:{repo}@grpo")
    grpo_report = json.loads((tmp_path / "grpo.json").read_text())
    gsm_grpo = grpo_report["benchmarks"][0]["metrics"]["accuracy"]["value"]
    gsm_sft = report["benchmarks"][1]["metrics"]["accuracy"]["value"]
    gsm_csv = next(line for line in lines if line.startswith("GSM8K"))
    assert gsm_csv.split(",")[-1] == repr(gsm_grpo - gsm_sft)


@pytest.mark.slow
def test_push_refuses_a_commit_behind_its_branch(hub_cli, pushed_model, tmp_path, capsys):
    api = hub_cli.api()
    commits = api.list_repo_commits(pushed_model, revision="grpo")
    old = next(c.commit_id for c in commits if c.title == "tiny checkpoint")  # behind every branch head
    code = _eval(
        hub_cli, f"{pushed_model}@{old}", tmp_path / "old.json", "--benchmarks", "mmlu", "--limit", "1", "--push"
    )
    err = capsys.readouterr().err
    assert code == 1 and f"is commit {old[:12]}, which is not the head of any branch" in err
    assert "hint: evaluate a branch head" in err
    assert not (tmp_path / "old.json").exists()  # refused before generating anything
    # without --push the same commit evaluates fine
    assert _eval(hub_cli, f"{pushed_model}@{old}", tmp_path / "old.json", "--benchmarks", "mmlu", "--limit", "1") == 0
    assert json.loads((tmp_path / "old.json").read_text())["model"]["sha"] == old


def test_cli_errors(capsys, tmp_path, tiny_model_path):
    assert main(["eval", str(tiny_model_path), "--push", "--benchmarks", "mmlu"]) == 1
    assert "is a local folder; --push needs a Hub model repo" in capsys.readouterr().err
    assert main(["eval", str(tiny_model_path), "--benchmarks", "nope"]) == 1
    assert "unknown benchmark 'nope'" in capsys.readouterr().err
    assert main(["eval", str(tiny_model_path), "--samples", "1", "--k", "1,4"]) == 1
    assert "pass@k values [4] need 1 <= k <= samples per prompt (1)" in capsys.readouterr().err
    assert main(["eval", str(tiny_model_path), "--csv", "x.csv"]) == 1
    assert "--baseline and --csv belong to `nebula-hub eval compare`" in capsys.readouterr().err
    assert main(["eval", "compare", "not-a-ref"]) == 1
    assert "'not-a-ref' is not REPO@REVISION" in capsys.readouterr().err


def test_local_folder_run_writes_results(tiny_model_path, tmp_path, capsys):
    output = tmp_path / "r.json"
    assert (
        main(
            [
                "eval",
                str(tiny_model_path),
                "--benchmarks",
                "ifeval,mmlu",
                "--data",
                "bundled",
                "--limit",
                "2",
                "--max-tokens",
                "8",
                "--quiet",
                "--output",
                str(output),
                "--thinking",
                "on",
            ]
        )
        == 0
    )
    report = json.loads(output.read_text())
    assert report["model"]["sha"] is None and report["suite"] == "custom"
    assert report["settings"]["thinking"] is True
    assert all(b["settings"]["thinking"] is True and b["n_items"] == 2 for b in report["benchmarks"])
    assert report["environment"]["libraries"]["torch"] and "cpu_count" in report["environment"]["device"]
    assert "| MMLU | accuracy |" in capsys.readouterr().out


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "nebula-hub eval compare" in text and "--push" in text and "ifeval" in text
