"""Curation output folders written the way `curate` writes them (schema.to_table + pyarrow + write_manifest)."""

import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nebula_hub.artifacts import STATS, Manifest, SourceEntry, write_manifest
from nebula_hub.schema import RejectedRecord, RLRecord, SFTRecord, to_table


SFT_TASKS = ("math", "code", "general")
SOURCES = (("gsm8k", "mit", "openai/gsm8k"), ("mbpp", "cc-by-4.0", "google-research-datasets/mbpp"))


def sft_records(n: int, seed: int = 0, offset: int = 0) -> list[SFTRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(offset, offset + n):
        src, lic, _ = SOURCES[i % len(SOURCES)]
        task = SFT_TASKS[i % len(SFT_TASKS)]
        words = " ".join(rng.choice(("alpha", "beta", "gamma", "delta")) for _ in range(rng.randint(3, 60)))
        out.append(
            SFTRecord.create(
                [
                    {"role": "user", "content": f"question {i}: {words}"},
                    {"role": "assistant", "content": f"answer {i}"},
                ],
                source={"name": src, "original_id": str(i), "license": lic},
                task={"label": task, "confidence": 0.9},
                language="en",
                verification=[{"verifier": "math", "verdict": "pass", "score": 1.0}],
                meta={"i": i, "tags": ["x"]},
            )
        )
    return out


def rl_records(n: int, seed: int = 0, offset: int = 0) -> list[RLRecord]:
    rng = random.Random(seed)
    levels = ("easy", "medium", "hard", None)
    out = []
    for i in range(offset, offset + n):
        src, lic, _ = SOURCES[i % len(SOURCES)]
        if i % 2 == 0:
            rec = RLRecord.create(
                [{"role": "user", "content": f"compute {i} + {rng.randint(0, 99)}"}],
                task="math",
                answer=str(i),
                difficulty=levels[(i // 2) % 4],
                pass_rate=None if levels[(i // 2) % 4] is None else round(rng.random(), 3),
                source={"name": src, "original_id": str(i), "license": lic},
            )
        else:
            rec = RLRecord.create(
                [{"role": "user", "content": f"write f{i}"}],
                task="code",
                tests={"kind": "assert", "assert_code": f"assert f{i}() == {i}"},
                difficulty=levels[(i // 2) % 4],
                source={"name": src, "original_id": str(i), "license": lic},
                meta={"n": i},
            )
        out.append(rec)
    return out


def rejected_records(n: int, offset: int = 0) -> list[RejectedRecord]:
    stages = (("normalize", "bad_role_order"), ("verify", "wrong_answer"), ("dedup", "near_duplicate"))
    return [
        RejectedRecord(
            id=f"rej{i:05d}",
            stage=stages[i % 3][0],
            reason=stages[i % 3][1],
            detail=f"detail {i}",
            source=SOURCES[i % 2][0],
            record={"i": i},
        )
        for i in range(offset, offset + n)
    ]


def write_output(
    root: Path,
    kind: str,
    splits: dict[str, list],
    rejected: list[RejectedRecord],
    files_per_split: int = 1,
    pipeline: dict | None = None,
) -> Path:
    """Write a finished curation output folder (manifest written last, as `curate` does)."""
    root.mkdir(parents=True, exist_ok=True)
    for split, records in splits.items():
        (root / "data" / split).mkdir(parents=True, exist_ok=True)
        step = max(1, -(-len(records) // files_per_split))
        for j in range(0, len(records), step):
            pq.write_table(to_table(records[j : j + step], kind), root / "data" / split / f"{j // step:05d}.parquet")
    if rejected:
        (root / "rejected").mkdir(parents=True, exist_ok=True)
        pq.write_table(to_table(rejected, "rejected"), root / "rejected" / "00000.parquet")
    curated = sum(len(r) for r in splits.values())
    total_in = curated + len(rejected)
    by_stage: dict[str, dict[str, int]] = {}
    for r in rejected:
        by_stage.setdefault(r.stage, {}).setdefault(r.reason, 0)
        by_stage[r.stage][r.reason] += 1
    funnel, remaining = [], total_in
    for stage in ("normalize", "verify", "dedup"):
        dropped = sum(by_stage.get(stage, {}).values())
        funnel.append(
            {"stage": stage, "in": remaining, "out": remaining - dropped, "reasons": by_stage.get(stage, {})}
        )
        remaining -= dropped
    stats = {
        "funnel": funnel,
        "distributions": {
            "language": {"en": curated},
            "length": {"unit": "characters", "bins": [0, 64, 256, 1024], "counts": [0, 0, 0, 0]},
        },
        "totals": {"input": total_in, "curated": curated, "rejected": len(rejected)},
        "timings_s": {"normalize": 0.5},
    }
    (root / STATS).write_text(json.dumps(stats), encoding="utf-8")
    config = pipeline or {"name": f"{kind}-demo", "steps": ["normalize", "verify", "dedup"], "seed": 0}
    (root / "pipeline.yaml").write_text(json.dumps(config), encoding="utf-8")
    manifest = Manifest(
        kind=kind,
        sources=[
            SourceEntry(name=n, kind="hub", location=loc, revision="a" * 40, license=lic, records=total_in // 2)
            for n, lic, loc in SOURCES
        ],
        pipeline_config=config,
        pipeline_sha256="0" * 64,
        command=f"nebula-hub curate {kind} --config pipelines/{kind}.yaml --output {root.name}",
    )
    write_manifest(root, manifest)
    return root


@pytest.fixture
def sft_output(tmp_path) -> Path:
    """A small SFT output: train (2 files) + test, 9 rejected records."""
    return write_output(
        tmp_path / "sft-out",
        "sft",
        {"train": sft_records(60), "test": sft_records(12, seed=1, offset=1000)},
        rejected_records(9),
        files_per_split=2,
    )


@pytest.fixture
def rl_output(tmp_path) -> Path:
    """A small RL pool: train only, math + code, all difficulty buckets and ungraded records."""
    return write_output(tmp_path / "rl-out", "rl", {"train": rl_records(48)}, rejected_records(6))
