"""Fixtures for the SFT curation tests: small generated sources (every defect class present) and a pipeline config."""

from pathlib import Path

import pytest
import yaml


PROJECT_ROOT = Path(__file__).resolve().parents[2]


def write_config(folder: Path, sources: Path, **overrides) -> Path:
    """The bundled pipeline YAML pointed at `sources`, with fast generation settings for CPU tests."""
    cfg = yaml.safe_load((PROJECT_ROOT / "pipelines" / "sft_corpus.yaml").read_text())
    for src in cfg["sources"]:
        src["path"] = str(sources / Path(src["path"]).name)
    for bench in cfg["decontamination"]["benchmarks"]:
        bench["path"] = str(sources / "benchmarks" / Path(bench["path"]).name)
    cfg["distill"].update(fraction=0.3)
    cfg["distill"]["teacher"].update(n=2, max_tokens=8)
    cfg["grade"]["grader"].update(n=2, max_tokens=8)
    cfg["sample"].update(target_size=0, test_fraction=0.0)
    cfg["executor"].update(tasks=2, workers=1)
    for key, value in overrides.items():
        section, _, name = key.partition("__")
        if name:
            cfg[section][name] = value
        else:
            cfg[section] = value
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def small_sources(tmp_path_factory) -> Path:
    """~250 generated records in the five bundled layouts, with every deliberate defect."""
    from nebula_hub.curate.samples import generate_samples

    folder = tmp_path_factory.mktemp("sources")
    generate_samples(folder, scale=0.05)
    return folder
