"""Fixtures for training tests: tiny SFT and RL datasets (nebula-hub schema) published to the local Hub.

`quickstart_datasets` publishes what `pipelines/recipes/tiny/quickstart.yaml` reads by default, i.e. what a default
`nebula-hub quickstart` publishes: `local/nebula-sft` (configs default + one per task) and `local/nebula-rl` (configs
default, per task, difficulty-*), both tagged v1.0.0, the way `nebula-hub publish dataset` lays them out; plus
`local/nebula-reasoning-test` (thinking traces) for the reasoning branch.
"""

import random

import pytest


SFT_REPO = "local/nebula-sft"
RL_REPO = "local/nebula-rl"
REASONING_REPO = "local/nebula-reasoning-test"
VERSION = "v1.0.0"
CAPITALS = {
    "France": "Paris",
    "Italy": "Rome",
    "Spain": "Madrid",
    "Japan": "Tokyo",
    "Peru": "Lima",
    "Chad": "Ndjamena",
}
WORDS = ["apple", "river", "stone", "cloud", "green", "light", "music", "paper"]


def sft_rows(n_per_task: int = 24, seed: int = 0, thinking: bool = False) -> list[dict]:
    """Short chat rows per task (answers of a few tokens, so a tiny model learns to stop quickly)."""
    from nebula_hub.schema import SFTRecord

    rng = random.Random(seed)
    rows = []
    for i in range(n_per_task):
        a, b = rng.randint(1, 20), rng.randint(1, 20)
        w = rng.choice(WORDS)
        country = rng.choice(sorted(CAPITALS))
        cases = [
            ("math", f"What is {a} plus {b}?", f"{a + b}"),
            ("code", f"Write a function that returns {a}.", f"def f():\n    return {a}"),
            ("instruction_following", f"Reply with the word {w} in capital letters.", w.upper()),
            ("knowledge", f"What is the capital of {country}?", CAPITALS[country]),
        ]
        for task, question, answer in cases:
            if thinking:
                answer = f"<think>\nThe question asks: {question}\n</think>\n\n{answer}"
            rec = SFTRecord.create(
                [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
                source={"name": f"synthetic-{task}", "original_id": str(i), "license": "cc0-1.0"},
                task={"label": task, "confidence": 1.0},
                language="en",
            )
            rows.append(rec.to_row())
    return rows


def rl_rows(n_per_task: int = 8, seed: int = 1) -> list[dict]:
    from nebula_hub.schema import RLRecord

    rng = random.Random(seed)
    rows = []
    levels = ["easy", "medium", "hard"]
    for i in range(n_per_task):
        a, b = rng.randint(1, 20), rng.randint(1, 20)
        w = rng.choice(WORDS)
        level = levels[i % 3]
        recs = [
            RLRecord.create([{"role": "user", "content": f"What is {a} plus {b}? Answer {i}."}], "math",
                            answer=str(a + b), difficulty=level, pass_rate=0.5),
            RLRecord.create([{"role": "user", "content": f"Write a function f returning {a}. Task {i}."}], "code",
                            tests={"kind": "assert", "assert_code": f"assert f() == {a}"}, difficulty=level),
            RLRecord.create([{"role": "user", "content": f"Write about {w} in lowercase letters only. Task {i}."}],
                            "instruction_following", difficulty=level,
                            constraints={"instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}]}),
            RLRecord.create([{"role": "user", "content": f"Name the capital of {rng.choice(sorted(CAPITALS))}. {i}"}],
                            "knowledge", answer="Paris", difficulty=level),
        ]  # fmt: skip
        rows += [r.to_row() for r in recs]
    return rows


def publish(api, repo: str, rows: list[dict], features, configs: dict[str, callable], tag: str = VERSION) -> str:
    """Push each config (a row filter) as its own config of `repo`, tag the commit; return the tag's sha."""
    from datasets import Dataset

    api.create_repo(repo, repo_type="dataset", exist_ok=True)
    for name, keep in configs.items():
        ds = Dataset.from_list([r for r in rows if keep(r)], features=features)
        ds.push_to_hub(repo, config_name=name, split="train", token=api.token)
    refs = api.list_repo_refs(repo, repo_type="dataset")
    if tag in {t.name for t in refs.tags}:
        api.delete_tag(repo, tag=tag, repo_type="dataset")
    api.create_tag(repo, tag=tag, repo_type="dataset")
    return api.dataset_info(repo, revision=tag).sha


def _task(row):
    t = row["task"]
    return t["label"] if isinstance(t, dict) else t


@pytest.fixture(scope="session")
def quickstart_datasets(local_hub, tmp_path_factory):
    """Publish the quickstart SFT corpus and RL pool to the local Hub; return their tag shas."""

    from nebula_hub.hub import use_hub
    from nebula_hub.schema import RL_FEATURES, SFT_FEATURES

    api = local_hub.api()
    tasks = ["math", "code", "instruction_following", "knowledge"]
    sft = sft_rows()
    rl = rl_rows()
    sft_configs = {"default": lambda r: True, **{t: (lambda r, t=t: _task(r) == t) for t in tasks}}
    rl_configs = {
        "default": lambda r: True,
        **{t: (lambda r, t=t: r["task"] == t) for t in tasks},
        **{f"difficulty-{lv}": (lambda r, lv=lv: r["difficulty"] == lv) for lv in ("easy", "medium", "hard")},
    }
    reasoning = sft_rows(n_per_task=12, seed=5, thinking=True)
    with use_hub(local_hub.target):
        shas = {
            SFT_REPO: publish(api, SFT_REPO, sft, SFT_FEATURES, sft_configs),
            RL_REPO: publish(api, RL_REPO, rl, RL_FEATURES, rl_configs),
            REASONING_REPO: publish(api, REASONING_REPO, reasoning, SFT_FEATURES, {"default": lambda r: True}),
        }
    return shas


@pytest.fixture
def train_env(local_hub, tmp_path, monkeypatch):
    """Clients on the local Hub with fresh caches, and the run folder under tmp_path."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "ds-cache")
    monkeypatch.setenv("HF_ENDPOINT", local_hub.endpoint)
    monkeypatch.setenv("HF_TOKEN", local_hub.token)
    monkeypatch.chdir(tmp_path)
    return local_hub
