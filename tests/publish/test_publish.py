"""End to end on the local Hub: publish, load every config back with `datasets`, version twice, diff, refusals,
identical publishes, and publishes interrupted mid-upload or before the tag."""

from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard

from nebula_hub.cli import main
from nebula_hub.errors import NebulaError
from nebula_hub.publish import list_version_tags, publish_dataset
from nebula_hub.schema import RejectedRecord, RLRecord, SFTRecord

from .conftest import rejected_records, sft_records, write_output


pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _hermetic_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEBULA_HUB_CACHE", str(tmp_path / "nebula-cache"))


def _expected(out: Path, kind: str) -> dict[str, dict[str, dict]]:
    """Config -> split -> {id: record}, computed from the output folder independently of the publisher."""
    cls = SFTRecord if kind == "sft" else RLRecord
    configs: dict[str, dict[str, dict]] = {}
    for split_dir in sorted((out / "data").iterdir()):
        for path in sorted(split_dir.glob("*.parquet")):
            for row in pq.read_table(path).to_pylist():
                rec = cls.from_row(row)
                names = ["default"]
                if kind == "sft":
                    names.append(rec.task.label)
                else:
                    names.append(rec.task)
                    if rec.difficulty:
                        names.append(f"difficulty-{rec.difficulty}")
                for name in names:
                    configs.setdefault(name, {}).setdefault(split_dir.name, {})[rec.id] = rec
    for path in sorted((out / "rejected").glob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            configs.setdefault("rejected", {}).setdefault("train", {})[row["id"]] = RejectedRecord.from_row(row)
    return configs


def _check_version(api, repo: str, tag: str, out: Path, kind: str, configs: list[str] | None = None) -> None:
    """`load_dataset(repo, config, split, revision=tag)` returns exactly the output's records for every config."""
    expected = _expected(out, kind)
    card = DatasetCard.load(api.hf_hub_download(repo, "README.md", repo_type="dataset", revision=tag))
    assert set(MetadataConfigs.from_dataset_card_data(card.data)) == set(expected)
    for config in configs or expected:
        for split, records in expected[config].items():
            ds = datasets.load_dataset(repo, config, split=split, revision=tag)
            cls = RejectedRecord if config == "rejected" else SFTRecord if kind == "sft" else RLRecord
            got = {row["id"]: cls.from_row(row) for row in ds}
            assert len(ds) == len(records), (tag, config, split)
            assert got == records, (tag, config, split)


def _changed_sft(tmp_path: Path) -> Path:
    """Version 2 of the SFT output: 6 train records dropped, 9 added, 3 more rejected records."""
    train = sft_records(60)[6:] + sft_records(9, seed=5, offset=2000)
    return write_output(
        tmp_path / "sft-out-v2",
        "sft",
        {"train": train, "test": sft_records(12, seed=1, offset=1000)},
        rejected_records(12),
        files_per_split=2,
    )


def test_two_versions_load_diff_and_refusals(hub_env, sft_output, tmp_path, capsys):
    repo, api = hub_env.repo_id("sft"), hub_env.api()
    assert (
        main(
            [
                "publish",
                "dataset",
                str(sft_output),
                "--repo",
                repo,
                "--version",
                "1.0.0",
                "--hub",
                hub_env.endpoint,
                "--quiet",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    v1 = list_version_tags(api, repo)[0].commit
    assert f"commit: {v1}" in out
    assert f'load_dataset("{repo}", "default", split="train", revision="v1.0.0")' in out
    _check_version(api, repo, "v1.0.0", sft_output, "sft")

    v2_out = _changed_sft(tmp_path)
    r2 = publish_dataset(v2_out, repo, "1.1.0", target=hub_env.target, shard_size_mb=0.005, progress=False)
    assert r2.status == "published" and r2.parent_version == "1.0.0"
    files = api.list_repo_files(repo, repo_type="dataset", revision="v1.1.0")
    assert "data/train/math/train-00000-of-00002.parquet" in files  # several shards per partition
    assert {f"assets/{n}.png" for n in ("task", "source", "length", "funnel")} <= set(files)
    assert {"nebula_manifest.json", "stats.json", "pipeline.yaml", "meta/ids.parquet", "README.md"} <= set(files)
    _check_version(api, repo, "v1.1.0", v2_out, "sft")
    _check_version(api, repo, "v1.0.0", sft_output, "sft", configs=["default"])  # the old version is untouched

    readme = Path(api.hf_hub_download(repo, "README.md", repo_type="dataset", revision="v1.1.0")).read_text()
    assert "Changes since v1.0.0:" in readme
    assert "| default | train | 60 | 63 | +3 |" in readme and "| rejected | train | 9 | 12 | +3 |" in readme
    manifest = Path(
        api.hf_hub_download(repo, "nebula_manifest.json", repo_type="dataset", revision="v1.1.0")
    ).read_text()
    for text in (readme, manifest):
        assert hub_env.token not in text

    assert main(["dataset", "diff", repo, "v1.0.0", "v1.1.0", "--hub", hub_env.endpoint]) == 0
    diff = capsys.readouterr().out
    assert "v1.0.0 -> v1.1.0" in diff
    assert "default/train" in diff and "default: +9 / -6" in diff and "rejected: +3 / -0" in diff
    removed = sorted(r.id for r in sft_records(60)[:6])
    assert f"removed e.g. {', '.join(removed[:5])}" in diff
    assert "stats totals:" in diff and "curated: 72 -> 75" in diff

    assert main(["dataset", "versions", repo, "--hub", hub_env.endpoint]) == 0
    versions = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(versions) if line.startswith("tag"))
    assert versions[header].split()[:4] == ["tag", "commit", "date", "default"]
    assert versions[header + 1].split()[:2] == ["v1.0.0", v1[:8]] and versions[header + 1].split()[3] == "72"
    assert versions[header + 2].split()[:2] == ["v1.1.0", r2.commit[:8]] and versions[header + 2].split()[3] == "75"

    # A taken version is refused, whatever the content; a lower version too.
    assert (
        main(
            [
                "publish",
                "dataset",
                str(v2_out),
                "--repo",
                repo,
                "--version",
                "1.0.0",
                "--hub",
                hub_env.endpoint,
                "--quiet",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert f"error: {repo}: version v1.0.0 is already published" in err and "a version tag never moves" in err
    assert "hint: publish the new content under a higher version, e.g. --version 1.1.1" in err
    with pytest.raises(NebulaError, match="v1.0.5 is not greater than the latest version v1.1.0"):
        publish_dataset(sft_output, repo, "1.0.5", target=hub_env.target, progress=False)

    # Identical content: no commit, no new tag.
    again = publish_dataset(v2_out, repo, "1.1.0", target=hub_env.target, shard_size_mb=0.005, progress=False)
    assert again.status == "unchanged" and again.commit == r2.commit
    same = publish_dataset(v2_out, repo, "1.2.0", target=hub_env.target, shard_size_mb=0.005, progress=False)
    assert same.status == "unchanged" and "no commit made and no tag v1.2.0 created" in same.message
    assert [t.tag for t in list_version_tags(api, repo)] == ["v1.0.0", "v1.1.0"]
    assert api.dataset_info(repo, revision="main").sha == r2.commit


def test_rl_pool_configs(hub_env, rl_output):
    repo, api = hub_env.repo_id("rl"), hub_env.api()
    result = publish_dataset(rl_output, repo, "1.0.0", target=hub_env.target, progress=False)
    assert set(result.configs) == {
        "default",
        "code",
        "math",
        "difficulty-easy",
        "difficulty-medium",
        "difficulty-hard",
        "rejected",
    }
    _check_version(api, repo, "v1.0.0", rl_output, "rl")


def test_interrupted_publishes_leave_the_previous_version_and_rerun_completes(
    hub_env, sft_output, tmp_path, monkeypatch
):
    import huggingface_hub._commit_api as commit_api
    from huggingface_hub import HfApi

    repo, api = hub_env.repo_id("sft-kill"), hub_env.api()

    # Stopped between the commit and the tag: the rerun only adds the tag.
    real_tag = HfApi.create_tag

    def no_tag(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(HfApi, "create_tag", no_tag)
    with pytest.raises(KeyboardInterrupt):
        publish_dataset(sft_output, repo, "1.0.0", target=hub_env.target, progress=False)
    monkeypatch.setattr(HfApi, "create_tag", real_tag)
    assert list_version_tags(api, repo) == []
    resumed = publish_dataset(sft_output, repo, "1.0.0", target=hub_env.target, progress=False)
    assert resumed.status == "tagged" and resumed.commit == api.dataset_info(repo, revision="main").sha
    v1 = resumed.commit

    # Killed mid-upload: the connection drops after two LFS files went up.
    real_upload, calls = commit_api.lfs_upload, []

    def dropping_upload(*args, **kwargs):
        calls.append(1)
        if len(calls) > 2:
            raise ConnectionError("simulated kill: connection dropped mid-upload")
        return real_upload(*args, **kwargs)

    monkeypatch.setattr(commit_api, "lfs_upload", dropping_upload)
    v2_out = _changed_sft(tmp_path)
    with pytest.raises(NebulaError) as err:
        publish_dataset(v2_out, repo, "1.1.0", target=hub_env.target, progress=False)
    assert "uploading v1.1.0 was interrupted" in err.value.message and "still at v1.0.0" in err.value.message
    assert "simulated kill" in err.value.message and err.value.hint.startswith("rerun the same command")
    assert len(calls) > 2
    assert api.dataset_info(repo, revision="main").sha == v1
    assert [t.tag for t in list_version_tags(api, repo)] == ["v1.0.0"]
    _check_version(api, repo, "v1.0.0", sft_output, "sft", configs=["default"])
    monkeypatch.setattr(commit_api, "lfs_upload", real_upload)
    rerun = publish_dataset(v2_out, repo, "1.1.0", target=hub_env.target, progress=False)
    assert rerun.status == "published" and rerun.commit != v1
    _check_version(api, repo, "v1.1.0", v2_out, "sft", configs=["default", "rejected"])
    assert not any((tmp_path / "nebula-cache" / "publish-staging").iterdir())  # staging cleaned after each run
