"""The dataset card: metadata that huggingface_hub and datasets parse back, sections, charts, guarded rendering."""

from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard

from nebula_hub.artifacts import CurationOutput, Manifest
from nebula_hub.publish import charts
from nebula_hub.publish.card import CardInputs, render_card, size_category
from nebula_hub.publish.dataset import _draw_charts
from nebula_hub.publish.diff import Snapshot, diff_snapshots
from nebula_hub.publish.layout import Layout, build_layout
from nebula_hub.schema import REJECTED_FEATURES, RL_FEATURES


def _inputs(output_dir, tmp_path, **kw) -> CardInputs:
    out = CurationOutput(output_dir)
    layout = build_layout(out, tmp_path / "stage", progress=False)
    chart_paths = _draw_charts(layout, out.stats, layout.root)
    return CardInputs(
        repo_id="local/rl-pool",
        version="1.0.0",
        kind=out.kind,
        layout=layout,
        curation=out.manifest,
        stats=out.stats,
        charts=chart_paths,
        **kw,
    )


def test_card_metadata_parses_back(rl_output, tmp_path):
    inputs = _inputs(
        rl_output, tmp_path, publish_command="nebula-hub publish dataset rl-out --repo local/rl-pool --version 1.0.0"
    )
    path = tmp_path / "README.md"
    render_card(inputs).save(path)
    card = DatasetCard.load(path)
    data = card.data
    assert data.license == "other"  # two sources, mit and cc-by-4.0
    assert data.task_categories == ["text-generation"] and data.size_categories == ["n<1K"]
    assert data.source_datasets == ["google-research-datasets/mbpp", "openai/gsm8k"]
    assert {"nebula-hub", "rl", "math", "code"} <= set(data.tags) and data.language == ["en"]
    configs = MetadataConfigs.from_dataset_card_data(data)
    assert sorted(configs) == sorted(
        ["default", "code", "math", "difficulty-easy", "difficulty-medium", "difficulty-hard", "rejected"]
    )
    assert configs["math"]["data_files"] == [
        {"split": "train", "path": [f"data/train/math/{d}/*.parquet" for d in ("easy", "hard", "medium", "ungraded")]}
    ]
    infos = DatasetInfosDict.from_dataset_card_data(data)
    assert infos["default"].features == RL_FEATURES and infos["rejected"].features == REJECTED_FEATURES
    assert infos["default"].splits["train"].num_examples == 48
    assert infos["difficulty-easy"].splits["train"].num_examples == sum(
        p.rows for p in inputs.layout.partitions if p.difficulty == "easy"
    )
    text = card.text
    for heading in (
        "## Sources",
        "## How it was curated: the stage funnel",
        "## Distributions",
        "## How to load",
        "## Changelog",
        "## Limitations",
        "## How to reproduce",
        "## Citation",
    ):
        assert heading in text
    assert "| verify | 52 | 50 | 2 | wrong_answer (2) |" in text
    assert 'load_dataset("local/rl-pool", "difficulty-hard", split="train", revision="v1.0.0")' in text
    assert "First published version." in text
    assert "nebula-hub curate rl --config pipelines/rl.yaml" in text and "--repo local/rl-pool" in text
    assert "title         = {NebulaExp-8B" in text and "eprint" not in text
    for name in ("task", "difficulty", "source", "length", "funnel"):
        assert f"](assets/{name}.png)" in text
        assert (inputs.layout.root / "assets" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_card_changelog_section(sft_output, tmp_path):
    inputs = _inputs(sft_output, tmp_path)
    manifest = {"partitions": [p.__dict__ | {"files": []} for p in inputs.layout.partitions]}
    old = {
        "partitions": [dict(p, rows=p["rows"] - 2) if p["key"] == "train/math" else p for p in manifest["partitions"]]
    }
    diff = diff_snapshots(Snapshot("0.9.0", "a" * 40, old, {}), Snapshot("1.0.0", None, manifest, {}))
    inputs.previous, inputs.changelog = "0.9.0", diff
    text = render_card(inputs).text
    assert "Changes since v0.9.0:" in text
    assert "| math | train | 18 | 20 | +2 |" in text and "| default | train | 58 | 60 | +2 |" in text


def test_card_renders_with_nothing_optional(tmp_path):
    layout = Layout(kind="sft", root=tmp_path, partitions=[], distributions={}, rejected_reasons={})
    card = render_card(
        CardInputs(
            repo_id="local/empty",
            version="0.1.0",
            kind="sft",
            layout=layout,
            curation=Manifest(kind="sft"),
            stats={},
            charts={},
            previous="0.0.9",
        )
    )
    text = card.text
    assert "The curation manifest lists no sources." in text
    assert "No stage statistics were recorded for this version." in text
    assert "it was not published by nebula-hub" in text
    assert DatasetCard(str(card)).data.size_categories == ["n<1K"]


def test_charts_skip_empty_inputs(tmp_path):
    assert charts.bar_chart({}, "t", tmp_path / "a.png") is None
    assert charts.histogram_chart({"bins": [0, 10], "counts": [0, 0]}, "t", tmp_path / "b.png") is None
    assert charts.funnel_chart([], "t", tmp_path / "c.png") is None
    many = {f"source-{i}": i + 1 for i in range(40)}
    assert charts.bar_chart(many, "t", tmp_path / "d.png").stat().st_size > 1000
    a = charts.bar_chart({"x": 3}, "t", tmp_path / "e.png").read_bytes()
    assert a == charts.bar_chart({"x": 3}, "t", tmp_path / "f.png").read_bytes()  # deterministic bytes


def test_size_categories():
    assert [size_category(n) for n in (0, 999, 1000, 99_999, 1_000_000, 5_000_000_000)] == [
        "n<1K",
        "n<1K",
        "1K<n<10K",
        "10K<n<100K",
        "1M<n<10M",
        "1B<n<10B",
    ]
