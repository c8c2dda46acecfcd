"""The SFT pipeline end to end on generated sources: outputs, conservation, every defect caught, kill-and-resume."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nebula_hub.artifacts import CurationOutput
from nebula_hub.schema import SFTRecord
from tests.curate.conftest import write_config


# defect id suffix (set by nebula_hub.curate.samples) -> (stage, reasons) that must catch it
DEFECTS = {
    "-wrong": ("verify", {"failed_math", "failed_multiple_choice"}),
    "-failing": ("verify", {"failed_code"}),
    "-violates": ("verify", {"failed_ifeval"}),
    "math-bench-": ("decontamination", {"contaminated"}),
    "if-bench-": ("decontamination", {"contaminated"}),
}
REASONS = {
    "invalid_json",
    "invalid_utf8",
    "missing_field",
    "wrong_type",
    "unknown_role",
    "bad_role_order",
    "empty_content",
    "malformed_think",
    "no_assistant_reply",
    "contaminated",
    "exact_duplicate",
    "near_duplicate",
    "failed_math",
    "failed_code",
    "failed_ifeval",
    "failed_multiple_choice",
    "failed_repetition",
}


def _input_rows(sources: Path) -> int:
    n = sum(1 for p in sources.glob("*.jsonl") for line in p.read_bytes().splitlines() if line.strip())
    return n + sum(pq.ParquetFile(p).metadata.num_rows for p in sources.glob("*.parquet"))


def _rows(root: Path, folder: str) -> list[dict]:
    return [r for p in sorted((root / folder).rglob("*.parquet")) for r in pq.read_table(p).to_pylist()]


def _snapshot(root: Path) -> tuple:
    curated = sorted(json.dumps(r, sort_keys=True) for r in _rows(root, "data"))
    rejected = sorted((r["id"], r["stage"], r["reason"]) for r in _rows(root, "rejected"))
    return curated, rejected


def _cli(config: Path, output: Path) -> list[str]:
    return [sys.executable, "-m", "nebula_hub.cli", "curate", "sft", "--config", str(config), "--output", str(output)]


@pytest.fixture(scope="module")
def sft_run(small_sources, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sft")
    config = write_config(folder, small_sources)
    out = folder / "out"
    proc = subprocess.run(_cli(config, out), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return config, out


@pytest.mark.slow
def test_output_folder_is_complete_and_rows_are_conserved(sft_run, small_sources):
    _, out = sft_run
    output = CurationOutput(out, verify=True)
    assert output.kind == "sft" and {s.name for s in output.manifest.sources} == {
        "synthetic-math",
        "synthetic-code",
        "synthetic-if",
        "synthetic-knowledge",
        "synthetic-chat",
    }
    assert all(s.revision for s in output.manifest.sources)
    curated, rejected = _rows(out, "data"), _rows(out, "rejected")
    assert len(curated) + len(rejected) == _input_rows(small_sources)
    stats = output.stats
    assert stats["totals"] == {
        **stats["totals"],
        "input": _input_rows(small_sources),
        "curated": len(curated),
        "rejected": len(rejected),
    }
    for before, after in zip(stats["funnel"], stats["funnel"][1:], strict=False):
        assert after["in"] == before["out"]
    assert stats["funnel"][-1]["out"] == len(curated)
    assert sum(stats["distributions"]["task"].values()) == len(curated)
    assert stats["decontamination"]["matched"]["mini_math"] >= 1
    ids = [SFTRecord.from_row(r).id for r in curated]
    assert len(ids) == len(set(ids))
    assert all(r["source"]["license"] for r in curated) and all(r["verification"] for r in curated)
    assert (out / "pipeline.yaml").is_file() and stats["timings_s"]["process"] > 0


@pytest.mark.slow
def test_every_defect_class_is_caught_by_its_stage(sft_run):
    _, out = sft_run
    rejected = _rows(out, "rejected")
    assert REASONS <= {r["reason"] for r in rejected}, REASONS - {r["reason"] for r in rejected}
    curated_ids = {r["source"]["original_id"] for r in _rows(out, "data")}
    by_original = {json.loads(r["record"]).get("source", {}).get("original_id"): r for r in rejected}
    for marker, (stage, reasons) in DEFECTS.items():
        planted = [oid for oid in list(curated_ids) + list(by_original) if oid and marker in oid]
        assert planted, f"no record with {marker!r} reached the output"
        for oid in planted:
            assert oid not in curated_ids, f"defect {oid} was curated"
            row = by_original[oid]
            # a planted defect may also be a duplicate of another record; dedup then catches it first
            assert (row["stage"], row["reason"]) in {(stage, r) for r in reasons} | {
                ("dedup", "exact_duplicate"),
                ("dedup", "near_duplicate"),
            }, oid
    dups = Counter(
        oid.removesuffix("-dup") for oid in list(curated_ids) + list(by_original) if oid and oid.endswith("-dup")
    )
    for original in dups:  # of an exact pair, at most one survives
        assert not (original in curated_ids and f"{original}-dup" in curated_ids)
    verify = [r for r in rejected if r["stage"] == "verify"]
    assert all(json.loads(r["record"])["candidates"][0]["verification"] for r in verify)


@pytest.mark.slow
def test_kill_and_resume_gives_the_uninterrupted_output(sft_run, tmp_path):
    config, reference = sft_run
    out = tmp_path / "out"
    proc = subprocess.Popen(
        _cli(config, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    cache = out / "work" / "generations" / "grade" / "00000.jsonl"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if cache.is_file() and cache.stat().st_size > 0:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists()
    assert not (out / "logs" / "process" / "completions" / "00000").exists()
    before = cache.read_text()
    done = subprocess.run(_cli(config, out), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _snapshot(out) == _snapshot(reference)
    # the resumed task reused the generations saved before the kill instead of redoing them
    after = cache.read_text()
    assert after.startswith(before)
    keys = []
    for line in after.splitlines():
        try:
            keys.append(json.loads(line)["key"])
        except json.JSONDecodeError:
            pass  # a line torn by the kill; it is regenerated
    assert len(keys) == len(set(keys)), "a saved generation was generated again"


@pytest.mark.slow
def test_two_forked_workers_give_the_one_worker_output(sft_run, tmp_path):
    config, reference = sft_run
    out = tmp_path / "out"
    done = subprocess.run([*_cli(config, out), "--workers", "2"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _snapshot(out) == _snapshot(reference)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["funnel"] == json.loads((reference / "stats.json").read_text())["funnel"]
