"""Dedup and decontamination of the RL pool, with the SFT pipeline's pieces (`nebula_hub.curate.dedup`, `.decont`).

- Decontamination: `build_decont_index` over the configured benchmarks (and, with `decontamination.sft_heldout`,
  over the prompts of a finished SFT corpus's `test` split, as the benchmark `sft_heldout`), then the SFT
  `DecontaminationFilter` on the prompt text; contaminated candidates are rejected at stage `decontamination`.
- Dedup: datatrove's staged exact dedup and MinHash, configured by the SFT helpers (`exact_dedup_config`,
  `minhash_config`, `WordTokenizer`) and chained through folders with the SFT `ShardReader`, so document indices line
  up between the signature and filter stages. Drops land at stages `exact_dedup` and `near_dedup`.

The executors these stages need are assembled by `nebula_hub.curate.rl.build_executors`.

    steps = decontamination_steps(cfg, work_dir)      # builds the index now; [] when disabled
"""

import json
from pathlib import Path

from nebula_hub.curate.rejected import RejectedWriter
from nebula_hub.errors import NebulaError


def heldout_prompts_file(sft_output: str | Path, work_dir: Path) -> Path:
    """Write the prompts of an SFT curation output's `test` split to `work_dir/sft_heldout.jsonl` (one `question`
    per line, the benchmark layout `build_decont_index` reads)."""
    import pyarrow.parquet as pq

    files = sorted((Path(sft_output) / "data" / "test").glob("*.parquet"))
    if not files:
        raise NebulaError(
            f"decontamination.sft_heldout: {str(sft_output)!r} has no held-out split (no data/test/*.parquet)",
            hint="point it at a finished `nebula-hub curate sft` output built with sample.test_fraction > 0",
        )
    target = Path(work_dir) / "sft_heldout.jsonl"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8") as fh:
        for path in files:
            for messages in pq.read_table(path, columns=["messages"]).column("messages").to_pylist():
                text = "\n\n".join(m["content"] for m in messages if m["role"] == "user")
                fh.write(json.dumps({"question": text}, ensure_ascii=False) + "\n")
    return target


def decontamination_steps(cfg, work_dir: str | Path) -> list:
    """Build the n-gram index (benchmarks + SFT held-out split) and return the filter step, or `[]` if disabled."""
    from nebula_hub.curate.decont import DecontaminationFilter, build_decont_index
    from nebula_hub.curate.sft_config import BenchmarkConfig

    d = cfg.decontamination
    benchmarks = list(d.benchmarks)
    if d.sft_heldout:
        path = heldout_prompts_file(d.sft_heldout, Path(work_dir))
        benchmarks.append(BenchmarkConfig(name="sft_heldout", path=str(path), field="question"))
    if not d.enabled or not benchmarks:
        return []
    index = Path(work_dir) / "decont_index"
    build_decont_index(benchmarks, index, n_grams=d.n_grams)
    return [DecontaminationFilter(str(index), n_grams=d.n_grams,
                                  exclusion_writer=RejectedWriter(work_dir, "decontamination", "contaminated"))]


def dedup_layout(cfg, work_dir: str | Path):
    """The dedup stages as (steps ending the candidates stage, [(name, steps, tasks)] in between, steps starting
    the grading stage). Folders: prepared -> exact -> unique -> minhash."""
    from datatrove.pipeline.dedup.exact_dedup import ExactDedupFilter, ExactDedupSignature, ExactFindDedups
    from datatrove.pipeline.dedup.minhash import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.writers import JsonlWriter

    from nebula_hub.curate.dedup import ShardReader, WordTokenizer, exact_dedup_config, minhash_config

    work = Path(work_dir)
    d = cfg.dedup
    tail = [JsonlWriter(str(work / "prepared"), output_filename="${rank}.jsonl.gz")]
    middle: list[tuple[str, list, int | None]] = []
    current = work / "prepared"
    if d.exact:
        exact = exact_dedup_config()
        tail.append(ExactDedupSignature(str(work / "exact" / "sigs"), config=exact))
        middle.append(("exact_find", [ExactFindDedups(str(work / "exact" / "sigs"), str(work / "exact" / "dups"),
                                                      config=exact)], 1))
        filter_steps = [
            ShardReader(str(current)),
            ExactDedupFilter(str(work / "exact" / "dups"), config=exact,
                             exclusion_writer=RejectedWriter(work, "exact_dedup", "duplicate_prompt")),
            JsonlWriter(str(work / "unique"), output_filename="${rank}.jsonl.gz"),
        ]
        current = work / "unique"
    else:
        filter_steps = []
    head = [ShardReader(str(current))]
    if d.near:
        mh = minhash_config(d.n_grams, d.num_buckets, d.hashes_per_bucket, d.seed)
        sigs, buckets, remove = (str(work / "minhash" / p) for p in ("sigs", "buckets", "remove_ids"))
        signature = MinhashDedupSignature(sigs, config=mh, language=WordTokenizer())
        if filter_steps:
            middle.append(("signatures", [*filter_steps, signature], None))
        else:
            tail.append(signature)
        middle.append(("buckets", [MinhashDedupBuckets(sigs, buckets, config=mh)], mh.num_buckets))
        middle.append(("clusters", [MinhashDedupCluster(buckets, remove, config=mh)], 1))
        head.append(MinhashDedupFilter(remove, exclusion_writer=RejectedWriter(work, "near_dedup", "near_duplicate")))
    elif filter_steps:
        middle.append(("exact_filter", filter_steps, None))
    return tail, middle, head
