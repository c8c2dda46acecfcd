"""The dataset card of a published version: metadata through huggingface_hub's `DatasetCardData` (plus the `configs`
and `dataset_info` blocks that `datasets` reads) and prose from `cards/dataset_card.md.j2`.

Every section is optional in the template: a missing stats file, an empty funnel, no previous version or no charts
leave that section out (or say so) instead of failing the render.

Example:
    >>> card = render_card(CardInputs(repo_id="org/sft", version="1.0.0", kind="sft", layout=layout,
    ...                               curation=manifest, stats={}, charts={}))  # doctest: +SKIP
    >>> card.data.configs[0]["config_name"]                                      # doctest: +SKIP
    'default'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml
from huggingface_hub import DatasetCard, DatasetCardData

from nebula_hub.artifacts import Manifest
from nebula_hub.paths import resource_path
from nebula_hub.publish.diff import VersionDiff
from nebula_hub.publish.layout import UNGRADED, UNLABELED_TASK, Layout, Partition


TEMPLATE = ("cards", "dataset_card.md.j2")
SIZE_CATEGORIES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
]
KIND_NAMES = {"sft": "a supervised fine-tuning (SFT) corpus", "rl": "an RL prompt pool with verifiable targets"}
CITATION = """@misc{nebulaexp8b2026,
  title         = {NebulaExp-8B},
  year          = {2026},
  month         = jun,
  archivePrefix = {arXiv},
  note          = {The paper whose post-training recipe this dataset follows}
}"""


@dataclass
class CardInputs:
    repo_id: str
    version: str
    kind: str
    layout: Layout
    curation: Manifest
    stats: dict[str, Any]
    charts: dict[str, str]  # name (task, difficulty, source, length, funnel) -> path in the repo
    previous: str | None = None  # previous version (X.Y.Z), if any
    changelog: VersionDiff | None = None
    publish_command: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def size_category(n: int) -> str:
    """The Hub's `size_categories` bucket for `n` records.

    Example:
        >>> size_category(12_345)
        '10K<n<100K'
    """
    for limit, name in SIZE_CATEGORIES:
        if n < limit:
            return name
    return "n>1T" if n >= 10**12 else "1B<n<10B"


def _license(curation: Manifest) -> tuple[str, list[str]]:
    licenses = sorted({s.license for s in curation.sources if s.license})
    unknown = any(not s.license for s in curation.sources)
    if len(licenses) == 1 and not unknown:
        return licenses[0], licenses
    return "other", licenses


def _languages(stats: dict[str, Any]) -> list[str]:
    langs = ((stats.get("distributions") or {}).get("language") or {}).keys()
    return sorted(x for x in langs if isinstance(x, str) and 2 <= len(x) <= 3 and x.isalpha() and x.islower())


def _dataset_info_and_configs(layout: Layout, features) -> tuple[Any, Any]:
    from datasets import DatasetInfo, SplitDict, SplitInfo
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs

    from nebula_hub.schema import REJECTED_FEATURES

    infos, configs = {}, {}
    for name, splits in layout.configs().items():
        split_dict = SplitDict()
        data_files = []
        for split, parts in splits.items():
            split_dict.add(
                SplitInfo(
                    name=split, num_bytes=sum(p.num_bytes for p in parts), num_examples=sum(p.rows for p in parts)
                )
            )
            patterns = [p.pattern for p in parts]
            data_files.append({"split": split, "path": patterns[0] if len(patterns) == 1 else patterns})
        parts = [p for ps in splits.values() for p in ps]
        infos[name] = DatasetInfo(
            config_name=name,
            features=REJECTED_FEATURES if name == "rejected" else features,
            splits=split_dict,
            download_size=sum(f.bytes for p in parts for f in p.files),
            dataset_size=sum(p.num_bytes for p in parts),
        )
        configs[name] = {"data_files": data_files}
    return DatasetInfosDict(infos), MetadataConfigs(configs)


def card_data(inputs: CardInputs) -> DatasetCardData:
    """The YAML metadata: license, task_categories, size_categories, source_datasets, tags, configs, dataset_info."""
    from nebula_hub.schema import RL_FEATURES, SFT_FEATURES

    layout = inputs.layout
    curated = sum(p.rows for p in layout.partitions if p.key != "rejected")
    license_id, _ = _license(inputs.curation)
    hub_sources = sorted({s.location for s in inputs.curation.sources if s.kind == "hub" and s.location})
    tasks = sorted(k for k in layout.distributions.get("task", {}) if k != UNLABELED_TASK)
    data = DatasetCardData(
        license=license_id,
        language=_languages(inputs.stats) or None,
        task_categories=["text-generation"],
        size_categories=[size_category(curated)],
        source_datasets=hub_sources or ["original"],
        pretty_name=inputs.repo_id.split("/")[-1],
        tags=["nebula-hub", inputs.kind, "post-training", *tasks],
    )
    infos, configs = _dataset_info_and_configs(layout, SFT_FEATURES if inputs.kind == "sft" else RL_FEATURES)
    infos.to_dataset_card_data(data)
    configs.to_dataset_card_data(data)
    return data


def _table(counts: dict[str, int]) -> list[dict[str, Any]]:
    total = sum(counts.values()) or 1
    return [{"value": k, "count": v, "share": f"{100 * v / total:.1f}%"} for k, v in counts.items()]


def _length_rows(length: dict[str, Any]) -> list[dict[str, Any]]:
    bins, counts = length.get("bins") or [], length.get("counts") or []
    if len(bins) != len(counts):
        return []
    edges = (
        [f"{int(lo):,} - {int(hi) - 1:,}" for lo, hi in zip(bins, bins[1:], strict=False)] + [f">= {int(bins[-1]):,}"]
        if bins
        else []
    )
    return [{"range": e, "count": c} for e, c in zip(edges, counts, strict=True)]


def _funnel(stats: dict[str, Any], layout: Layout) -> list[dict[str, Any]]:
    rows = []
    for stage in stats.get("funnel") or []:
        if not isinstance(stage, dict) or "stage" not in stage:
            continue
        reasons = stage.get("reasons") or layout.rejected_reasons.get(stage["stage"], {})
        top = sorted(reasons.items(), key=lambda kv: -kv[1])[:3]
        n_in, n_out = stage.get("in"), stage.get("out")
        dropped = n_in - n_out if isinstance(n_in, int) and isinstance(n_out, int) else None
        rows.append(
            {
                "stage": stage["stage"],
                "in": n_in,
                "out": n_out,
                "dropped": dropped,
                "reasons": ", ".join(f"{r} ({n:,})" for r, n in top),
            }
        )
    if not rows and layout.rejected_reasons:
        # No funnel in stats.json: report what the rejected records themselves say, stage by stage.
        for stage, reasons in layout.rejected_reasons.items():
            top = sorted(reasons.items(), key=lambda kv: -kv[1])[:3]
            rows.append(
                {
                    "stage": stage,
                    "in": None,
                    "out": None,
                    "dropped": sum(reasons.values()),
                    "reasons": ", ".join(f"{r} ({n:,})" for r, n in top),
                }
            )
    return rows


def _config_rows(layout: Layout) -> list[dict[str, Any]]:
    out = []
    for name, splits in layout.configs().items():
        parts: list[Partition] = [p for ps in splits.values() for p in ps]
        if name == "default":
            what = "every curated record"
        elif name == "rejected":
            what = "every dropped record with its stage and reason"
        elif name.startswith("difficulty-"):
            what = f"records graded {name.removeprefix('difficulty-')} (pass rate of sampled answers)"
        else:
            what = f"task `{parts[0].task}`"
        out.append(
            {
                "name": name,
                "description": what,
                "splits": [{"name": s, "rows": sum(p.rows for p in ps)} for s, ps in splits.items()],
                "first_split": next(iter(splits)),
            }
        )
    return out


def _changelog(diff: VersionDiff | None) -> dict[str, Any] | None:
    if diff is None:
        return None
    rows = [
        {"config": c, "split": s, "before": x, "after": y, "change": f"{y - x:+,}"}
        for c, splits in diff.rows.items()
        for s, (x, y) in splits.items()
    ]
    ids = [
        {
            "config": c,
            "added": ch.added,
            "removed": ch.removed,
            "examples_added": ", ".join(f"`{i}`" for i in ch.examples_added),
            "examples_removed": ", ".join(f"`{i}`" for i in ch.examples_removed),
        }
        for c, ch in diff.ids.items()
    ]
    return {
        "unchanged": diff.unchanged,
        "rows": rows,
        "ids": ids,
        "totals": diff.totals,
        "funnel": diff.funnel,
        "distributions": diff.distributions,
        "pipeline_changed": diff.pipeline_changed,
    }


def _limitations(inputs: CardInputs, license_list: list[str]) -> list[str]:
    dist = inputs.layout.distributions
    notes = []
    if len(license_list) > 1 or any(not s.license for s in inputs.curation.sources):
        notes.append(
            "Sources carry different (or unknown) licenses: check each source's license (table above) "
            "before redistributing a subset."
        )
    if dist.get("task", {}).get(UNLABELED_TASK):
        notes.append(f"{dist['task'][UNLABELED_TASK]:,} records have no task label: they are in `default` only.")
    if dist.get("difficulty", {}).get(UNGRADED):
        notes.append(
            f"{dist['difficulty'][UNGRADED]:,} records were not graded for difficulty: they are in "
            "`default` and their task config only."
        )
    if inputs.kind == "sft":
        notes.append(
            "Responses come from teacher models and passed automatic verifiers only; verifiers have false "
            "positives, and unverifiable tasks were not checked for correctness."
        )
    else:
        notes.append("Gold answers and tests come from the sources as-is; a wrong gold answer makes a wrong reward.")
    notes.append(
        "Lengths are counted in characters, not tokens. Near-duplicate removal and decontamination are "
        "only as good as the stages listed in the funnel."
    )
    notes.append("The `rejected` config holds dropped records unfiltered: do not train on it.")
    return notes


def render_card(inputs: CardInputs) -> DatasetCard:
    """Render the dataset card from `cards/dataset_card.md.j2` with `DatasetCard.from_template`.

    Example:
        >>> card = render_card(inputs)  # doctest: +SKIP
        >>> card.save("README.md")      # doctest: +SKIP
    """
    layout, curation, stats = inputs.layout, inputs.curation, inputs.stats or {}
    data = card_data(inputs)
    license_id, license_list = _license(curation)
    dist = layout.distributions
    source_counts = dist.get("source", {})
    sources = [
        {
            "name": s.name,
            "kind": s.kind,
            "location": s.location,
            "revision": (s.revision or "")[:12],
            "license": s.license or "unknown",
            "records": s.records,
            "curated": source_counts.get(s.name, 0),
        }
        for s in curation.sources
    ]
    distributions = []
    for name, title in (("task", "Task"), ("difficulty", "Difficulty"), ("source", "Source")):
        if dist.get(name):
            distributions.append(
                {"name": name, "title": title, "rows": _table(dist[name]), "chart": inputs.charts.get(name)}
            )
    curated = sum(p.rows for p in layout.partitions if p.key != "rejected")
    rejected = sum(p.rows for p in layout.partitions if p.key == "rejected")
    pipeline_yaml = (
        yaml.safe_dump(curation.pipeline_config, sort_keys=False, allow_unicode=True).strip()
        if curation.pipeline_config
        else None
    )
    context = {
        "repo_id": inputs.repo_id,
        "version": inputs.version,
        "kind": inputs.kind,
        "kind_name": KIND_NAMES.get(inputs.kind, inputs.kind),
        "pretty_name": inputs.repo_id.split("/")[-1],
        "curated": curated,
        "rejected": rejected,
        "splits": dist.get("split", {}),
        "license_id": license_id,
        "sources": sources,
        "funnel": _funnel(stats, layout),
        "funnel_chart": inputs.charts.get("funnel"),
        "distributions": distributions,
        "length_rows": _length_rows(dist.get("length") or {}),
        "length_unit": (dist.get("length") or {}).get("unit", "characters"),
        "length_chart": inputs.charts.get("length"),
        "configs": _config_rows(layout),
        "previous": inputs.previous,
        "changelog": _changelog(inputs.changelog),
        "limitations": _limitations(inputs, license_list),
        "curate_command": curation.command,
        "publish_command": inputs.publish_command,
        "pipeline_yaml": pipeline_yaml,
        "pipeline_sha256": curation.pipeline_sha256,
        "curation_version": curation.nebula_hub_version,
        "created_at": curation.created_at,
        "citation": CITATION,
        "stats_json": json.dumps(stats.get("totals") or {}),
        **inputs.extra,
    }
    return DatasetCard.from_template(data, template_path=str(resource_path(*TEMPLATE)), c=context)
