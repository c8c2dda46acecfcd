"""Local Hub transfer speed: upload and download a folder of Parquet shards through huggingface_hub, compared with
copying the same files on the same disk (the baseline, run in the same process).

    python benchmarks/hub_transfer.py                 # 1 GB of shards
    python benchmarks/hub_transfer.py --size-mb 200
    python benchmarks/hub_transfer.py --quick         # 64 MB

Prints MB/s for the copy, the upload (`HfApi.upload_folder`, LFS basic transfer) and the download
(`snapshot_download` into an empty cache), and each transfer's ratio to the copy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nebula_hub.hub import ensure_local_hub, get_api  # noqa: E402


def make_shards(folder: Path, total_mb: int, shard_mb: int, seed: int = 0) -> int:
    """Write Parquet shards of random bytes (incompressible, like real token/embedding data) totalling ~total_mb."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_shards = max(1, round(total_mb / shard_mb))
    rows = 4096
    row_bytes = shard_mb * 1024 * 1024 // rows
    total = 0
    for i in tqdm(range(n_shards), desc="writing shards", unit="shard"):
        payload = rng.integers(0, 256, size=(rows, row_bytes), dtype=np.uint8)
        table = pa.table({"id": np.arange(rows) + i * rows, "data": [r.tobytes() for r in payload]})
        path = folder / f"train-{i:05d}-of-{n_shards:05d}.parquet"
        pq.write_table(table, path, compression="none")
        total += path.stat().st_size
    return total


def copy_folder(src: Path, dst: Path, fsync: bool) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for p in sorted(src.iterdir()):
        shutil.copyfile(p, dst / p.name)
    if fsync:  # the durability the hub gives uploads (it fsyncs every blob)
        for p in dst.iterdir():
            with open(p, "rb+") as f:
                os.fsync(f.fileno())


def raw_get(url: str) -> int:
    """Read a file from the server with plain httpx (1 MiB reads, no client cache): the server's own pace."""
    import httpx

    n = 0
    with httpx.stream("GET", url) as r:
        r.raise_for_status()
        for chunk in r.iter_raw(1 << 20):
            n += len(chunk)
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024, help="total size of the shards (default: 1024)")
    parser.add_argument("--shard-mb", type=int, default=64, help="size of one shard (default: 64)")
    parser.add_argument("--quick", action="store_true", help="64 MB in 16 MB shards")
    parser.add_argument("--workdir", help="scratch folder on the disk to measure (default: a temp folder)")
    args = parser.parse_args(argv)
    if args.quick:
        args.size_mb, args.shard_mb = 64, 16

    work = Path(tempfile.mkdtemp(prefix="hub-bench-", dir=args.workdir))
    hub = None
    try:
        shards = work / "shards"
        total = make_shards(shards, args.size_mb, args.shard_mb)
        mb = total / 1e6
        n_files = len(list(shards.iterdir()))

        # Best of two runs per baseline: the machine is shared, and the first write of a folder pays extra.
        copy_s = copy_sync_s = float("inf")
        for _ in range(2):
            for fsync in (False, True):
                t = time.perf_counter()
                copy_folder(shards, work / "copy", fsync=fsync)
                elapsed = time.perf_counter() - t
                shutil.rmtree(work / "copy")
                if fsync:
                    copy_sync_s = min(copy_sync_s, elapsed)
                else:
                    copy_s = min(copy_s, elapsed)

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        hub = ensure_local_hub(work / "hub-root", port=port)
        api = get_api(hub.target)
        repo = "local/bench-shards"
        api.create_repo(repo, repo_type="dataset")

        t = time.perf_counter()
        api.upload_folder(folder_path=shards, repo_id=repo, repo_type="dataset", commit_message="shards")
        up_s = time.perf_counter() - t

        t = time.perf_counter()
        out = api.snapshot_download(repo, repo_type="dataset", cache_dir=work / "hf-cache")
        down_s = time.perf_counter() - t
        got = sum(p.stat().st_size for p in Path(out).glob("*.parquet"))
        assert got == total, f"downloaded {got} bytes, expected {total}"

        t = time.perf_counter()
        raw = sum(
            raw_get(f"{hub.target.endpoint}/datasets/{repo}/resolve/main/{p.name}") for p in sorted(shards.iterdir())
        )
        raw_s = time.perf_counter() - t
        assert raw == total

        copy_mbs, sync_mbs = mb / copy_s, mb / copy_sync_s
        print(f"\nhub transfer benchmark: {n_files} Parquet shards, {mb:.0f} MB, disk {work}")
        print(f"  baseline copy (cp)           {copy_s:7.2f} s  {copy_mbs:8.1f} MB/s")
        print(f"  baseline copy + fsync        {copy_sync_s:7.2f} s  {sync_mbs:8.1f} MB/s")
        for label, secs in (
            ("upload (upload_folder)", up_s),
            ("download (snapshot_download)", down_s),
            ("server GET (plain httpx)", raw_s),
        ):
            mbs = mb / secs
            print(
                f"  {label:<28} {secs:7.2f} s  {mbs:8.1f} MB/s  ratio to cp {mbs / copy_mbs:.2f}, "
                f"to copy+fsync {mbs / sync_mbs:.2f}"
            )
    finally:
        if hub is not None:
            hub.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
