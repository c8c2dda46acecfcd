"""Hub content for the Space tests, on a hub of their own (so discovery sees exactly this content).

`space_hub` pushes, in the shapes the other stages document:
- a model repo with three branches: `base` (tiny Qwen3, scores in `model-index`, no lineage), `run-sft` and
  `run-grpo` (other tiny seeds; cards with the `nebula` block: parent repo/revision/sha, datasets with config and
  sha, recipe sha256; `model-index` results with their settings);
- a curated dataset repo tagged v1.0.0: Parquet per config (default, math, code, rejected) as README `configs`,
  `stats.json` (funnel and distributions, `nebula_hub/artifacts.py`) and `nebula_manifest.json`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest


BENCH = {  # benchmark -> (display, dataset type, area, metric)
    "ifeval": ("IFEval", "google/IFEval", "instruction_following", "prompt_level_strict_acc"),
    "gsm8k": ("GSM8K", "openai/gsm8k", "math", "accuracy"),
    "humaneval": ("HumanEval", "openai/openai_humaneval", "code", "pass@1"),
    "mmlu": ("MMLU", "cais/mmlu", "knowledge", "accuracy"),
}
SCORES = {
    "base": {"ifeval": 0.20, "gsm8k": 0.10, "humaneval": 0.05, "mmlu": 0.30},
    "run-sft": {"ifeval": 0.45, "gsm8k": 0.30, "humaneval": 0.15, "mmlu": 0.35},
    "run-grpo": {"ifeval": 0.50, "gsm8k": 0.42, "humaneval": 0.12, "mmlu": 0.36},
}


@dataclass
class SpaceHub:
    endpoint: str
    token: str
    root: Path
    model_repo: str
    dataset_repo: str
    shas: dict[str, str] = field(default_factory=dict)  # branch -> commit
    dataset_sha: str = ""

    @property
    def target(self):
        from nebula_hub.hub import HubTarget

        return HubTarget(self.endpoint, self.token, True, self.root, xet=False)

    def api(self):
        from nebula_hub.hub import get_api

        return get_api(self.target)

    def config(self, **extra):
        from nebula_hub.space import SpaceConfig

        return SpaceConfig.from_dict(
            {
                "checkpoints": [
                    {"repo": self.model_repo, "revision": b, "label": b} for b in ("base", "run-sft", "run-grpo")
                ],
                "datasets": [{"repo": self.dataset_repo}],
                "arena": {"max_new_tokens": 12, "device": "cpu"},
                **extra,
            }
        )


def _model_card(branch: str, repo: str, nebula: dict | None, base_model: str | None) -> str:
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    results = [
        EvalResult(task_type="text-generation", dataset_type=BENCH[b][1], dataset_name=BENCH[b][0],
                   metric_type=BENCH[b][3], metric_value=SCORES[branch][b], dataset_split="test",
                   dataset_args={"area": BENCH[b][2]}, metric_args={"enable_thinking": False, "n": 1})
        for b in BENCH
    ]  # fmt: skip
    data = ModelCardData(
        model_name=f"{repo}@{branch}",
        eval_results=results,
        base_model=base_model,
        datasets=[d["repo"] for d in (nebula or {}).get("datasets", [])] or None,
        library_name="transformers",
        tags=["nebula-hub"],
        **({"nebula": nebula} if nebula else {}),
    )
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n# {repo}@{branch}\n"))


def _push_model(api, repo: str, branch: str, seed: int, card: str, tmp: Path) -> str:
    import shutil

    from nebula_hub.models import TinyModelConfig, build_tiny_model

    folder = tmp / branch
    shutil.copytree(build_tiny_model(TinyModelConfig(seed=seed)), folder)
    (folder / "README.md").write_text(card, encoding="utf-8")
    api.create_branch(repo, branch=branch, exist_ok=True)
    return api.upload_folder(folder_path=str(folder), repo_id=repo, revision=branch, commit_message=branch).oid


def _dataset_files(folder: Path, repo: str) -> None:
    import pyarrow.parquet as pq

    from nebula_hub.schema import RejectedRecord, SFTRecord, to_table

    def sft(task: str, i: int, verdict: str):
        q = f"What is {i} + {i}?" if task == "math" else f"Write a function returning {i}."
        a = str(2 * i) if task == "math" else f"def f():\n    return {i}"
        return SFTRecord.create(
            [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
            source={"name": f"synthetic-{task}", "original_id": str(i), "license": "cc0-1.0"},
            task={"label": task, "confidence": 1.0}, difficulty={"level": ["easy", "medium", "hard"][i % 3]},
            verification=[{"verifier": "math" if task == "math" else "code", "verdict": verdict, "score": 1.0,
                           "detail": f"extracted {2 * i}" if task == "math" else "3/3 tests passed"}],
        )  # fmt: skip

    parts = {"math": [sft("math", i, "pass") for i in range(6)], "code": [sft("code", i, "pass") for i in range(4)]}
    for task, recs in parts.items():
        path = folder / "data" / "train" / task / "train-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(to_table(recs, "sft"), path)
    rejected = [
        RejectedRecord(
            id=f"rej{i}",
            stage="verify_math",
            reason="wrong_answer",
            detail=f"extracted {i}, gold {2 * i}",
            source="synthetic-math",
            record=sft("math", i, "fail").to_row() | {"meta": {}},
        )
        for i in range(3)
    ] + [
        RejectedRecord(
            id="rej-dedup",
            stage="dedup",
            reason="near_duplicate",
            detail="minhash cluster 7",
            source="synthetic-code",
            record={"messages": [{"role": "user", "content": "dup"}]},
        )
    ]
    path = folder / "rejected" / "train-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(to_table(rejected, "rejected"), path)
    stats = {
        "funnel": [
            {"stage": "ingest", "in": 14, "out": 14, "reasons": {}},
            {"stage": "dedup", "in": 14, "out": 13, "reasons": {"near_duplicate": 1}},
            {"stage": "verify_math", "in": 13, "out": 10, "reasons": {"wrong_answer": 3}},
        ],
        "distributions": {
            "task": {"math": 6, "code": 4},
            "difficulty": {"easy": 4, "medium": 3, "hard": 3},
            "source": {"synthetic-math": 6, "synthetic-code": 4},
        },
        "totals": {"input": 14, "curated": 10, "rejected": 4},
    }
    (folder / "stats.json").write_text(json.dumps(stats), encoding="utf-8")
    (folder / "nebula_manifest.json").write_text(
        json.dumps(
            {
                "format": "nebula-hub/dataset-version",
                "repo_id": repo,
                "version": "1.0.0",
                "tag": "v1.0.0",
                "kind": "sft",
                "nebula_hub_version": "0.1.0",
                "published_at": "2025-01-01T00:00:00+00:00",
                "distributions": stats["distributions"],
            }
        ),
        encoding="utf-8",
    )
    configs = [
        {"config_name": "default", "data_files": [{"split": "train", "path": "data/train/*/*.parquet"}]},
        {"config_name": "math", "data_files": [{"split": "train", "path": "data/train/math/*.parquet"}]},
        {"config_name": "code", "data_files": [{"split": "train", "path": "data/train/code/*.parquet"}]},
        {"config_name": "rejected", "data_files": [{"split": "train", "path": "rejected/*.parquet"}]},
    ]
    import yaml

    (folder / "README.md").write_text(
        f"---\n{yaml.safe_dump({'configs': configs})}---\n\n# {repo}\n", encoding="utf-8"
    )


@pytest.fixture(scope="session")
def space_hub(tmp_path_factory):
    """A fresh local hub holding the Space tests' checkpoints and dataset (see the module docstring)."""
    from huggingface_hub import constants

    from nebula_hub.hub import ensure_local_hub, get_api

    root = tmp_path_factory.mktemp("space-hub")
    work = tmp_path_factory.mktemp("space-content")
    mp = pytest.MonkeyPatch()
    mp.setattr(constants, "HF_HUB_CACHE", str(work / "hf-cache"))
    hub = ensure_local_hub(root, port=_free_port())
    try:
        api = get_api(hub.target)
        suffix = uuid.uuid4().hex[:6]
        handle = SpaceHub(
            hub.target.endpoint, hub.target.token, root, f"local/space-tiny-{suffix}", f"local/space-sft-{suffix}"
        )
        api.create_repo(handle.dataset_repo, repo_type="dataset")
        _dataset_files(work / "dataset", handle.dataset_repo)
        handle.dataset_sha = api.upload_folder(
            folder_path=str(work / "dataset"), repo_id=handle.dataset_repo, repo_type="dataset"
        ).oid
        api.create_tag(handle.dataset_repo, tag="v1.0.0", repo_type="dataset", revision=handle.dataset_sha)

        repo = handle.model_repo
        api.create_repo(repo)
        handle.shas["base"] = _push_model(api, repo, "base", 0, _model_card("base", repo, None, None), work)
        recipe = {"name": "space-test", "path": "pipelines/recipes/tiny/quickstart.yaml", "sha256": "ab" * 32}
        ds = {
            "repo": handle.dataset_repo,
            "config": "default",
            "split": "train",
            "revision": "v1.0.0",
            "sha": handle.dataset_sha,
            "phase": "stage1",
            "weight": 1.0,
        }
        for branch, parent, seed, method, config in (
            ("run-sft", "base", 1, "sft", "default"),
            ("run-grpo", "run-sft", 2, "grpo", "math"),
        ):
            nebula = {
                "version": "0.1.0",
                "stage": branch.split("-")[1],
                "method": method,
                "branch": branch,
                "recipe": recipe,
                "parent": {"repo": repo, "revision": parent, "sha": handle.shas[parent]},
                "datasets": [{**ds, "config": config}],
                "teachers": [],
            }
            handle.shas[branch] = _push_model(api, repo, branch, seed, _model_card(branch, repo, nebula, repo), work)
        yield handle
    finally:
        hub.stop()
        mp.undo()


@pytest.fixture(scope="session")
def space_content(space_hub):
    from nebula_hub.space.hub_reader import load_content

    return load_content(space_hub.api(), space_hub.config())


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
