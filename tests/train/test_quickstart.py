"""Issue 9 "Done when": the quickstart recipe end to end on the local Hub (slow: about a minute on 2 CPU cores).

Four checkpoints (Ins-SFT after its three phases, GRPO, OPD, MOPD) are pushed, load with `from_pretrained(repo,
revision=...)`, and their cards' metadata name the parent, the dataset shas and the teacher shas; the SFT'd model
stops at eos; the probe loss falls phase after phase; MOPD rows were scored by their task's teacher.
"""

import pytest
import torch
from huggingface_hub import ModelCard

from nebula_hub.paths import resource_path
from tests.train.conftest import REASONING_REPO, RL_REPO, SFT_REPO, VERSION


pytestmark = pytest.mark.slow
RECIPE = resource_path("pipelines", "recipes", "tiny", "quickstart.yaml")
FOUR = ("ins_sft", "grpo", "opd", "mopd")


@pytest.fixture(scope="module")
def quickstart(local_hub, quickstart_datasets, tmp_path_factory):
    from huggingface_hub import constants

    from nebula_hub.hub import use_hub
    from nebula_hub.train import load_recipe, train_and_push

    tmp = tmp_path_factory.mktemp("quickstart")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(constants, "HF_HUB_CACHE", str(tmp / "hf-cache"))
        mp.setenv("HF_ENDPOINT", local_hub.endpoint)
        mp.setenv("HF_TOKEN", local_hub.token)
        mp.chdir(tmp)
        recipe = load_recipe(RECIPE, overrides=[f"run_name=qs-{tmp.name}", "repo=local/nebula-tiny-qs-test"])
        result = train_and_push(recipe)
        with use_hub(local_hub.target):
            yield recipe, result, local_hub


def _card(hub, repo, revision) -> ModelCard:
    from huggingface_hub import hf_hub_download

    return ModelCard.load(hf_hub_download(repo, "README.md", revision=revision))


def test_four_checkpoints_load_from_the_hub(quickstart):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    recipe, result, hub = quickstart
    assert set(FOUR) <= set(result.pushed)
    refs = hub.api().list_repo_refs(recipe.repo)
    branches = {b.name: b.target_commit for b in refs.branches}
    tags = {t.name for t in refs.tags}
    base = AutoModelForCausalLM.from_pretrained(recipe.repo, revision=result.pushed["ins_sft"]["sha"])
    for stage in FOUR:
        pushed = result.pushed[stage]
        assert branches[pushed["branch"]] == pushed["sha"]
        assert f"{pushed['branch']}-v{recipe.version}" in tags
        model = AutoModelForCausalLM.from_pretrained(recipe.repo, revision=pushed["branch"])
        AutoTokenizer.from_pretrained(recipe.repo, revision=pushed["branch"])
        assert model.config.model_type == "qwen3"
        if stage != "ins_sft":  # trained from ins_sft: the weights moved (GRPO only where a reward varied)
            moved = any(not torch.equal(a, b) for a, b in zip(model.parameters(), base.parameters(), strict=True))
            assert moved or stage == "grpo", f"{stage}: trainable parameters did not change"


def test_cards_pin_parent_datasets_and_teachers(quickstart):
    recipe, result, hub = quickstart
    api = hub.api()
    data_sha = api.dataset_info(SFT_REPO, revision=VERSION).sha
    rl_sha = api.dataset_info(RL_REPO, revision=VERSION).sha
    cards = {s: _card(hub, recipe.repo, result.pushed[s]["branch"]) for s in FOUR}
    for stage, card in cards.items():
        meta = card.data.to_dict()
        nebula = meta["nebula"]
        assert meta["base_model"] == nebula["parent"]["repo"], stage
        assert len(nebula["parent"]["sha"]) == 40, stage
        assert nebula["recipe"]["sha256"] == recipe.source_sha256
        assert nebula["datasets"] and all(len(d["sha"]) == 40 for d in nebula["datasets"]), stage
        assert any(m.get("final_loss") is not None for m in nebula["metrics"].values()), f"{stage}: no loss logged"
    # Ins-SFT: parent is the pushed tiny base; three phases, each with its datasets at the published sha.
    sft = cards["ins_sft"].data.nebula
    assert sft["parent"]["revision"].startswith("base-tiny-")
    assert [d["phase"] for d in sft["datasets"]] == ["stage1", "stage2", "stage2", "stage3"]
    assert {d["sha"] for d in sft["datasets"]} == {data_sha}
    # GRPO, OPD and MOPD start from the Ins-SFT commit and read the RL pool at its sha.
    for stage in ("grpo", "opd", "mopd"):
        nebula = cards[stage].data.nebula
        assert nebula["parent"]["sha"] == result.pushed["ins_sft"]["sha"]
        assert {d["sha"] for d in nebula["datasets"]} == {rl_sha}
    assert (
        "reward" in str(cards["grpo"].data.nebula["metrics"])
        or "final_reward" in cards["grpo"].data.nebula["metrics"]["main"]
    )
    # Teachers: OPD has one, MOPD four, each pinned to the commit of its teacher stage.
    opd_teachers = cards["opd"].data.nebula["teachers"]
    assert [t["sha"] for t in opd_teachers] == [result.pushed["teacher_if"]["sha"]]
    mopd_teachers = {t["name"]: t["sha"] for t in cards["mopd"].data.nebula["teachers"]}
    assert mopd_teachers == {
        "math": result.pushed["teacher_math"]["sha"],
        "code": result.pushed["teacher_code"]["sha"],
        "instruction_following": result.pushed["teacher_if"]["sha"],
        "knowledge": result.pushed["teacher_knowledge"]["sha"],
    }
    assert "## Lineage" in cards["mopd"].text and result.pushed["teacher_math"]["sha"] in cards["mopd"].text


def test_sft_checkpoint_stops_at_eos(quickstart):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    recipe, result, _ = quickstart
    rev = result.pushed["ins_sft"]["sha"]
    tok = AutoTokenizer.from_pretrained(recipe.repo, revision=rev)
    model = AutoModelForCausalLM.from_pretrained(recipe.repo, revision=rev)
    assert tok.eos_token == "<|im_end|>" and model.generation_config.eos_token_id in (
        tok.eos_token_id,
        [tok.eos_token_id],
    )
    budget = 40
    for question in (
        "What is 3 plus 4?",
        "What is the capital of Peru?",
        "Reply with the word stone in capital letters.",
    ):
        ids = tok.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                      return_tensors="pt", return_dict=True)  # fmt: skip
        out = model.generate(**ids, max_new_tokens=budget, do_sample=False)
        new = out[0, ids["input_ids"].shape[1] :].tolist()
        assert new[-1] == tok.eos_token_id and len(new) < budget, f"{question!r} ran on: {tok.decode(new)!r}"


def test_probe_loss_falls_over_the_sft_phases(quickstart):
    recipe, result, hub = quickstart
    metrics = _card(hub, recipe.repo, result.pushed["ins_sft"]["branch"]).data.nebula["metrics"]
    losses = [metrics["stage1"]["probe_loss_before"]] + [
        metrics[p]["probe_loss_after"] for p in ("stage1", "stage2", "stage3")
    ]
    assert all(a > b for a, b in zip(losses, losses[1:], strict=False)), losses
    # The probe is the same fixed batch throughout: each phase starts where the previous one ended.
    assert metrics["stage2"]["probe_loss_before"] == pytest.approx(metrics["stage1"]["probe_loss_after"], rel=1e-4)


def test_mopd_rows_went_to_their_task_teacher(quickstart):
    recipe, result, hub = quickstart
    card = _card(hub, recipe.repo, result.pushed["mopd"]["branch"])
    routing = card.data.nebula["routing"]
    assert routing and sum(routing.values()) == 2 * 8  # max_steps x batch
    for key in routing:
        task, teacher = key.split("->")
        assert teacher == task, routing  # quickstart routes each task to the teacher of the same name
    history = result.run_dir / "mopd" / "main" / "final" / "nebula_train_result.json"
    import json

    logged = json.loads(history.read_text())["log_history"]
    assert any(k.startswith("loss/") for h in logged for k in h), "per-teacher losses were not logged"


def test_reasoning_branch_grpo_reads_the_medium_bucket(local_hub, quickstart_datasets, tmp_path, monkeypatch):
    from huggingface_hub import constants

    from nebula_hub.hub import use_hub
    from nebula_hub.train import train_and_push

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_ENDPOINT", local_hub.endpoint)
    monkeypatch.setenv("HF_TOKEN", local_hub.token)
    monkeypatch.chdir(tmp_path)
    recipe = resource_path("pipelines", "recipes", "tiny", "reasoning.yaml")
    # The recipe's default reasoning data is the quickstart corpus's math config; the fixture's thinking traces
    # live in their own repo.
    sets = [f"stages.reasoning_sft.datasets.0.{k}={v}" for k, v in (("repo", REASONING_REPO), ("config", "default"))]
    result = train_and_push(
        recipe, overrides=[*sets, "stages.reasoning_sft.args.max_steps=5", "repo=local/nebula-tiny-rs-test"]
    )
    with use_hub(local_hub.target):
        card = _card(local_hub, "local/nebula-tiny-rs-test", result.pushed["grpo"]["branch"])
    nebula = card.data.nebula
    assert [(d["repo"], d["config"]) for d in nebula["datasets"]] == [(RL_REPO, "difficulty-medium")]
    parent = _card(local_hub, "local/nebula-tiny-rs-test", result.pushed["reasoning_sft"]["branch"]).data.nebula
    assert [(d["repo"], d["sha"]) for d in parent["datasets"]] == [
        (REASONING_REPO, quickstart_datasets[REASONING_REPO])
    ]
    assert nebula["parent"]["sha"] == result.pushed["reasoning_sft"]["sha"]
    assert nebula["training"]["main"]["reward_funcs"] == ["multi_task", "format"]
