"""`diff_snapshots` and the version helpers, without a hub."""

from dataclasses import asdict

import pyarrow.parquet as pq
import pytest

from nebula_hub.artifacts import CurationOutput
from nebula_hub.errors import NebulaError
from nebula_hub.publish.diff import Snapshot, diff_snapshots, format_diff
from nebula_hub.publish.layout import build_layout
from nebula_hub.publish.remote import VersionInfo, format_versions, parse_version

from .conftest import rejected_records, rl_records, write_output


def _snapshot(out, stage, version) -> Snapshot:
    o = CurationOutput(out)
    layout = build_layout(o, stage, progress=False)
    manifest = {
        "partitions": [asdict(p) for p in layout.partitions],
        "distributions": layout.distributions,
        "curation": asdict(o.manifest),
    }
    return Snapshot(version, None, manifest, o.stats, pq.read_table(stage / layout.ids_file.path))


def test_diff_counts_rows_and_ids_per_config(tmp_path):
    old = write_output(tmp_path / "a", "rl", {"train": rl_records(40)}, rejected_records(3))
    new_records = rl_records(40)[4:] + rl_records(6, seed=9, offset=500)
    new = write_output(
        tmp_path / "b",
        "rl",
        {"train": new_records},
        rejected_records(3),
        pipeline={"name": "rl-demo", "steps": ["normalize", "verify", "dedup"], "seed": 1},
    )
    d = diff_snapshots(_snapshot(old, tmp_path / "sa", "1.0.0"), _snapshot(new, tmp_path / "sb", "1.1.0"))
    assert d.rows["default"]["train"] == (40, 42)
    assert d.ids["default"].added == 6 and d.ids["default"].removed == 4
    removed_ids = sorted(r.id for r in rl_records(40)[:4])
    assert d.ids["default"].examples_removed == removed_ids
    math_removed = sum(r.task == "math" for r in rl_records(40)[:4])
    assert d.ids["math"].removed == math_removed
    assert d.ids["rejected"].added == d.ids["rejected"].removed == 0
    assert d.totals["curated"] == (40, 42) and d.pipeline_changed
    assert d.distributions["task"]
    text = format_diff(d)
    assert "v1.0.0 -> v1.1.0" in text and "default: +6 / -4" in text
    assert f"removed e.g. {', '.join(removed_ids)}" in text
    assert "pipeline config: changed" in text
    same = diff_snapshots(_snapshot(old, tmp_path / "sc", "1.0.0"), _snapshot(old, tmp_path / "sd", "1.0.1"))
    assert same.unchanged and format_diff(same) == "v1.0.0 -> v1.0.1: no change in rows, ids or stats"


def test_versions_parse_and_table():
    assert parse_version("v2.0.10") > parse_version("2.0.9")
    for bad in ("1.0", "v1.0.0-rc1", "latest"):
        with pytest.raises(NebulaError, match="is not of the form X.Y.Z"):
            parse_version(bad)
    table = format_versions(
        "a/b",
        [VersionInfo("1.0.0", "v1.0.0", "a" * 40, "2026-06-01T00:00:00+00:00", {"default": 1200, "rejected": 7})],
    )
    assert table.splitlines()[1].split() == ["v1.0.0", "aaaaaaaa", "2026-06-01T00:00:00+00:00", "1,200", "7"]
    assert "no versions yet" in format_versions("a/b", [])
