"""Publishing a curated corpus: `nebula-hub publish dataset` vs. `Dataset.push_to_hub` of the same rows.

    python benchmarks/publish.py                      # 1,000,000 synthetic SFT records
    python benchmarks/publish.py --records 200000
    python benchmarks/publish.py --quick              # 50,000 records

Both run against a fresh local Hub, each in its own subprocess so peak memory (max RSS) is measured per method.
The baseline reads the same curated Parquet files with `Dataset.from_parquet` and pushes them with
`push_to_hub(max_shard_size=...)` (one config, no card sections, no tag, no per-task configs); `publish` verifies the
sha256 of the inputs, writes the task configs and `rejected`, the ids file, the charts and the card, and tags the
commit. Prints wall time, rows/s, MB/s (input Parquet bytes), peak RSS, each ratio publish / push_to_hub, and the
time of `load_dataset(repo, "default", split="train", revision=...)` of each result (fresh cache).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_output(root: Path, records: int, seed: int = 0) -> int:
    """A curation output folder of `records` unique SFT records (plus 1% rejected), written as a stream."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm import tqdm

    from nebula_hub.artifacts import Manifest, SourceEntry, write_manifest
    from nebula_hub.schema import RejectedRecord, SFTRecord, to_table

    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(4000)]
    base_n = min(records, 20_000)
    tasks, sources = ("math", "code", "general", "instruction_following"), ("gsm8k", "mbpp", "tulu", "ifeval")

    def text(k: int) -> str:
        return " ".join(rng.choices(vocab, k=k))

    base = to_table(
        [
            SFTRecord.create(
                [
                    {"role": "user", "content": text(rng.randint(10, 60))},
                    {"role": "assistant", "content": text(rng.randint(40, 160))},
                ],
                source={"name": sources[i % 4], "original_id": str(i), "license": "apache-2.0"},
                task={"label": tasks[i % 4]},
                language="en",
            )
            for i in range(base_n)
        ],
        "sft",
    )
    (root / "data" / "train").mkdir(parents=True)
    written, part = 0, 0
    bar = tqdm(total=records, unit="rows", desc="synthetic corpus")
    while written < records:
        path = root / "data" / "train" / f"{part:05d}.parquet"
        with pq.ParquetWriter(path, base.schema, compression="zstd") as w:
            for _ in range(10):  # ~200k rows per input file
                n = min(base_n, records - written)
                if n <= 0:
                    break
                # Unique ids (and so unique rows) per repeat; contents cycle every base_n rows.
                ids = pa.array([f"s{written + i:09d}" for i in range(n)], pa.string())
                w.write_table(base.slice(0, n).set_column(0, "id", ids))
                written += n
                bar.update(n)
        part += 1
    bar.close()
    rejected = [
        RejectedRecord(id=f"rej{i}", stage="verify", reason="wrong_answer", record={"i": i})
        for i in range(max(1, records // 100))
    ]
    (root / "rejected").mkdir()
    pq.write_table(to_table(rejected, "rejected"), root / "rejected" / "00000.parquet")
    funnel = [
        {"stage": "verify", "in": records + len(rejected), "out": records, "reasons": {"wrong_answer": len(rejected)}}
    ]
    (root / "stats.json").write_text(json.dumps({"funnel": funnel, "totals": {"curated": records}}))
    write_manifest(
        root,
        Manifest(
            kind="sft",
            sources=[SourceEntry(name=s, kind="jsonl", location=f"{s}.jsonl", license="apache-2.0") for s in sources],
            pipeline_config={"name": "benchmark"},
            command="python benchmarks/publish.py",
        ),
    )
    return sum(p.stat().st_size for p in (root / "data").rglob("*.parquet"))


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(args: argparse.Namespace) -> None:
    """One measured phase, in its own process; prints a JSON line."""
    from nebula_hub.hub import HubTarget, get_api, use_hub

    target = HubTarget(args.endpoint, os.environ["BENCH_HUB_TOKEN"], True, None, xet=False)
    base = _peak()
    t0 = time.perf_counter()
    if args.phase == "publish":
        from nebula_hub.publish import publish_dataset

        publish_dataset(
            args.output,
            args.repo,
            "1.0.0",
            target=target,
            shard_size_mb=args.shard_mb,
            progress=False,
            staging_root=args.staging,
        )
    elif args.phase == "push":
        import datasets

        with use_hub(target):
            datasets.disable_progress_bars()
            files = sorted(str(p) for p in Path(args.output, "data", "train").glob("*.parquet"))
            ds = datasets.Dataset.from_parquet(files, cache_dir=args.staging)
            ds.push_to_hub(args.repo, max_shard_size=f"{args.shard_mb}MB", token=target.token)
        get_api(target)  # same imports as publish
    elif args.phase == "load":
        import datasets

        with use_hub(target):
            datasets.disable_progress_bars()
            revision = "v1.0.0" if args.revision == "tag" else None
            ds = datasets.load_dataset(args.repo, "default", split="train", revision=revision, cache_dir=args.staging)
            assert len(ds) == args.expect_rows, (len(ds), args.expect_rows)
    wall = time.perf_counter() - t0
    print(json.dumps({"wall": wall, "peak": _peak(), "before": base}))


def run_phase(phase: str, common: list[str], extra: list[str] | None = None) -> dict:
    cmd = [sys.executable, __file__, "--phase", phase, *common, *(extra or [])]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="50,000 records")
    parser.add_argument("--shard-mb", type=int, default=256)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--repo", help=argparse.SUPPRESS)
    parser.add_argument("--staging", help=argparse.SUPPRESS)
    parser.add_argument("--revision", help=argparse.SUPPRESS)
    parser.add_argument("--expect-rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        child(args)
        return
    from nebula_hub.hub import ensure_local_hub

    records = 50_000 if args.quick else args.records
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        input_bytes = make_output(tmp / "out", records)
        print(
            f"synthetic corpus: {records:,} records, {input_bytes / 1e6:.1f} MB of Parquet "
            f"({time.perf_counter() - t0:.1f} s to write)"
        )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        hub = ensure_local_hub(tmp / "hub", port=port)
        os.environ["BENCH_HUB_TOKEN"] = hub.target.token  # for the child processes only; never printed
        try:
            common = ["--endpoint", hub.target.endpoint, "--output", str(tmp / "out")]
            pub = run_phase(
                "publish",
                common,
                ["--repo", "local/bench-publish", "--staging", str(tmp / "s1"), "--shard-mb", str(args.shard_mb)],
            )
            push = run_phase(
                "push",
                common,
                ["--repo", "local/bench-push", "--staging", str(tmp / "s2"), "--shard-mb", str(args.shard_mb)],
            )
            load_pub = run_phase(
                "load",
                common,
                [
                    "--repo",
                    "local/bench-publish",
                    "--staging",
                    str(tmp / "c1"),
                    "--revision",
                    "tag",
                    "--expect-rows",
                    str(records),
                ],
            )
            load_push = run_phase(
                "load",
                common,
                [
                    "--repo",
                    "local/bench-push",
                    "--staging",
                    str(tmp / "c2"),
                    "--revision",
                    "main",
                    "--expect-rows",
                    str(records),
                ],
            )
        finally:
            hub.stop()
    mb = input_bytes / 1e6
    print(f"\n{'method':<34}{'wall s':>9}{'rows/s':>12}{'MB/s':>9}{'peak RSS MiB':>14}")
    for name, r in (("nebula-hub publish dataset", pub), ("Dataset.from_parquet+push_to_hub", push)):
        print(
            f"{name:<34}{r['wall']:>9.1f}{records / r['wall']:>12,.0f}{mb / r['wall']:>9.1f}{r['peak'] / 2**20:>14.0f}"
        )
    print(
        f"\nratio publish / push_to_hub: wall {pub['wall'] / push['wall']:.2f}x, "
        f"peak RSS {pub['peak'] / push['peak']:.2f}x"
    )
    print(
        f"load_dataset(default, train) of the result: publish {load_pub['wall']:.1f} s, "
        f"push_to_hub {load_push['wall']:.1f} s (ratio {load_pub['wall'] / load_push['wall']:.2f}x)"
    )


if __name__ == "__main__":
    main()
