"""Issue 12 "Done when": `nebula-hub quickstart --size tiny` end to end, checked through the real clients.

One module-scoped run does what a user does after a failure: the first `nebula-hub quickstart` fails on purpose in
the GRPO stage (an override TRL refuses: 4 completions per step cannot form groups of 3), the second resumes, skips
every completed stage and finishes. Then every artifact is read back from the hub with `load_dataset`,
`AutoModelForCausalLM.from_pretrained` and `ModelCard.load`, and the summary is checked.
"""

import json
import os
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest


pytestmark = pytest.mark.slow
FAIL = "recipe.stages.grpo.args.num_generations=3"
FOUR = ("ins_sft", "grpo", "opd", "mopd")
BEFORE_GRPO = ("curate-sft", "curate-rl", "publish", "train-ins-sft")


@pytest.fixture(scope="module")
def runs(local_hub, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("quickstart")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_ENDPOINT", "HUGGING_FACE_HUB_TOKEN")}
    env.update(
        HF_TOKEN=local_hub.token,
        NEBULA_HUB_CACHE=str(tmp / "cache"),
        HF_HOME=str(tmp / "hf"),
        GRADIO_ANALYTICS_ENABLED="False",
    )
    workdir = tmp / "work"
    cmd = [sys.executable, "-m", "nebula_hub", "quickstart", "--size", "tiny", "--workdir", str(workdir),
           "--hub", local_hub.endpoint, "--no-space"]  # fmt: skip
    failed = subprocess.run(cmd + ["--set", FAIL], env=env, capture_output=True, text=True, timeout=1200)
    state_after_failure = json.loads((workdir / "quickstart-state.json").read_text())
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    state = json.loads((workdir / "quickstart-state.json").read_text())
    return SimpleNamespace(
        failed=failed, state_after_failure=state_after_failure, resumed=resumed, state=state, workdir=workdir
    )


def _out(runs, stage):
    return runs.state["stages"][stage]["output"]


def _checkpoints(runs):
    pushed = {}
    for stage, entry in runs.state["stages"].items():
        if stage.startswith("train-"):
            pushed.update(entry["output"]["pushed"])
    return {name: pushed[name] for name in FOUR}


def test_a_failed_stage_is_named_and_the_rerun_skips_completed_stages(runs):
    assert runs.failed.returncode == 1
    err = runs.failed.stderr
    assert "error: quickstart stage 'train-grpo' failed" in err
    assert "num_generations" in err  # the cause, from TRL, reaches the user
    assert f"resume with: nebula-hub quickstart --size tiny --workdir {runs.workdir}" in err
    stages = runs.state_after_failure["stages"]
    assert stages["train-grpo"]["status"] == "failed"
    assert all(stages[s]["status"] == "done" for s in BEFORE_GRPO)

    out = runs.resumed.stdout
    for stage in BEFORE_GRPO:
        assert re.search(rf"\] {stage}\s+done in an earlier run \(", out), stage
        assert runs.state["stages"][stage]["attempts"] == 1  # not run again
        assert runs.state["stages"][stage]["finished_at"] == stages[stage]["finished_at"]
    assert re.search(r"\] train-grpo\s+done in \d", out)
    assert runs.state["stages"]["train-grpo"]["attempts"] == 2
    assert all(entry["status"] == "done" for entry in runs.state["stages"].values())


def test_both_datasets_load_at_their_version_and_republishing_is_a_no_op(runs, hub_env):
    from datasets import load_dataset
    from huggingface_hub import DatasetCard, hf_hub_download

    from nebula_hub.hub import get_api
    from nebula_hub.publish import publish_dataset
    from nebula_hub.quickstart.stages import pick_version

    published = _out(runs, "publish")
    assert {d["repo"] for d in published.values()} == {"local/nebula-sft-tiny", "local/nebula-rl-tiny"}
    for role, config in (("sft", "math"), ("rl", "instruction_following")):
        d = published[role]
        assert d["tag"] == "v1.0.0"
        for name in ("default", config):
            ds = load_dataset(d["repo"], name, split="train", revision=d["tag"])
            assert len(ds) == d["configs"][name]["train"] > 0
        assert "task" in ds.column_names
        card = DatasetCard.load(hf_hub_download(d["repo"], "README.md", repo_type="dataset", revision=d["tag"]))
        assert {c["config_name"] for c in card.data.to_dict()["configs"]} >= {"default", config, "rejected"}
        # the curated folder the quickstart published: the same content again is a no-op, at the same version
        path = _out(runs, f"curate-{role}")["path"]
        assert pick_version(get_api(hub_env.target), d["repo"], path) == "1.0.0"
        again = publish_dataset(path, d["repo"], "1.0.0", target=hub_env.target, progress=False)
        assert (again.status, again.commit) == ("unchanged", d["commit"])


def test_four_checkpoints_load_with_lineage_and_scores_in_their_cards(runs, hub_env):
    from huggingface_hub import ModelCard, hf_hub_download
    from transformers import AutoModelForCausalLM

    published = _out(runs, "publish")
    evals = _out(runs, "evaluate")
    ckpts = _checkpoints(runs)
    refs = hub_env.api().list_repo_refs(ckpts["ins_sft"]["repo"])
    heads = {b.name: b.target_commit for b in refs.branches}
    for name, pushed in ckpts.items():
        repo, branch = pushed["repo"], pushed["branch"]
        for revision in (branch, pushed["sha"]):  # the branch head (with scores) and the trained commit
            model = AutoModelForCausalLM.from_pretrained(repo, revision=revision)
            assert model.config.model_type == "qwen3"
        card = ModelCard.load(hf_hub_download(repo, "README.md", revision=branch))
        meta = card.data.to_dict()
        lineage = meta["nebula"]
        assert lineage["stage"] == name
        if name == "ins_sft":
            assert lineage["parent"]["revision"].startswith("base-tiny-")
        else:
            assert lineage["parent"]["stage"] == "ins_sft"
            assert lineage["parent"]["sha"] == ckpts["ins_sft"]["sha"]
        role = "sft" if name == "ins_sft" else "rl"
        assert lineage["datasets"] and all(
            (d["repo"], d["revision"], d["sha"]) == (published[role]["repo"], "v1.0.0", published[role]["commit"])
            for d in lineage["datasets"]
        )
        if name in ("opd", "mopd"):
            assert lineage["teachers"] and all(len(t["sha"]) == 40 for t in lineage["teachers"])
        # scores: the evaluate stage's numbers, in the card's model-index, on the branch head
        assert heads[branch] == evals[name]["card_commit"]
        card_scores = {
            r["task"]["name"]: {m["type"]: m["value"] for m in r["metrics"]} for r in meta["model-index"][0]["results"]
        }
        for bench, value in evals[name]["scores"].items():
            assert value in card_scores[bench].values(), (name, bench)


def test_the_summary_lists_artifacts_urls_and_per_stage_figures(runs):
    out = runs.resumed.stdout
    summary = (runs.workdir / "summary.md").read_text()
    assert summary.strip() in out
    for d in _out(runs, "publish").values():
        assert re.search(
            rf"\| {re.escape(d['repo'])} \| v1\.0\.0 \| {d['commit'][:12]} \| train {d['configs']['default']['train']:,}",
            summary,
        )
    for name, pushed in _checkpoints(runs).items():
        assert f"| {name} | {pushed['repo']}@{pushed['branch']} | {pushed['sha'][:12]} |" in summary
    for stage in (*runs.state["stages"], "hub"):
        row = re.search(
            rf"^\| {re.escape(stage)} \| (done|skipped) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|", summary, re.M
        )
        assert row, stage
        if stage != "hub":
            assert re.fullmatch(r"[\d.]+ (s|min)", row.group(2).strip()), row.group(0)
            assert re.fullmatch(r"[\d.]+ (MiB|GiB)", row.group(4).strip()), row.group(0)
    assert "hub: http://127.0.0.1:" in summary
    assert f"nebula-hub space run --config {runs.workdir / 'space.yaml'}" in summary
    assert 'load_dataset("local/nebula-sft-tiny", "default", split="train", revision="v1.0.0")' in summary
