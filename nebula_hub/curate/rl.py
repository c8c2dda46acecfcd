"""`nebula-hub curate rl`: build the RL candidate pool, verifiable prompts graded by rollouts and bucketed by difficulty.

Stages (datatrove executors chained with `depends=` by the SFT pipeline's `nebula_hub.curate.pipeline`; each keeps
completion markers under `OUTPUT/logs/<stage>/`, so rerunning the same command resumes: finished tasks are skipped,
unfinished ones redo their shard, and rollouts already saved under `OUTPUT/work/rollouts/` are not generated again):

1. `candidates`: read the sources (`rl_candidates`, over the SFT ingest reader), normalize (SFT `NormalizeFilter`),
   decontaminate (`rl_dedup`, the SFT decontamination filter, optionally also against the SFT held-out split),
   validate math golds (`rl_math_gold`), code tests (`rl_code_tests`) and IF constraints (`rl_if_constraints`),
   then exact-dedup signatures;
2. `exact_find`, `signatures`, `buckets`, `clusters`: the rest of datatrove's exact and MinHash dedup (`rl_dedup`);
3. `grade`: near-duplicate filter, then n rollouts per prompt from the grader, verified, bucketed, zero variance
   flagged (`rl_difficulty`) -> `OUTPUT/data/train/*.parquet` (`RL_FEATURES`, `rl_io`);
4. `finalize`: `rejected/<stage>.parquet` (every drop with its stage and reason), `stats.json`, `pipeline.yaml` and,
   last, `manifest.json` (kind `rl`): the output folder contract of `nebula_hub.artifacts`.

    from nebula_hub.curate.rl import run_rl_pool
    out = run_rl_pool("pipelines/rl_pool.yaml", output="outputs/rl_pool", workers=2, tasks=2)
    datasets.load_dataset("parquet", data_files=str(out / "data/train/*.parquet"))["train"]
"""

import hashlib
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from nebula_hub.artifacts import PIPELINE, STATS, Manifest, sha256_file, write_manifest
from nebula_hub.config import load_config, to_dict
from nebula_hub.curate.pipeline import Stage, check_resume, run_stages
from nebula_hub.curate.rl_config import RLPoolConfig


logger = logging.getLogger(__name__)

# Order of the funnel: every rejection belongs to exactly one of these stages.
RL_STAGES = ["ingest", "normalize", "decontamination", "math_gold", "code_tests", "if_constraints", "exact_dedup",
             "near_dedup", "difficulty"]


def load_rl_config(config_path: str | Path, overrides: list[str] | None = None) -> RLPoolConfig:
    """Load `pipelines/rl_pool.yaml` (or any pool config) with `--set` overrides; relative paths become absolute."""
    config_path = Path(config_path)
    cfg = load_config(config_path, RLPoolConfig, overrides=overrides)
    cfg.resolve_paths(config_path.resolve().parent)
    return cfg


def build_stages(cfg: RLPoolConfig, root: Path, command: str | None = None) -> list[Stage]:
    """The pool's datatrove stages, in order (chained with `depends=` by `nebula_hub.curate.pipeline.run_stages`)."""
    from nebula_hub.curate.normalize import NormalizeFilter
    from nebula_hub.curate.rejected import RejectedWriter
    from nebula_hub.curate.rl_candidates import RLSourceReader
    from nebula_hub.curate.rl_code_tests import CodeTestsFilter
    from nebula_hub.curate.rl_dedup import decontamination_steps, dedup_layout
    from nebula_hub.curate.rl_difficulty import grading_steps
    from nebula_hub.curate.rl_if_constraints import IFConstraintsStep
    from nebula_hub.curate.rl_io import RLRecordWriter
    from nebula_hub.curate.rl_math_gold import MathGoldFilter

    work = root / "work"
    c = cfg.candidates
    tasks = cfg.executor.tasks
    tail, middle, head = dedup_layout(cfg, work)
    candidates = [
        RLSourceReader(cfg.sources, exclusion_writer=RejectedWriter(work, "ingest")),
        NormalizeFilter(split_reasoning=False, require_assistant=False, exclusion_writer=RejectedWriter(work, "normalize")),
        *decontamination_steps(cfg, work),
        MathGoldFilter(exclusion_writer=RejectedWriter(work, "math_gold")),
        CodeTestsFilter(c.code_validation_runs, c.code_timeout_s, c.require_reference,
                        exclusion_writer=RejectedWriter(work, "code_tests")),
        IFConstraintsStep(c.if_constraints_per_seed, c.seed, exclusion_writer=RejectedWriter(work, "if_constraints")),
        *tail,
    ]
    stages = [Stage("candidates", candidates, tasks)]
    stages += [Stage(name, steps, n or tasks) for name, steps, n in middle]
    stages.append(Stage("grade", [*head, *grading_steps(cfg, work), RLRecordWriter(str(root / "data" / "train"))], tasks))
    stages.append(Stage("finalize", [RLFinalizeStep(str(root), cfg, command)], 1))
    return stages


def run_rl_pool(
    config_path: str | Path,
    output: str | Path | None = None,
    executor: str | None = None,
    tasks: int | None = None,
    workers: int | None = None,
    overrides: list[str] | None = None,
    command: str | None = None,
) -> Path:
    """Build (or resume) the RL candidate pool described by `config_path`; returns the output folder.

    Args:
        config_path (`str` or `Path`): the pool config, e.g. `pipelines/rl_pool.yaml`.
        output (`str` or `Path`, *optional*): the output folder; defaults to the config's `output`.
        executor (`str`, *optional*): `local`, `slurm` or `ray`; defaults to the config's `executor.kind`.
        tasks (`int`, *optional*): shards per stage; defaults to the config's `executor.tasks`.
        workers (`int`, *optional*): tasks run at once; defaults to the config's `executor.workers`.
        overrides (`list[str]`, *optional*): `key=value` config overrides (`--set`).
        command (`str`, *optional*): the command line, recorded in the manifest.

    Rerunning the same command resumes an interrupted run: finished tasks are skipped, unfinished ones redo their
    shard, and saved rollouts are not generated again. Resuming with another config or `tasks` is refused.
    `manifest.json` exists once the run is complete (with Slurm or Ray, when the submitted jobs finish).

    Example:
        >>> out = run_rl_pool("pipelines/rl_pool.yaml", output="/tmp/rl_pool", tasks=2, workers=2)  # doctest: +SKIP
        >>> CurationOutput(out).manifest.kind                                                        # doctest: +SKIP
        'rl'
    """
    sets = list(overrides or [])
    for key, value in (("executor.kind", executor), ("executor.tasks", tasks), ("executor.workers", workers),
                       ("output", output)):
        if value is not None:
            sets.append(f"{key}={value}")
    cfg = load_rl_config(config_path, sets)
    root = Path(cfg.output).expanduser().resolve()
    # executor sizes and the output path may change between runs (tasks is checked on its own); nothing else may
    fingerprint = hashlib.sha256(json.dumps({k: v for k, v in to_dict(cfg).items() if k not in ("executor", "output")},
                                            sort_keys=True, default=str).encode()).hexdigest()[:16]
    check_resume(root, cfg.executor, fingerprint)
    stages = build_stages(cfg, root, command or f"nebula-hub curate rl --config {config_path}")
    ex = cfg.executor
    logger.info("building the RL pool in %s (%s executor, %d task(s), %d worker(s))", root, ex.kind, ex.tasks, ex.workers)
    run_stages(stages, root, ex)
    return root


# ---- finalize ---------------------------------------------------------------------------------------------------
def rl_stats(root: Path, rejected: list[dict], curated: list[dict]) -> dict[str, Any]:
    """The funnel and distributions of a finished pool, counted from its records (each row once, however resumed)."""
    from nebula_hub.curate.finalize import length_histogram, merged_timings

    total = len(rejected) + len(curated)
    per_stage: dict[str, Counter] = {s: Counter() for s in RL_STAGES}
    for row in rejected:
        per_stage.setdefault(row["stage"], Counter())[row["reason"]] += 1
    funnel, current = [], total
    for stage in RL_STAGES:
        dropped = sum(per_stage[stage].values())
        funnel.append({"stage": stage, "in": current, "out": current - dropped, "reasons": dict(sorted(per_stage[stage].items()))})
        current -= dropped
    unknown = set(per_stage) - set(RL_STAGES)
    assert current == len(curated) and not unknown, f"funnel off: {current} vs {len(curated)}, stages {unknown}"
    metas = [json.loads(r["meta"] or "{}") for r in curated]
    rates = [r["pass_rate"] for r in curated]
    edges = [0.0, 0.25, 0.5, 0.75, 1.0]
    return {
        "funnel": funnel,
        "distributions": {
            "task": dict(sorted(Counter(r["task"] for r in curated).items())),
            "difficulty": {level: sum(r["difficulty"] == level for r in curated) for level in ("easy", "medium", "hard")},
            "source": dict(sorted(Counter(r["source"]["name"] for r in curated).items())),
            "length": length_histogram([sum(len(m["content"]) for m in r["prompt"]) for r in curated]),
            "pass_rate": {"bins": edges, "counts": [sum(lo <= x < hi or (hi == 1.0 and x == 1.0) for x in rates)
                                                    for lo, hi in zip(edges, edges[1:], strict=False)]},
            "zero_variance": {"flagged": sum(bool(m.get("zero_variance")) for m in metas),
                              "all_fail": sum(x == 0.0 for x in rates), "all_pass": sum(x == 1.0 for x in rates)},
        },
        "totals": {"input": total, "curated": len(curated), "rejected": len(rejected), "splits": {"train": len(curated)}},
        "timings_s": merged_timings(root / "logs") if (root / "logs").is_dir() else {},
    }


def finalize_rl(root: str | Path, cfg: RLPoolConfig, command: str | None = None) -> Path:
    """Write `rejected/*.parquet`, `stats.json`, `pipeline.yaml` and, last, `manifest.json` (kind `rl`)."""
    from nebula_hub.curate.finalize import curated_rows, read_rejected, source_entries, write_rejected

    root = Path(root)
    rejected = read_rejected(root / "work")
    write_rejected(root, rejected, RL_STAGES)
    curated = curated_rows(root)
    stats = rl_stats(root, rejected, curated)
    contaminated = Counter(json.loads(r["record"]).get("contaminated_benchmark") for r in rejected
                           if r["stage"] == "decontamination")
    benchmarks = [b.name for b in cfg.decontamination.benchmarks]
    benchmarks += ["sft_heldout"] if cfg.decontamination.sft_heldout else []
    stats["decontamination"] = {"benchmarks": benchmarks, "matched": {b: contaminated.get(b, 0) for b in benchmarks}}
    stats["grader"] = to_dict(cfg.grader)
    stats["difficulty_thresholds"] = {"hard_max": cfg.difficulty.hard_max, "easy_min": cfg.difficulty.easy_min}
    (root / STATS).write_text(json.dumps(stats, indent=2, ensure_ascii=False), encoding="utf-8")
    config_dict = to_dict(cfg)
    (root / PIPELINE).write_text(yaml.safe_dump(config_dict, sort_keys=False, allow_unicode=True), encoding="utf-8")
    rows = [{"source": r["source"]} for r in curated]  # source_entries counts curated rows by source.name
    manifest = Manifest(kind="rl", sources=source_entries(cfg.sources, rejected, rows), pipeline_config=config_dict,
                        pipeline_sha256=sha256_file(root / PIPELINE), command=command)
    return write_manifest(root, manifest)


class RLFinalizeStep(PipelineStep):
    """`finalize_rl` as the last single-task stage (so it also runs under Slurm and Ray)."""

    type = "📦 - OUTPUT"
    name = "📦 Finalize RL pool"

    def __init__(self, root: str, cfg: RLPoolConfig, command: str | None = None):
        super().__init__()
        self.root, self.cfg, self.command = root, cfg, command

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with self.track_time():
            finalize_rl(self.root, self.cfg, self.command)
        if data:
            yield from data
