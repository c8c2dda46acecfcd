"""Publish a curation output folder as one version of a Hub dataset repo: one commit, then the tag `vX.Y.Z`.

What a publish does, in order:
1. verify the output folder (every file's sha256 against its manifest);
2. check the version: a taken tag is refused (tags never move) unless it already holds exactly this content, and a
   version not above the latest is refused;
3. if the repo head already holds exactly this content, make no commit (and only add the tag when that head is an
   interrupted publish of this very version);
4. stream the records into size-bounded Parquet shards (`nebula_hub.publish.layout`), draw the charts, render the
   card (with the changelog against the previous version, read from the Hub), write `nebula_manifest.json`;
5. upload everything in one `create_commit` whose `parent_commit` is the head read in step 3 (files of the previous
   version that are not part of this one are deleted in the same commit);
6. tag that commit.

A publish killed anywhere before step 5 completes leaves the repo at its previous version (a commit is atomic);
killed between 5 and 6, the rerun finds the untagged head holding this content and only tags it. Uploaded LFS
objects are kept by the hub, so a rerun does not send them again.

Example:
    >>> from nebula_hub.hub import resolve_hub
    >>> result = publish_dataset("outputs/sft", "local/nebula-sft", "1.0.0", target=resolve_hub(None))  # doctest: +SKIP
    >>> print(result.load_line)                                                                            # doctest: +SKIP
    load_dataset("local/nebula-sft", "default", split="train", revision="v1.0.0")
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nebula_hub import __version__
from nebula_hub.artifacts import PIPELINE, STATS, CurationOutput
from nebula_hub.errors import NebulaError
from nebula_hub.paths import cache_dir
from nebula_hub.publish import charts
from nebula_hub.publish.card import CardInputs, render_card
from nebula_hub.publish.diff import Snapshot, diff_snapshots
from nebula_hub.publish.layout import LAYOUT_VERSION, Layout, build_layout
from nebula_hub.publish.remote import (
    REPO_MANIFEST,
    REPO_STATS,
    check_repo_id,
    list_version_tags,
    load_snapshot,
    parse_version,
    read_json,
    version_str,
)


logger = logging.getLogger(__name__)
ASSETS = "assets"
MANIFEST_FORMAT = "nebula-hub/dataset-version"


@dataclass
class PublishResult:
    repo_id: str
    version: str
    tag: str
    commit: str  # the commit the version's tag points at (or the head that already held the content)
    status: str  # "published" | "tagged" (resumed an interrupted publish) | "unchanged"
    message: str
    parent_version: str | None = None
    configs: dict[str, dict[str, int]] = field(default_factory=dict)  # config -> split -> rows

    @property
    def load_line(self) -> str:
        config = "default" if "default" in self.configs else next(iter(self.configs), "default")
        split = next(iter(self.configs.get(config, {})), "train")
        return f'load_dataset("{self.repo_id}", "{config}", split="{split}", revision="{self.tag}")'


def content_fingerprint(output: CurationOutput, shard_bytes: int) -> str:
    """A hash of everything the published files are made from: input files, stats, pipeline config, layout settings.

    The layout is a pure function of these, so equal fingerprints mean equal data files.
    """
    m = output.manifest
    stats_path = output.root / STATS
    payload = {
        "layout_version": LAYOUT_VERSION,
        "kind": m.kind,
        "files": [[f.path, f.sha256] for f in m.files],
        "rejected": [[f.path, f.sha256] for f in m.rejected_files],
        "stats": _stats_digest(stats_path),
        "pipeline_config": m.pipeline_config,
        "shard_bytes": shard_bytes,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _stats_digest(path) -> str | None:
    """Hash of the stats without run timings: re-curating identical data must not make a new version."""
    if not path.is_file():
        return None
    stats = json.loads(path.read_text(encoding="utf-8"))
    stats.pop("timings_s", None)
    return hashlib.sha256(json.dumps(stats, sort_keys=True, default=str).encode()).hexdigest()


def _repo_manifest(
    repo_id: str,
    version: str,
    layout: Layout,
    output: CurationOutput,
    fingerprint: str,
    parent,
    shard_bytes: int,
    publish_command: str | None,
) -> dict[str, Any]:
    configs = {
        name: {
            split: {"rows": sum(p.rows for p in parts), "data_files": [p.pattern for p in parts]}
            for split, parts in splits.items()
        }
        for name, splits in layout.configs().items()
    }
    return {
        "format": MANIFEST_FORMAT,
        "layout_version": LAYOUT_VERSION,
        "repo_id": repo_id,
        "version": version,
        "tag": f"v{version}",
        "parent_version": parent.version if parent else None,
        "parent_commit": parent.commit if parent else None,
        "kind": layout.kind,
        "fingerprint": fingerprint,
        "nebula_hub_version": __version__,
        "published_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "shard_bytes": shard_bytes,
        "publish_command": publish_command,
        "configs": configs,
        "partitions": [asdict(p) for p in layout.partitions],
        "files": [asdict(f) for f in layout.files()],
        "distributions": layout.distributions,
        "rejected_reasons": layout.rejected_reasons,
        "curation": asdict(output.manifest),
    }


def _draw_charts(layout: Layout, stats: dict[str, Any], staging: Path) -> dict[str, str]:
    dist = layout.distributions
    drawn = {
        "task": charts.bar_chart(dist.get("task", {}), "Records per task", staging / ASSETS / "task.png"),
        "difficulty": charts.bar_chart(
            dist.get("difficulty", {}), "Records per difficulty", staging / ASSETS / "difficulty.png"
        ),
        "source": charts.bar_chart(dist.get("source", {}), "Records per source", staging / ASSETS / "source.png"),
        "length": charts.histogram_chart(
            dist.get("length", {}), "Conversation length", staging / ASSETS / "length.png"
        ),
        "funnel": charts.funnel_chart(stats.get("funnel") or [], "Stage funnel", staging / ASSETS / "funnel.png"),
    }
    return {name: path.relative_to(staging).as_posix() for name, path in drawn.items() if path is not None}


def _head(api, repo_id: str) -> str:
    return api.dataset_info(repo_id, revision="main").sha


def publish_dataset(
    output_dir: str | Path,
    repo_id: str,
    version: str,
    *,
    target=None,
    private: bool = False,
    shard_size_mb: float = 256,
    publish_command: str | None = None,
    progress: bool = True,
    staging_root: str | Path | None = None,
) -> PublishResult:
    """Publish `output_dir` as version `version` of the dataset repo `repo_id` (see the module docstring).

    Args:
        output_dir (`str` or `Path`): a finished curation output folder (`nebula_hub.artifacts`).
        repo_id (`str`): `ORG/NAME`; created (as a dataset repo) if absent.
        version (`str`): `X.Y.Z`, greater than every version already published; tagged `vX.Y.Z`.
        target (`HubTarget`, *optional*): the hub (`nebula_hub.hub.resolve_hub`); defaults to `resolve_hub(None)`.
        private (`bool`, *optional*, defaults to `False`): create the repo private (an existing repo keeps its setting).
        shard_size_mb (`float`, *optional*, defaults to 256): Parquet shards are closed at about this size.
        publish_command (`str`, *optional*): the command line to show in the card's "how to reproduce".
        progress (`bool`, *optional*, defaults to `True`): tqdm bars.
        staging_root (`str` or `Path`, *optional*): where shards are staged; defaults to the nebula-hub cache.

    Example:
        >>> r = publish_dataset("outputs/rl", "local/nebula-rl", "1.0.0")  # doctest: +SKIP
        >>> r.status, r.tag
        ('published', 'v1.0.0')
    """
    from nebula_hub.hub import get_api, resolve_hub

    check_repo_id(repo_id)
    version = version_str(version)
    tag = f"v{version}"
    if shard_size_mb <= 0:
        raise NebulaError(f"--shard-size-mb {shard_size_mb} must be positive", hint="pass e.g. --shard-size-mb 256")
    shard_bytes = int(shard_size_mb * (1 << 20))
    output = CurationOutput(output_dir, verify=True)
    fingerprint = content_fingerprint(output, shard_bytes)
    target = target or resolve_hub(None)
    api = get_api(target)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)

    tags = list_version_tags(api, repo_id)
    by_version = {t.version: t for t in tags}
    if version in by_version:
        ref = by_version[version]
        existing = read_json(api, repo_id, REPO_MANIFEST, ref.commit) or {}
        if existing.get("fingerprint") == fingerprint:
            return PublishResult(
                repo_id,
                version,
                tag,
                ref.commit,
                "unchanged",
                f"{repo_id} {tag} already holds exactly this content (commit {ref.commit}); nothing to do",
                existing.get("parent_version"),
                _config_rows(existing),
            )
        raise NebulaError(
            f"{repo_id}: version {tag} is already published (commit {ref.commit[:12]}) with different content; "
            "a version tag never moves",
            hint=f"publish the new content under a higher version, e.g. --version {_bump(tags[-1].version)}",
        )
    latest = tags[-1] if tags else None
    if latest and parse_version(version) <= parse_version(latest.version):
        raise NebulaError(
            f"{repo_id}: version {tag} is not greater than the latest version {latest.tag}",
            hint=f"versions only go up: pass e.g. --version {_bump(latest.version)}",
        )

    head = _head(api, repo_id)
    head_manifest = read_json(api, repo_id, REPO_MANIFEST, head)
    if head_manifest and head_manifest.get("fingerprint") == fingerprint:
        tagged_as = [t for t in tags if t.commit == head]
        if head_manifest.get("version") == version and not tagged_as:
            # An earlier run of this publish committed but was stopped before tagging: finish it.
            api.create_tag(
                repo_id, tag=tag, revision=head, repo_type="dataset", tag_message=f"nebula-hub dataset {tag}"
            )
            return PublishResult(
                repo_id,
                version,
                tag,
                head,
                "tagged",
                f"commit {head} already held {tag} (an interrupted publish); tagged it {tag}",
                head_manifest.get("parent_version"),
                _config_rows(head_manifest),
            )
        if tagged_as:
            return PublishResult(
                repo_id,
                version,
                tagged_as[-1].tag,
                head,
                "unchanged",
                f"the content is identical to {tagged_as[-1].tag} (commit {head}), the current head: "
                f"no commit made and no tag {tag} created",
                head_manifest.get("parent_version"),
                _config_rows(head_manifest),
            )

    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    bars_were_off = are_progress_bars_disabled()
    if not progress:
        disable_progress_bars()
    try:
        return _build_and_commit(
            api,
            output,
            repo_id,
            version,
            tag,
            fingerprint,
            latest,
            head,
            shard_bytes,
            publish_command,
            progress,
            staging_root,
        )
    finally:
        if not progress and not bars_were_off:
            enable_progress_bars()


def _build_and_commit(
    api,
    output: CurationOutput,
    repo_id: str,
    version: str,
    tag: str,
    fingerprint: str,
    latest,
    head: str,
    shard_bytes: int,
    publish_command: str | None,
    progress: bool,
    staging_root: str | Path | None,
) -> PublishResult:
    import httpx
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete
    from huggingface_hub.errors import HfHubHTTPError

    from nebula_hub.hub import redact

    staging_base = Path(staging_root) if staging_root else cache_dir() / "publish-staging"
    prefix = f"{repo_id.replace('/', '--')}-{version}-"
    for stale in staging_base.glob(prefix + "*"):
        # Left by an earlier run of this same publish that was killed before its cleanup.
        shutil.rmtree(stale, ignore_errors=True)
    staging = staging_base / f"{prefix}{uuid.uuid4().hex[:8]}"
    try:
        layout = build_layout(output, staging, shard_bytes=shard_bytes, progress=progress)
        parent = load_snapshot(api, repo_id, latest) if latest else None
        stats = output.stats
        manifest = _repo_manifest(repo_id, version, layout, output, fingerprint, latest, shard_bytes, publish_command)
        changelog = None
        if parent is not None:
            import pyarrow.parquet as pq

            current = Snapshot(version, None, manifest, stats, pq.read_table(staging / layout.ids_file.path))
            changelog = diff_snapshots(parent, current)
        chart_paths = _draw_charts(layout, stats, staging)
        card = render_card(
            CardInputs(
                repo_id=repo_id,
                version=version,
                kind=layout.kind,
                layout=layout,
                curation=output.manifest,
                stats=stats,
                charts=chart_paths,
                previous=latest.version if latest else None,
                changelog=changelog,
                publish_command=publish_command,
            )
        )
        # Nothing we write may carry a token, even one pasted into a curation command or a source URL.
        (staging / "README.md").write_text(redact(str(card)), encoding="utf-8")
        (staging / REPO_MANIFEST).write_text(
            redact(json.dumps(manifest, indent=2, ensure_ascii=False)), encoding="utf-8"
        )
        if (output.root / STATS).is_file():
            shutil.copyfile(output.root / STATS, staging / REPO_STATS)
        if (output.root / PIPELINE).is_file():
            shutil.copyfile(output.root / PIPELINE, staging / PIPELINE)

        new_paths = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
        old_paths = set(api.list_repo_files(repo_id, repo_type="dataset", revision=head)) - {".gitattributes"}
        operations = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(staging / p)) for p in new_paths]
        operations += [CommitOperationDelete(path_in_repo=p) for p in sorted(old_paths - set(new_paths))]
        total_mb = sum((staging / p).stat().st_size for p in new_paths) / (1 << 20)
        logger.info("uploading %d files (%.1f MiB) to %s in one commit", len(new_paths), total_mb, repo_id)
        try:
            info = api.create_commit(
                repo_id,
                operations=operations,
                commit_message=f"Publish {tag}",
                commit_description=f"nebula-hub {__version__}: {layout.kind} dataset version {tag} "
                f"({sum(p.rows for p in layout.partitions if p.key != 'rejected'):,} curated records)",
                repo_type="dataset",
                revision="main",
                parent_commit=head,
            )
        except RuntimeError as err:
            # huggingface_hub wraps a failed LFS upload in RuntimeError("Error while uploading ...") from the cause.
            if not isinstance(err.__cause__, (OSError, httpx.HTTPError)):
                raise
            raise NebulaError(
                f"{repo_id}: uploading {tag} was interrupted ({err}: {redact(err.__cause__)}); "
                f"the repo is still at {latest.tag if latest else 'its previous state'}",
                hint="rerun the same command: files already uploaded are not sent again",
            ) from err
        except HfHubHTTPError as err:
            if err.response is not None and err.response.status_code in (409, 412):
                raise NebulaError(
                    f"{repo_id}: the main branch moved while publishing {tag} (it was at {head[:12]})",
                    hint="someone else pushed to the repo; rerun the same command to publish on top of the new head",
                ) from None
            raise
        commit = info.oid
        try:
            api.create_tag(
                repo_id, tag=tag, revision=commit, repo_type="dataset", tag_message=f"nebula-hub dataset {tag}"
            )
        except HfHubHTTPError as err:
            if err.response is not None and err.response.status_code == 409:
                raise NebulaError(
                    f"{repo_id}: tag {tag} was created by someone else while publishing; commit {commit} is untagged",
                    hint=f"check `nebula-hub dataset versions {repo_id}`, then publish under a higher version",
                ) from None
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return PublishResult(
        repo_id,
        version,
        tag,
        commit,
        "published",
        f"published {repo_id} {tag} at commit {commit}",
        latest.version if latest else None,
        _config_rows(manifest),
    )


def _config_rows(manifest: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {
        name: {split: info.get("rows", 0) for split, info in splits.items()}
        for name, splits in (manifest.get("configs") or {}).items()
    }


def _bump(version: str) -> str:
    major, minor, patch = parse_version(version)
    return f"{major}.{minor}.{patch + 1}"
