"""Stage data: mixture weights, row shapes per method, and loading a published dataset by its tag's sha."""

import pytest
from datasets import Dataset

from nebula_hub.errors import NebulaError
from nebula_hub.train.configs import DatasetSpec
from nebula_hub.train.data import _weighted, load_mixture, shape_rows
from tests.train.conftest import RL_REPO, SFT_REPO, VERSION, rl_rows, sft_rows


def test_weights_subsample_and_repeat():
    ds = Dataset.from_list([{"x": i} for i in range(10)])
    assert len(_weighted(ds, 0.5, seed=0)) == 5
    assert len(_weighted(ds, 2.0, seed=0)) == 20
    assert len(_weighted(ds, 1.3, seed=0)) == 13
    assert _weighted(ds, 0.5, seed=0)["x"] == _weighted(ds, 0.5, seed=0)["x"]  # seeded


def test_shapes_per_method():
    from nebula_hub.schema import RL_FEATURES, SFT_FEATURES

    sft = Dataset.from_list(sft_rows(2), features=SFT_FEATURES)
    assert shape_rows(sft, "sft", "x").column_names == ["messages"]
    # SFT rows become distillation prompts (last assistant reply dropped) with their task label as a string.
    opd = shape_rows(sft, "opd", "x")
    assert opd.column_names == ["prompt", "task"] and opd[0]["prompt"][-1]["role"] == "user"
    assert opd[0]["task"] == "math"
    rl = Dataset.from_list(rl_rows(1), features=RL_FEATURES)
    grpo = shape_rows(rl, "grpo", "x")
    assert {"prompt", "task", "answer", "tests", "constraints"} <= set(grpo.column_names)
    with pytest.raises(NebulaError, match="SFT needs a 'messages' column"):
        shape_rows(rl, "sft", "me/pool@v1")


def test_load_mixture_pins_the_tag_sha(hub_env, quickstart_datasets):
    api = hub_env.api()
    specs = [
        DatasetSpec(repo=SFT_REPO, config="math", revision=VERSION, weight=0.5),
        DatasetSpec(repo=SFT_REPO, config="default", revision=VERSION, where={"task": ["code", "knowledge"]}),
    ]
    ds, lineage = load_mixture(specs, "sft", api, seed=1)
    assert [e["sha"] for e in lineage] == [quickstart_datasets[SFT_REPO]] * 2
    assert [e["rows_used"] for e in lineage] == [12, 48] and len(ds) == 60
    rl, lineage = load_mixture([DatasetSpec(repo=RL_REPO, config="difficulty-medium", revision=VERSION)], "mopd", api)
    assert set(rl["task"]) == {"math", "code", "instruction_following", "knowledge"} and lineage[0][
        "rows_loaded"
    ] == len(rl)
    with pytest.raises(NebulaError, match="has no revision 'v9.9.9'"):
        load_mixture([DatasetSpec(repo=SFT_REPO, revision="v9.9.9")], "sft", api)


def test_grpo_drops_zero_variance_prompts_by_default(hub_env):
    from nebula_hub.schema import RL_FEATURES
    from tests.train.conftest import publish

    api = hub_env.api()
    rows = rl_rows(3)
    maths = [r for r in rows if r["task"] == "math"]
    maths[0]["pass_rate"], maths[1]["pass_rate"] = 0.0, 1.0  # all rollouts failed / all passed
    repo = "local/zero-variance-pool"
    publish(api, repo, rows, RL_FEATURES, {"default": lambda r: True})
    spec = DatasetSpec(repo=repo, revision=VERSION)

    grpo, lineage = load_mixture([spec], "grpo", api)
    assert len(grpo) == len(rows) - 2 and lineage[0]["zero_variance_dropped"] == 2
    # Distillation needs no reward variance; an explicit opt-in keeps them for GRPO too.
    assert len(load_mixture([spec], "mopd", api)[0]) == len(rows)
    kept, lineage = load_mixture([DatasetSpec(repo=repo, revision=VERSION, keep_zero_variance=True)], "grpo", api)
    assert len(kept) == len(rows) and lineage[0]["zero_variance_dropped"] == 0
