"""Read what the Space shows from a Hub, and only from a Hub: model cards (metadata, `model-index`, the `nebula`
lineage block) and curated dataset repos (`stats.json`, `nebula_manifest.json`, Parquet configs).

Every read goes through an `HfApi` bound to the Space's hub (`nebula_hub.hub.get_api`) rather than module-level
clients, because the Space answers concurrent requests and `use_hub` is a process-wide switch.

Example:
    >>> from nebula_hub.hub import get_api, resolve_hub
    >>> api = get_api(resolve_hub(None))                                              # doctest: +SKIP
    >>> ckpt = read_checkpoint(api, CheckpointRef("local/nebula-tiny-quickstart", "quickstart-grpo"))  # doctest: +SKIP
    >>> ckpt.sha[:12], ckpt.nebula["parent"]["repo"], [s.benchmark for s in ckpt.scores]  # doctest: +SKIP
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from nebula_hub.errors import NebulaError
from nebula_hub.space.config import CheckpointRef, DatasetRef, SpaceConfig, _norm


logger = logging.getLogger(__name__)
STATS_FILE = "stats.json"
MANIFEST_FILE = "nebula_manifest.json"
_VERSION_TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")


@dataclass
class Score:
    """One number from a card's `model-index`: a metric of a benchmark, with the settings that produced it."""

    benchmark: str  # display name, e.g. "GSM8K"
    key: str  # normalised benchmark id, e.g. "gsm8k"
    area: str
    metric: str
    value: float
    primary: bool
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckpointInfo:
    """A checkpoint as its card describes it, pinned to the commit `sha` that `ref.revision` pointed at."""

    ref: CheckpointRef
    sha: str
    metadata: dict[str, Any]
    scores: list[Score] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.ref.label

    @property
    def nebula(self) -> dict[str, Any]:
        block = self.metadata.get("nebula")
        return block if isinstance(block, dict) else {}

    @property
    def parent(self) -> dict[str, Any]:
        parent = self.nebula.get("parent")
        return parent if isinstance(parent, dict) else {}


@dataclass
class DatasetInfo:
    """A curated dataset version: its commit, `nebula_manifest.json`, `stats.json` and the card's configs."""

    ref: DatasetRef
    revision: str  # what was asked for, or the latest version tag found
    sha: str
    manifest: dict[str, Any]
    stats: dict[str, Any]
    configs: dict[str, dict[str, list[str]]]  # config -> split -> data_files patterns
    files: list[str]

    @property
    def label(self) -> str:
        return self.ref.label if self.ref.revision else f"{self.ref.repo}@{self.revision}"

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind") or ("sft" if "messages" in json.dumps(self.configs) else "unknown"))


def _front_matter(path: str) -> dict[str, Any]:
    from huggingface_hub.repocard import metadata_load

    try:
        return metadata_load(path) or {}
    except Exception as err:  # metadata_load raises yaml errors of several types
        raise NebulaError(
            f"{path}: the card's YAML front matter cannot be read: {err}",
            hint="fix the README.md metadata block of that repo",
        ) from None


def read_card_metadata(api, repo: str, revision: str, repo_type: str = "model") -> dict[str, Any]:
    """The YAML metadata of `repo`'s README.md at `revision` (`{}` when there is no card)."""
    from huggingface_hub.errors import EntryNotFoundError

    try:
        path = api.hf_hub_download(repo, "README.md", revision=revision, repo_type=repo_type)
    except EntryNotFoundError:
        return {}
    return _front_matter(path)


def read_checkpoint(api, ref: CheckpointRef, areas: dict[str, str] | None = None) -> CheckpointInfo:
    """Resolve `ref` to a commit and read its card: metadata, `nebula` block and `model-index` scores.

    Raises:
        `NebulaError`: the repo or revision does not exist on the hub.

    Example:
        >>> read_checkpoint(api, CheckpointRef("local/m", "quickstart-grpo")).sha  # doctest: +SKIP
    """
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        info = api.model_info(ref.repo, revision=ref.revision)
    except RevisionNotFoundError:
        raise NebulaError(
            f"checkpoint {ref.ref}: revision {ref.revision!r} not found on {api.endpoint}",
            hint=f"list its branches and tags with `hf repo-refs {ref.repo}` or fix the Space config",
        ) from None
    except RepositoryNotFoundError:
        raise NebulaError(
            f"checkpoint {ref.ref}: model repo {ref.repo!r} not found on {api.endpoint}",
            hint="check the repo id in the Space config and the hub (--hub / HF_ENDPOINT)",
        ) from None
    metadata = read_card_metadata(api, ref.repo, info.sha)
    return CheckpointInfo(
        ref=ref,
        sha=info.sha,
        metadata=metadata,
        scores=parse_model_index(metadata, areas, where=f"{ref.ref} README.md"),
    )


SUITE_AVERAGE_TYPE = "nebula-hub/suite-average"  # the suite average `nebula-hub eval` adds; the Space computes its own
BUNDLED_SUFFIX = " (nebula-hub bundled sample)"
# metric args that are bookkeeping rather than settings (shown elsewhere or too long for a settings line)
_NOT_SETTINGS = {"libraries", "details", "ci_low", "ci_high", "ci_method", "members", "area"}


def parse_model_index(
    metadata: dict[str, Any], areas: dict[str, str] | None = None, where: str = "card"
) -> list[Score]:
    """The scores in a card's `model-index` (Hugging Face's eval-results layout, as `nebula-hub eval` writes it).

    A benchmark is named by its dataset name (a bundled offline sample gets a trailing `†`), and by its thinking mode
    when the metric's `config` says `thinking=on`. Its primary metric is the one the suite average lists for it
    (`members`), else its first metric. The area comes from `dataset.args.area`, else from `areas` by task name,
    dataset type or name. The suite average itself is skipped (the Space averages what it shows). Entries without a
    numeric value are skipped with a warning naming them.

    Example:
        >>> md = {"model-index": [{"name": "m", "results": [{"task": {"type": "text-generation", "name": "gsm8k"},
        ...       "dataset": {"name": "GSM8K", "type": "openai/gsm8k"},
        ...       "metrics": [{"type": "accuracy", "value": 0.5, "config": "math_boxed_v1,thinking=off"}]}]}]}
        >>> [(s.benchmark, s.area, s.value) for s in parse_model_index(md)]
        [('GSM8K', 'math', 0.5)]
    """
    from nebula_hub.space.config import DEFAULT_AREAS

    areas = areas or DEFAULT_AREAS
    results = [r for entry in metadata.get("model-index") or [] for r in (entry or {}).get("results") or []]
    primaries: dict[str, str] = {}
    for result in results:
        for metric in result.get("metrics") or []:
            members = (metric.get("args") or {}).get("members") if isinstance(metric.get("args"), dict) else None
            if isinstance(members, dict):
                primaries.update({_norm(k): str(v) for k, v in members.items()})
    scores: list[Score] = []
    for result in results:
        dataset = result.get("dataset") or {}
        task = result.get("task") or {}
        if dataset.get("type") == SUITE_AVERAGE_TYPE:
            continue
        name = str(dataset.get("name") or dataset.get("type") or task.get("name") or "unnamed")
        if name.endswith(BUNDLED_SUFFIX):
            name = name[: -len(BUNDLED_SUFFIX)] + "†"
        keys = [_norm(k) for k in (task.get("name"), str(dataset.get("type") or "").split("/")[-1], name) if k]
        key = next((k for k in keys if k), _norm(name))
        args = dict(dataset.get("args") or {}) if isinstance(dataset.get("args"), dict) else {}
        area = args.get("area") or next((areas[k] for k in keys if k in areas), "other")
        seen: set[str] = set()
        for metric in result.get("metrics") or []:
            value = metric.get("value")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                logger.warning(
                    "%s: model-index result %s metric %s has no numeric value (%r); skipped",
                    where,
                    name,
                    metric.get("type"),
                    value,
                )
                continue
            config = str(metric.get("config") or "")
            shown = f"{name} (thinking)" if "thinking=on" in config else name
            metric_type = str(metric.get("type") or metric.get("name") or "score")
            primary = metric_type == primaries[key] if key in primaries else shown not in seen
            seen.add(shown)
            settings = {k: v for k, v in args.items() if k not in _NOT_SETTINGS}
            if isinstance(metric.get("args"), dict):
                settings.update({k: v for k, v in metric["args"].items() if k not in _NOT_SETTINGS})
            if config:
                settings["config"] = config
            for extra in ("config", "split", "revision"):
                if dataset.get(extra):
                    settings[f"dataset_{extra}"] = dataset[extra]
            scores.append(
                Score(
                    benchmark=shown,
                    key=key,
                    area=str(area),
                    metric=metric_type,
                    value=float(value),
                    primary=primary,
                    settings=settings,
                )
            )
    return scores


# ---- datasets ----------------------------------------------------------------------------------------------------
def latest_version(api, repo: str) -> str | None:
    """The highest `vX.Y.Z` tag of a dataset repo, or None."""
    refs = api.list_repo_refs(repo, repo_type="dataset")
    tags = [(tuple(int(x) for x in m.groups()), t.name) for t in refs.tags if (m := _VERSION_TAG.match(t.name))]
    return max(tags)[1] if tags else None


def _read_json(api, repo: str, filename: str, sha: str) -> dict[str, Any]:
    from huggingface_hub.errors import EntryNotFoundError

    try:
        path = api.hf_hub_download(repo, filename, repo_type="dataset", revision=sha)
    except EntryNotFoundError:
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as err:
        raise NebulaError(
            f"dataset {repo}@{sha[:12]}: {filename} is not valid JSON ({err})",
            hint="republish the version with `nebula-hub publish dataset`",
        ) from None
    return data if isinstance(data, dict) else {}


def card_configs(metadata: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """The `configs` of a dataset card as config -> split -> file patterns.

    Example:
        >>> card_configs({"configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "data/*"}]}]})
        {'default': {'train': ['data/*']}}
    """
    out: dict[str, dict[str, list[str]]] = {}
    for cfg in metadata.get("configs") or []:
        name = cfg.get("config_name") or "default"
        files = cfg.get("data_files")
        splits: dict[str, list[str]] = {}
        if isinstance(files, str):
            splits["train"] = [files]
        elif isinstance(files, list):
            for item in files:
                if isinstance(item, str):
                    splits.setdefault("train", []).append(item)
                elif isinstance(item, dict):
                    paths = item.get("path")
                    splits.setdefault(item.get("split") or "train", []).extend(
                        paths if isinstance(paths, list) else [paths]
                    )
        out[name] = splits
    return out


def read_dataset(api, ref: DatasetRef) -> DatasetInfo:
    """Resolve a dataset version (default: its latest `vX.Y.Z` tag) and read its stats, manifest and configs.

    Example:
        >>> info = read_dataset(api, DatasetRef("local/nebula-sft"))  # doctest: +SKIP
        >>> info.revision, info.stats["totals"]                                  # doctest: +SKIP
        ('v0.1.0', {'input': 120, 'curated': 96, 'rejected': 24})
    """
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        revision = ref.revision or latest_version(api, ref.repo) or "main"
        info = api.dataset_info(ref.repo, revision=revision, files_metadata=False)
    except RevisionNotFoundError:
        raise NebulaError(
            f"dataset {ref.ref}: revision {ref.revision!r} not found on {api.endpoint}",
            hint=f"list its versions with `nebula-hub dataset versions {ref.repo}`",
        ) from None
    except RepositoryNotFoundError:
        raise NebulaError(
            f"dataset {ref.ref}: dataset repo {ref.repo!r} not found on {api.endpoint}",
            hint="check the repo id in the Space config and the hub (--hub / HF_ENDPOINT)",
        ) from None
    metadata = read_card_metadata(api, ref.repo, info.sha, repo_type="dataset")
    files = [s.rfilename for s in info.siblings or []]
    return DatasetInfo(
        ref=ref,
        revision=revision,
        sha=info.sha,
        manifest=_read_json(api, ref.repo, MANIFEST_FILE, info.sha),
        stats=_read_json(api, ref.repo, STATS_FILE, info.sha),
        configs=card_configs(metadata),
        files=files,
    )


def config_files(info: DatasetInfo, config: str, split: str | None = None) -> list[str]:
    """The Parquet files of `config` (all splits, or one) in the version's file list."""
    if config not in info.configs:
        raise NebulaError(
            f"dataset {info.label}: no config {config!r} (configs: {', '.join(info.configs) or 'none'})",
            hint="pick one of the listed configs",
        )
    patterns = [p for s, ps in info.configs[config].items() if split in (None, s) for p in ps]
    return sorted({f for f in info.files for p in patterns if fnmatch.fnmatch(f, p) and f.endswith(".parquet")})


def read_records(api, info: DatasetInfo, config: str, split: str | None = None, limit: int = 200) -> list[dict]:
    """Up to `limit` rows of a config, read file by file with pyarrow (JSON-string columns decoded).

    Files are downloaded through the Space's `HfApi` instead of `datasets.load_dataset`, whose endpoint is a
    process-wide setting (see the module docstring); only as many files as `limit` needs are fetched.

    Example:
        >>> rows = read_records(api, info, "rejected", limit=50)  # doctest: +SKIP
        >>> rows[0]["stage"], rows[0]["reason"]                     # doctest: +SKIP
    """
    import pyarrow.parquet as pq

    rows: list[dict] = []
    for path in config_files(info, config, split):
        local = api.hf_hub_download(info.ref.repo, path, repo_type="dataset", revision=info.sha)
        table = pq.read_table(local)
        take = table.slice(0, limit - len(rows)).to_pylist()
        rows.extend(_decode_row(r) for r in take)
        if len(rows) >= limit:
            break
    return rows


def _decode_row(row: dict) -> dict:
    # nebula-hub stores free-form parts (meta, a rejected record's body, IFEval kwargs) as JSON strings.
    for key in ("meta", "record"):
        value = row.get(key)
        if isinstance(value, str) and value[:1] in "{[":
            try:
                row[key] = json.loads(value)
            except json.JSONDecodeError:
                pass
    return row


# ---- discovery ---------------------------------------------------------------------------------------------------
@dataclass
class SpaceContent:
    """Everything the Space shows, read once: checkpoints and datasets (with the errors of those that failed)."""

    config: SpaceConfig
    checkpoints: list[CheckpointInfo] = field(default_factory=list)
    datasets: list[DatasetInfo] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def checkpoint(self, key: str) -> CheckpointInfo:
        for c in self.checkpoints:
            if key in (c.label, c.ref.ref, f"{c.ref.repo}@{c.sha}"):
                return c
        raise NebulaError(
            f"checkpoint {key!r} is not among the Space's checkpoints",
            hint="choose one of: " + ", ".join(c.label for c in self.checkpoints),
        )

    def base(self) -> CheckpointInfo | None:
        """The delta baseline: `config.base`, else the first checkpoint whose parent is not shown (the root)."""
        if not self.checkpoints:
            return None
        if self.config.base:
            return self.checkpoint(self.config.base)
        shas = {c.sha for c in self.checkpoints}
        return next((c for c in self.checkpoints if c.parent.get("sha") not in shas), self.checkpoints[0])


def discover(api, author: str | None = None, limit: int = 200) -> SpaceConfig:
    """A config naming what nebula-hub published on the hub: every branch of a model repo whose card has a `nebula`
    block (plus the parents they name), and every dataset repo published by nebula-hub or used by those checkpoints.

    Checkpoints come ordered root first (by lineage depth), labelled by branch when that is unambiguous.

    Example:
        >>> [c.label for c in discover(api).checkpoints]  # doctest: +SKIP
        ['base-tiny-0c1d2e', 'quickstart-ins_sft', 'quickstart-grpo']
    """
    found: dict[tuple[str, str], dict[str, Any]] = {}  # (repo, branch) -> card metadata
    for model in api.list_models(author=author, limit=limit):
        refs = api.list_repo_refs(model.id)
        for branch in refs.branches:
            metadata = read_card_metadata(api, model.id, branch.target_commit)
            if isinstance(metadata.get("nebula"), dict):
                found[(model.id, branch.name)] = {"meta": metadata, "sha": branch.target_commit}
    shas = {v["sha"] for v in found.values()}
    parents: dict[tuple[str, str], str] = {}
    for value in found.values():
        parent = value["meta"]["nebula"].get("parent") or {}
        if parent.get("repo") and parent.get("sha") and parent["sha"] not in shas:
            parents[(parent["repo"], parent.get("revision") or parent["sha"])] = parent["sha"]
            shas.add(parent["sha"])

    parent_of = {v["sha"]: (v["meta"]["nebula"].get("parent") or {}).get("sha") for v in found.values()}

    def depth(sha: str, hops: int = 0) -> int:
        parent_sha = parent_of.get(sha)
        if parent_sha is None or parent_sha not in shas or hops > len(shas):  # a root, or a (corrupt) cycle
            return 0
        return 1 + depth(parent_sha, hops + 1)

    entries = [(repo, rev, sha) for (repo, rev), sha in parents.items()]
    entries += [(repo, rev, v["sha"]) for (repo, rev), v in found.items()]
    entries.sort(key=lambda e: (depth(e[2]), e[0], e[1]))
    revisions = [rev for _, rev, _ in entries]
    checkpoints = [
        {
            "repo": repo,
            "revision": rev,
            **({"label": rev} if revisions.count(rev) == 1 and len({e[0] for e in entries}) == 1 else {}),
        }
        for repo, rev, _ in entries
    ]

    datasets: list[dict[str, Any]] = []
    seen: set[str] = set()
    for value in found.values():
        for d in value["meta"]["nebula"].get("datasets") or []:
            if isinstance(d, dict) and d.get("repo") and d["repo"] not in seen:
                seen.add(d["repo"])
                datasets.append({"repo": d["repo"], **({"revision": d["revision"]} if d.get("revision") else {})})
    for ds in api.list_datasets(author=author, limit=limit):
        if ds.id in seen:
            continue
        revision = latest_version(api, ds.id)
        files = api.list_repo_files(ds.id, repo_type="dataset", revision=revision or "main")
        if MANIFEST_FILE in files or STATS_FILE in files:
            seen.add(ds.id)
            datasets.append({"repo": ds.id, **({"revision": revision} if revision else {})})
    return SpaceConfig.from_dict({"checkpoints": checkpoints, "datasets": datasets}, source="discovered on the hub")


def load_content(api, config: SpaceConfig) -> SpaceContent:
    """Read every checkpoint and dataset `config` names (discovering them when it names none).

    A checkpoint or dataset that cannot be read is left out and its error kept in `errors` (shown in the Space),
    so one deleted branch does not take the whole Space down.

    Example:
        >>> content = load_content(api, load_space_config("spaces/compare/config.yaml"))  # doctest: +SKIP
        >>> [c.label for c in content.checkpoints], content.errors                      # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    if config.is_empty:
        discovered = discover(api)
        config = SpaceConfig.from_dict(
            {
                **{k: v for k, v in _plain_config(config).items() if k not in ("checkpoints", "datasets")},
                "checkpoints": [vars(c) for c in discovered.checkpoints],
                "datasets": [vars(d) for d in discovered.datasets],
            },
            source=discovered.source,
        )
    content = SpaceContent(config=config)
    areas = config.area_map()
    items = [("checkpoint", c) for c in config.checkpoints] + [("dataset", d) for d in config.datasets]
    for kind, ref in tqdm(items, desc="reading the hub", unit="repo", disable=len(items) < 8):
        try:
            if kind == "checkpoint":
                content.checkpoints.append(read_checkpoint(api, ref, areas))
            else:
                content.datasets.append(read_dataset(api, ref))
        except NebulaError as err:
            logger.warning("%s", err)
            content.errors.append(f"{err.message} ({err.hint})" if err.hint else err.message)
    return content


def _plain_config(config: SpaceConfig) -> dict[str, Any]:
    from nebula_hub.config import to_dict

    return to_dict(config)
