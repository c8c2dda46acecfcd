"""Finalize a curation output folder: rejected Parquet, `stats.json`, `pipeline.yaml`, then `manifest.json` last.

Runs as the pipeline's last single-task stage (so it also runs on Slurm and Ray). The funnel is computed from the
records themselves (every rejected row names its stage; in = curated + rejected), which is exact after any number of
interrupted and resumed runs; timings come from datatrove's per-task stats files (`logs/<stage>/stats/*.json`,
merged: a rerun overwrites the stats of the tasks it redid, so each task counts once). A funnel that does not add up
is a bug and raises.

Example:
    >>> finalize_output("outputs/sft", config, stages=SFT_STAGES, kind="sft")          # doctest: +SKIP
"""

import gzip
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from nebula_hub.artifacts import PIPELINE, STATS, Manifest, SourceEntry, sha256_file, write_manifest
from nebula_hub.config import to_dict
from nebula_hub.schema import RejectedRecord, to_table


LENGTH_BINS = [0, 256, 512, 1024, 2048, 4096, 8192, 16384]


def read_rejected(work: Path) -> list[dict]:
    rows = []
    for path in sorted((work / "rejected").rglob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh if line.strip())
    return rows


def write_rejected(root: Path, rows: list[dict], stages: list[str]) -> None:
    out = root / "rejected"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.parquet"):
        old.unlink()
    order = {s: i for i, s in enumerate(stages)}
    by_stage: dict[str, list] = {}
    for row in sorted(rows, key=lambda r: (order.get(r["stage"], 99), r["id"], r["reason"])):
        by_stage.setdefault(row["stage"], []).append(RejectedRecord.from_row(row, where=f"rejected {row['stage']}"))
    for stage, records in by_stage.items():
        pq.write_table(to_table(records, "rejected"), out / f"{stage}.parquet")


def merged_timings(logs: Path) -> dict[str, float]:
    """Seconds per executor stage: the sum over its tasks and steps of datatrove's time stats."""
    timings = {}
    for stage_dir in sorted(p for p in logs.iterdir() if p.is_dir()):
        total = 0.0
        for f in (stage_dir / "stats").glob("*.json"):
            for step in json.loads(f.read_text()):
                time_stats = step.get("time_stats") if isinstance(step, dict) else None
                total += float(time_stats.get("total", 0.0)) if isinstance(time_stats, dict) else 0.0
        timings[stage_dir.name] = round(total, 3)
    return timings


def curated_rows(root: Path) -> list[dict]:
    rows = []
    for path in sorted((root / "data").rglob("*.parquet")):
        rows.extend(pq.read_table(path).to_pylist())
    return rows


def length_histogram(lengths: list[int]) -> dict[str, Any]:
    counts = [0] * len(LENGTH_BINS)
    for n in lengths:
        i = max(j for j, edge in enumerate(LENGTH_BINS) if n >= edge)
        counts[i] += 1
    return {"unit": "characters", "bins": LENGTH_BINS, "counts": counts}


def build_stats(
    root: Path, rejected: list[dict], curated: list[dict], stages: list[str], extra: dict | None = None
) -> dict[str, Any]:
    total = len(rejected) + len(curated)
    funnel, current = [], total
    per_stage = {s: Counter() for s in stages}
    for row in rejected:
        per_stage.setdefault(row["stage"], Counter())[row["reason"]] += 1
    for stage in stages:
        dropped = sum(per_stage[stage].values())
        funnel.append(
            {
                "stage": stage,
                "in": current,
                "out": current - dropped,
                "reasons": dict(sorted(per_stage[stage].items())),
            }
        )
        current -= dropped
    unknown = set(per_stage) - set(stages)
    if current != len(curated) or unknown:
        raise AssertionError(
            f"funnel does not add up: {current} left after the stages but {len(curated)} curated "
            f"(unknown stages {sorted(unknown)})"
        )

    def dist(values):
        return dict(sorted(Counter(v if v is not None else "unknown" for v in values).items()))

    lengths = [sum(len(m["content"]) for m in r["messages"]) for r in curated]
    stats = {
        "funnel": funnel,
        "distributions": {
            "task": dist((r.get("task") or {}).get("label") for r in curated),
            "difficulty": dist((r.get("difficulty") or {}).get("level") for r in curated),
            "source": dist((r.get("source") or {}).get("name") for r in curated),
            "language": dist(r.get("language") for r in curated),
            "length": length_histogram(lengths),
            "response_origin": dist(json.loads(r.get("meta") or "{}").get("response_origin") for r in curated),
        },
        "totals": {
            "input": total,
            "curated": len(curated),
            "rejected": len(rejected),
            "splits": dist(Path(p).parent.name for p in _split_of(root, curated)),
        },
        "timings_s": merged_timings(root / "logs") if (root / "logs").is_dir() else {},
    }
    mean = sum(lengths) / len(lengths) if lengths else 0.0
    stats["distributions"]["length"]["mean"] = round(mean, 1)
    stats["distributions"]["length"]["std"] = (
        round(math.sqrt(sum((n - mean) ** 2 for n in lengths) / len(lengths)), 1) if lengths else 0.0
    )
    stats.update(extra or {})
    return stats


def _split_of(root: Path, curated: list[dict]) -> list[str]:
    out = []
    for path in sorted((root / "data").rglob("*.parquet")):
        out.extend([str(path)] * pq.ParquetFile(path).metadata.num_rows)
    return out


def source_entries(sources: list, rejected: list[dict], curated: list[dict]) -> list[SourceEntry]:
    counts = Counter((r.get("source") or {}).get("name") for r in curated)
    counts.update(r.get("source") for r in rejected)
    entries = []
    for src in sources:
        if src.repo:
            revision = _hub_sha(src)
            location, kind = src.repo, "hub"
        else:
            from nebula_hub.curate.ingest import source_files

            files = source_files(src.path)
            revision = sha256_file(files[0]) if len(files) == 1 else _combined_sha(files)
            location, kind = src.path, src.kind
        entries.append(
            SourceEntry(
                name=src.name,
                kind=kind,
                location=location,
                revision=revision,
                license=src.license,
                records=counts.get(src.name, 0),
            )
        )
    return entries


def _combined_sha(files: list[Path]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + sha256_file(f).encode())
    return digest.hexdigest()


def _hub_sha(src) -> str | None:
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(src.repo, revision=src.revision).sha
    except Exception:  # offline or no access: the requested revision is still recorded
        return src.revision


def finalize_output(
    root: str | Path,
    config,
    stages: list[str],
    kind: str = "sft",
    command: str | None = None,
    extra_stats: dict | None = None,
) -> Path:
    """Write rejected Parquet, stats.json, pipeline.yaml and, last, manifest.json; returns the manifest path."""
    root = Path(root)
    work = root / "work"
    rejected = read_rejected(work)
    write_rejected(root, rejected, stages)
    curated = curated_rows(root)
    extra = dict(extra_stats or {})
    contaminated = Counter(
        json.loads(r["record"]).get("contaminated_benchmark") for r in rejected if r["stage"] == "decontamination"
    )
    if "decontamination" in extra:
        extra["decontamination"]["matched"] = {
            b: contaminated.get(b, 0) for b in extra["decontamination"]["benchmarks"]
        }
    stats = build_stats(root, rejected, curated, stages, extra)
    (root / STATS).write_text(json.dumps(stats, indent=2, ensure_ascii=False), encoding="utf-8")
    config_dict = to_dict(config)
    (root / PIPELINE).write_text(yaml.safe_dump(config_dict, sort_keys=False, allow_unicode=True), encoding="utf-8")
    manifest = Manifest(
        kind=kind,
        sources=source_entries(config.sources, rejected, curated),
        pipeline_config=config_dict,
        pipeline_sha256=sha256_file(root / PIPELINE),
        command=command,
    )
    return write_manifest(root, manifest)


class FinalizeStep(PipelineStep):
    """`finalize_output` as a single-task datatrove step (the last stage)."""

    type = "📦 - OUTPUT"
    name = "📦 Finalize"

    def __init__(
        self,
        root: str,
        config,
        stages: list[str],
        kind: str = "sft",
        command: str | None = None,
        extra_stats: dict | None = None,
    ):
        super().__init__()
        self.root, self.config, self.stages, self.kind = root, config, stages, kind
        self.command, self.extra_stats = command, extra_stats

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with self.track_time():
            finalize_output(self.root, self.config, self.stages, self.kind, self.command, self.extra_stats)
        if data:
            yield from data
