"""`nebula-hub curate sft`: turn heterogeneous sources into a curated, verified, deduplicated, decontaminated SFT corpus.

Stages (datatrove executors chained with `depends=`; `T` = `executor.tasks`):

    prepare     (T)  SourceReader -> NormalizeFilter -> DecontaminationFilter -> TaskClassifier
                     -> JsonlWriter(work/prepared) -> ExactDedupSignature
    exact_find  (1)  ExactFindDedups
    signatures  (T)  ShardReader(work/prepared) -> ExactDedupFilter -> JsonlWriter(work/unique) -> MinhashDedupSignature
    buckets     (B)  MinhashDedupBuckets
    clusters    (1)  MinhashDedupCluster
    process     (T)  ShardReader(work/unique) -> MinhashDedupFilter -> ResponseDistiller -> CrossVerifyFilter
                     -> DifficultyGrader -> JsonlWriter(work/verified)
    sample      (1)  JsonlReader(work/verified) -> DiversitySampler -> CuratedWriter(data/)
    finalize    (1)  rejected/*.parquet, stats.json, pipeline.yaml, manifest.json (last)

Decontamination and exact dedup run before generation so no teacher time is spent on records that would be dropped.
Every drop goes to `work/rejected/<stage>/` through the stage's `RejectedWriter`. Rerunning the same command resumes:
finished tasks are skipped (datatrove completion markers), unfinished ones redo their shard, and generation inside a
task reuses its saved samples.

    from nebula_hub.curate.sft import run_sft
    out = run_sft("pipelines/sft_corpus.yaml", output="outputs/sft", workers=2)
    datasets.load_dataset("parquet", data_files=str(out / "data/train/*.parquet"))["train"]
"""

import hashlib
import json
import logging
from pathlib import Path

from nebula_hub.config import load_config, to_dict
from nebula_hub.curate.pipeline import Stage, check_resume, run_stages
from nebula_hub.curate.sft_config import SFTPipelineConfig
from nebula_hub.errors import NebulaError


logger = logging.getLogger(__name__)

# Funnel order: every rejected record belongs to exactly one of these stages.
SFT_STAGES = ["ingest", "normalize", "decontamination", "dedup", "verify", "sample"]


def load_sft_config(config_path: str | Path, overrides: list[str] | None = None) -> SFTPipelineConfig:
    """Load a pipeline YAML with `--set` overrides; relative source/benchmark paths resolve against its folder."""
    config_path = Path(config_path)
    cfg = load_config(config_path, SFTPipelineConfig, overrides=overrides)
    cfg.resolve_paths(config_path.resolve().parent)
    return cfg


def check_sources(cfg: SFTPipelineConfig) -> None:
    """Fail early, naming the source and file, when a local source is missing or a Parquet file is unreadable."""
    from nebula_hub.curate.ingest import source_files

    for src in cfg.sources:
        if src.path:
            for path in source_files(src.path):
                if path.suffix == ".parquet":
                    import pyarrow.parquet as pq

                    try:
                        pq.ParquetFile(path)
                    except Exception as err:  # pyarrow raises several unrelated types for a corrupt file
                        raise NebulaError(
                            f"source {src.name!r}: {str(path)!r} is not a readable Parquet file ({err})",
                            hint="rewrite the file or remove it from the source's path",
                        ) from None


def build_stages(cfg: SFTPipelineConfig, root: Path, command: str | None = None) -> list[Stage]:
    """The datatrove stages of the SFT pipeline for config `cfg` writing to `root`."""
    from datatrove.pipeline.dedup.exact_dedup import ExactDedupFilter, ExactDedupSignature, ExactFindDedups
    from datatrove.pipeline.dedup.minhash import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from nebula_hub.curate.classify import TaskClassifier
    from nebula_hub.curate.crossverify import CrossVerifyFilter
    from nebula_hub.curate.decont import DecontaminationFilter, build_decont_index
    from nebula_hub.curate.dedup import ShardReader, WordTokenizer, exact_dedup_config, minhash_config
    from nebula_hub.curate.distill import ResponseDistiller
    from nebula_hub.curate.finalize import FinalizeStep
    from nebula_hub.curate.grade import DifficultyGrader
    from nebula_hub.curate.ingest import SourceReader
    from nebula_hub.curate.normalize import NormalizeFilter
    from nebula_hub.curate.rejected import RejectedWriter
    from nebula_hub.curate.sample import DiversitySampler
    from nebula_hub.curate.writer import CuratedWriter

    work = root / "work"
    tasks = cfg.executor.tasks
    gen = work / "generations"
    extra_stats = {}

    def jsonl(folder):
        return JsonlWriter(str(work / folder), output_filename="${rank}.jsonl.gz")

    prepare = [
        SourceReader(cfg.sources, cfg.ingest.max_record_bytes, exclusion_writer=RejectedWriter(work, "ingest")),
        NormalizeFilter(
            cfg.normalize.unicode_form,
            cfg.normalize.split_reasoning,
            True,
            cfg.normalize.max_turns,
            exclusion_writer=RejectedWriter(work, "normalize"),
        ),
    ]
    if cfg.decontamination.enabled and cfg.decontamination.benchmarks:
        counts = build_decont_index(cfg.decontamination.benchmarks, work / "decont_index", cfg.decontamination.n_grams)
        extra_stats["decontamination"] = {"n_grams": cfg.decontamination.n_grams, "benchmarks": counts}
        prepare.append(
            DecontaminationFilter(
                str(work / "decont_index"),
                cfg.decontamination.n_grams,
                exclusion_writer=RejectedWriter(work, "decontamination"),
            )
        )
    prepare += [
        TaskClassifier(
            cfg.classify.labels,
            cfg.classify.default_label,
            cfg.classify.model,
            cfg.classify.model_below_confidence,
            cache_dir=str(gen / "classify"),
        ),
        jsonl("prepared"),
    ]
    stages = [Stage("prepare", prepare, tasks)]
    exact_cfg = exact_dedup_config()
    if cfg.dedup.exact:
        prepare.append(ExactDedupSignature(str(work / "exact" / "sigs"), config=exact_cfg))
        stages.append(
            Stage(
                "exact_find",
                [ExactFindDedups(str(work / "exact" / "sigs"), str(work / "exact" / "dups"), config=exact_cfg)],
                1,
            )
        )
    signatures = [ShardReader(str(work / "prepared"))]
    if cfg.dedup.exact:
        signatures.append(
            ExactDedupFilter(
                str(work / "exact" / "dups"),
                config=exact_cfg,
                exclusion_writer=RejectedWriter(work, "dedup", "exact_duplicate", part="exact"),
            )
        )
    signatures.append(jsonl("unique"))
    mh = minhash_config(cfg.dedup.n_grams, cfg.dedup.num_buckets, cfg.dedup.hashes_per_bucket, cfg.dedup.seed)
    if cfg.dedup.near:
        signatures.append(MinhashDedupSignature(str(work / "minhash" / "sigs"), config=mh, language=WordTokenizer()))
    stages.append(Stage("signatures", signatures, tasks))
    if cfg.dedup.near:
        stages.append(
            Stage(
                "buckets",
                [MinhashDedupBuckets(str(work / "minhash" / "sigs"), str(work / "minhash" / "buckets"), config=mh)],
                cfg.dedup.num_buckets,
            )
        )
        stages.append(
            Stage(
                "clusters",
                [
                    MinhashDedupCluster(
                        str(work / "minhash" / "buckets"),
                        str(work / "minhash" / "remove"),
                        config=mh,
                        save_cluster_id=True,
                    )
                ],
                1,
            )
        )
    process = [ShardReader(str(work / "unique"))]
    if cfg.dedup.near:
        process.append(
            MinhashDedupFilter(
                str(work / "minhash" / "remove"),
                load_cluster_ids=True,
                exclusion_writer=RejectedWriter(work, "dedup", "near_duplicate", part="near"),
            )
        )
    if cfg.distill.enabled:
        process.append(
            ResponseDistiller(
                cfg.distill.teacher,
                cfg.distill.tasks,
                cfg.distill.fraction,
                cache_dir=str(gen / "distill"),
                # enough records per call that the selected share fills a generation batch
                batch_size=int(cfg.distill.teacher.batch_size / max(cfg.distill.fraction, 0.01)),
            )
        )
    process.append(
        CrossVerifyFilter(cfg.verify, cache_dir=str(gen / "judge"), exclusion_writer=RejectedWriter(work, "verify"))
    )
    if cfg.grade.enabled:
        process.append(
            DifficultyGrader(
                cfg.grade, cfg.verify, cache_dir=str(gen / "grade"), batch_size=cfg.grade.grader.batch_size
            )
        )
    process.append(jsonl("verified"))
    stages.append(Stage("process", process, tasks))
    stages.append(
        Stage(
            "sample",
            [
                JsonlReader(str(work / "verified"), add_file_path=False),
                DiversitySampler(cfg.sample, exclusion_writer=RejectedWriter(work, "sample")),
                CuratedWriter(str(root / "data")),
            ],
            1,
        )
    )
    stages.append(Stage("finalize", [FinalizeStep(str(root), cfg, SFT_STAGES, "sft", command, extra_stats)], 1))
    return stages


def run_sft(
    config_path: str | Path,
    output: str | Path | None = None,
    executor: str | None = None,
    tasks: int | None = None,
    workers: int | None = None,
    overrides: list[str] | None = None,
    command: str | None = None,
) -> Path:
    """Run (or resume) the SFT pipeline; returns the output folder (holding manifest.json when complete).

    Args:
        config_path (`str`): the pipeline YAML, e.g. `pipelines/sft_corpus.yaml`.
        output (`str`, *optional*): output folder; defaults to the config's `output`.
        executor (`str`, *optional*): `local`, `slurm` or `ray`; defaults to the config's.
        tasks, workers (`int`, *optional*): shards and parallel workers; default to the config's.
        overrides (`list[str]`, *optional*): `key=value` settings applied over the YAML.

    Example:
        >>> out = run_sft("pipelines/sft_corpus.yaml", output="/tmp/sft", workers=2)   # doctest: +SKIP
        >>> (out / "manifest.json").is_file()                                          # doctest: +SKIP
        True
    """
    extra = list(overrides or [])
    for key, value in (
        ("executor.kind", executor),
        ("executor.tasks", tasks),
        ("executor.workers", workers),
        ("output", output),
    ):
        if value is not None:
            extra.append(f"{key}={value}")
    cfg = load_sft_config(config_path, extra)
    root = Path(cfg.output).resolve()
    check_sources(cfg)
    # the fingerprint ignores executor sizes (they may change between runs) except tasks, checked on its own
    fingerprint = hashlib.sha256(
        json.dumps(
            {k: v for k, v in to_dict(cfg).items() if k not in ("executor", "output")}, sort_keys=True, default=str
        ).encode()
    ).hexdigest()[:16]
    check_resume(root, cfg.executor, fingerprint)
    stages = build_stages(cfg, root, command)
    logger.info(
        "curating %d source(s) into %s with %d task(s), %d worker(s) on %s",
        len(cfg.sources),
        root,
        cfg.executor.tasks,
        cfg.executor.workers,
        cfg.executor.kind,
    )
    run_stages(stages, root, cfg.executor)
    return root
