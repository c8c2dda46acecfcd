"""The repo layout: partitions and configs, exact rows, size-bounded shards, bounded memory while streaming."""

import json
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nebula_hub.artifacts import CurationOutput, sha256_file
from nebula_hub.errors import NebulaError
from nebula_hub.publish.layout import build_layout
from nebula_hub.schema import RLRecord, SFTRecord

from .conftest import rejected_records, sft_records, write_output


def _read_config(layout, config: str, split: str) -> list[dict]:
    rows = []
    for part in layout.configs()[config][split]:
        for f in part.files:
            rows += pq.read_table(layout.root / f.path).to_pylist()
    return rows


def _input_rows(out: Path, split: str) -> list[dict]:
    return [r for p in sorted((out / "data" / split).glob("*.parquet")) for r in pq.read_table(p).to_pylist()]


def test_sft_layout_configs_hold_exactly_the_records(sft_output, tmp_path):
    layout = build_layout(CurationOutput(sft_output, verify=True), tmp_path / "stage", progress=False)
    configs = layout.configs()
    assert list(configs) == ["default", "code", "general", "math", "rejected"]
    assert list(configs["default"]) == ["train", "test"]
    for split in ("train", "test"):
        expected = {r["id"]: SFTRecord.from_row(r) for r in _input_rows(sft_output, split)}
        got = {r["id"]: SFTRecord.from_row(r) for r in _read_config(layout, "default", split)}
        assert got == expected
        by_task = Counter(r.task.label for r in expected.values())
        for task, n in by_task.items():
            rows = _read_config(layout, task, split)
            assert len(rows) == n and {r["task"]["label"] for r in rows} == {task}
    rejected = _read_config(layout, "rejected", "train")
    assert sorted(r["id"] for r in rejected) == sorted(r.id for r in rejected_records(9))
    assert layout.distributions["task"] == {"code": 24, "general": 24, "math": 24}
    assert layout.distributions["split"] == {"train": 60, "test": 12}
    assert "difficulty" not in layout.distributions  # no SFT record is graded
    assert layout.rejected_reasons == {
        "normalize": {"bad_role_order": 3},
        "verify": {"wrong_answer": 3},
        "dedup": {"near_duplicate": 3},
    }
    for f in layout.files():
        assert sha256_file(layout.root / f.path) == f.sha256 and (layout.root / f.path).stat().st_size == f.bytes
        assert pq.ParquetFile(layout.root / f.path).metadata.num_rows == f.rows
    ids = pq.read_table(layout.root / layout.ids_file.path)
    assert ids.num_rows == 72 + 9 and len(set(ids.column("id").to_pylist())) == 81


def test_rl_layout_has_difficulty_configs(rl_output, tmp_path):
    layout = build_layout(CurationOutput(rl_output), tmp_path / "stage", progress=False)
    records = [RLRecord.from_row(r) for r in _input_rows(rl_output, "train")]
    configs = layout.configs()
    assert set(configs) == {
        "default",
        "math",
        "code",
        "difficulty-easy",
        "difficulty-medium",
        "difficulty-hard",
        "rejected",
    }
    for level in ("easy", "medium", "hard"):
        got = sorted(RLRecord.from_row(r).id for r in _read_config(layout, f"difficulty-{level}", "train"))
        assert got == sorted(r.id for r in records if r.difficulty == level)
    ungraded = sum(r.difficulty is None for r in records)
    assert ungraded and layout.distributions["difficulty"]["ungraded"] == ungraded
    assert len(_read_config(layout, "default", "train")) == len(records)


def test_shards_are_size_bounded_and_complete(tmp_path):
    records = sft_records(1500, seed=3)
    out = write_output(tmp_path / "big", "sft", {"train": records}, rejected_records(4), files_per_split=3)
    shard_bytes = 48 * 1024
    layout = build_layout(
        CurationOutput(out), tmp_path / "stage", shard_bytes=shard_bytes, batch_rows=128, progress=False
    )
    math = next(p for p in layout.partitions if p.key == "train/math")
    assert len(math.files) > 1
    assert [Path(f.path).name for f in math.files][0] == f"train-00000-of-{len(math.files):05d}.parquet"
    for part in layout.partitions:
        for f in part.files:
            # A shard closes once it reaches the limit, so it exceeds it by at most one row group.
            row_group = max(
                pq.ParquetFile(layout.root / f.path).metadata.row_group(i).total_byte_size
                for i in range(pq.ParquetFile(layout.root / f.path).metadata.num_row_groups)
            )
            assert f.bytes <= shard_bytes + row_group + 4096, (f.path, f.bytes)
    got = sorted(r["id"] for r in _read_config(layout, "default", "train"))
    assert got == sorted(r.id for r in records)


def test_schema_mismatch_names_the_file(tmp_path):
    import pyarrow as pa

    out = write_output(tmp_path / "o", "sft", {"train": sft_records(5)}, [])
    bad = out / "data" / "train" / "00000.parquet"
    pq.write_table(pa.table({"id": ["a"], "text": ["b"]}), bad)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"][0].update(rows=1, sha256=sha256_file(bad), bytes=bad.stat().st_size)
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(NebulaError) as err:
        build_layout(CurationOutput(out, verify=True), tmp_path / "stage", progress=False)
    assert "00000.parquet" in err.value.message and "missing columns" in err.value.message
    assert "'messages'" in err.value.message and "'text'" in err.value.message


_MEMORY_PROBE = textwrap.dedent(
    """
    import json, resource, sys
    import pyarrow as pa, pyarrow.parquet as pq
    from nebula_hub.artifacts import CurationOutput, Manifest, write_manifest
    from nebula_hub.schema import SFTRecord, to_table
    from nebula_hub.publish.layout import build_layout

    root, stage, target_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
    import pathlib
    (pathlib.Path(root) / "data" / "train").mkdir(parents=True)
    text = "the quick brown fox jumps over the lazy dog " * 100   # ~4.4 KB per message, compresses well
    base = to_table([SFTRecord.create([{"role": "user", "content": f"q{i} " + text},
                                       {"role": "assistant", "content": f"a{i} " + text}],
                                      source={"name": "synthetic"}, task={"label": ("math", "code")[i % 2]})
                     for i in range(500)], "sft")
    repeats = max(1, (target_mb << 20) // base.nbytes)
    with pq.ParquetWriter(f"{root}/data/train/00000.parquet", base.schema, compression="zstd") as w:
        for r in range(repeats):  # written as a stream too: the probe itself never holds the corpus
            ids = pa.array([f"r{r}-{i}" for i in range(base.num_rows)], pa.string())
            w.write_table(base.set_column(0, "id", ids))
    write_manifest(root, Manifest(kind="sft"))
    corpus = base.nbytes * repeats
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    layout = build_layout(CurationOutput(root), stage, shard_bytes=32 << 20, buffer_bytes=16 << 20, progress=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"corpus": corpus, "before": before, "peak": peak,
                      "rows": sum(p.rows for p in layout.partitions), "expected": repeats * base.num_rows,
                      "shards": [f.bytes for p in layout.partitions for f in p.files]}))
    """
)


@pytest.mark.slow
def test_streaming_memory_is_bounded(tmp_path):
    """A corpus ~10x the buffers is published with a peak RSS growth far below the corpus size."""
    proc = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(tmp_path / "out"), str(tmp_path / "stage"), "320"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    assert m["rows"] == m["expected"]
    assert m["corpus"] >= 300 << 20
    growth = m["peak"] - m["before"]
    # Buffers are capped at 16 MiB plus one row group per partition and one input batch; loading the corpus would
    # need >= 300 MiB.
    assert growth < 160 << 20, f"peak RSS grew by {growth >> 20} MiB for a {m['corpus'] >> 20} MiB corpus"
    assert max(m["shards"]) <= (32 << 20) + (16 << 20)


def test_fingerprint_ignores_run_timings(sft_output):
    """Re-curating identical data (only `timings_s` differs) must not publish a new version."""
    from nebula_hub.publish.dataset import content_fingerprint

    before = content_fingerprint(CurationOutput(sft_output), 1 << 20)
    stats_path = sft_output / "stats.json"
    stats = json.loads(stats_path.read_text())
    stats["timings_s"] = {"normalize": 123.4}
    stats_path.write_text(json.dumps(stats))
    assert content_fingerprint(CurationOutput(sft_output), 1 << 20) == before
    stats["totals"] = {**stats.get("totals", {}), "curated": -1}
    stats_path.write_text(json.dumps(stats))
    assert content_fingerprint(CurationOutput(sft_output), 1 << 20) != before
