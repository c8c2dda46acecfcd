"""Publish curated datasets as versioned Hub repos with generated dataset cards, and read their versions back.

- `publish_dataset(output_dir, repo_id, version)`: one commit holding a whole version, then the tag `vX.Y.Z`.
- `list_versions(api, repo_id)`, `diff_snapshots(a, b)`: what `nebula-hub dataset versions|diff` print.
- `layout` (streamed, size-bounded Parquet shards and configs), `card` (the dataset card), `charts` (PNG charts).

Example:
    >>> from nebula_hub.publish import publish_dataset
    >>> publish_dataset("outputs/sft", "local/nebula-sft", "1.0.0").commit  # doctest: +SKIP
    '4b825dc642cb6eb9a060e54bf8d69288fbee4904'
"""

from nebula_hub.publish.dataset import PublishResult, content_fingerprint, publish_dataset
from nebula_hub.publish.diff import Snapshot, VersionDiff, diff_snapshots, format_diff
from nebula_hub.publish.remote import (
    REPO_MANIFEST,
    VersionInfo,
    diff_versions,
    format_versions,
    list_version_tags,
    list_versions,
    load_snapshot,
    resolve_version,
)


__all__ = [
    "REPO_MANIFEST",
    "PublishResult",
    "Snapshot",
    "VersionDiff",
    "VersionInfo",
    "content_fingerprint",
    "diff_snapshots",
    "diff_versions",
    "format_diff",
    "format_versions",
    "list_version_tags",
    "list_versions",
    "load_snapshot",
    "publish_dataset",
    "resolve_version",
]
