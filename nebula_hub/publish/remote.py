"""Read published dataset versions back from a Hub: version tags, a version's manifest, stats and ids.

A version is the tag `vX.Y.Z` on one commit; everything here reads at the tag's commit sha, so a result never mixes
two versions.

Example:
    >>> from nebula_hub.hub import get_api, resolve_hub
    >>> api = get_api(resolve_hub(None))                                   # doctest: +SKIP
    >>> [v.version for v in list_version_tags(api, "local/nebula-sft")]   # doctest: +SKIP
    ['1.0.0', '1.1.0']
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from nebula_hub.errors import NebulaError
from nebula_hub.publish.diff import Snapshot
from nebula_hub.publish.layout import IDS_FILE


REPO_MANIFEST = "nebula_manifest.json"
REPO_STATS = "stats.json"
_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def parse_version(value: str) -> tuple[int, int, int]:
    """`"1.2.3"` or `"v1.2.3"` -> `(1, 2, 3)`; anything else is a `NebulaError`.

    Plain X.Y.Z on purpose (not PEP 440): dataset tags have no pre-releases or local parts.

    Example:
        >>> parse_version("v1.10.0") > parse_version("1.9.3")
        True
    """
    match = _VERSION_RE.match(value.strip())
    if not match:
        raise NebulaError(f"version {value!r} is not of the form X.Y.Z", hint="pass e.g. --version 1.0.0")
    major, minor, patch = (int(x) for x in match.groups())
    return major, minor, patch


def version_str(value: str) -> str:
    return "{}.{}.{}".format(*parse_version(value))


def check_repo_id(repo_id: str) -> str:
    if not _REPO_RE.match(repo_id or ""):
        raise NebulaError(f"repo id {repo_id!r} is not of the form ORG/NAME", hint="pass e.g. --repo local/nebula-sft")
    return repo_id


@dataclass
class VersionRef:
    version: str  # X.Y.Z
    tag: str  # vX.Y.Z
    commit: str  # the 40-hex commit the tag points at


@dataclass
class VersionInfo:
    version: str
    tag: str
    commit: str
    date: str | None
    rows: dict[str, int] = field(default_factory=dict)  # config -> rows over all splits
    published_by_nebula: bool = True


def list_version_tags(api, repo_id: str) -> list[VersionRef]:
    """The repo's `vX.Y.Z` tags, oldest version first (other tags are ignored)."""
    refs = api.list_repo_refs(repo_id, repo_type="dataset")
    out = []
    for tag in refs.tags:
        if _VERSION_RE.match(tag.name) and tag.name.startswith("v"):
            out.append(VersionRef(version_str(tag.name), tag.name, tag.target_commit))
    return sorted(out, key=lambda v: parse_version(v.version))


def resolve_version(api, repo_id: str, version: str) -> VersionRef:
    """The tag of `version` (`1.0.0` or `v1.0.0`); a `NebulaError` listing the existing versions if absent."""
    wanted = version_str(version)
    tags = list_version_tags(api, repo_id)
    for ref in tags:
        if ref.version == wanted:
            return ref
    known = ", ".join(r.tag for r in tags) or "none"
    raise NebulaError(
        f"{repo_id}: version v{wanted} does not exist (versions: {known})",
        hint=f"list them with `nebula-hub dataset versions {repo_id}`",
    )


def read_json(api, repo_id: str, filename: str, revision: str) -> dict[str, Any] | None:
    """A JSON file of the repo at `revision`, or None if the file is not there."""
    from huggingface_hub.errors import EntryNotFoundError

    try:
        path = api.hf_hub_download(repo_id, filename, repo_type="dataset", revision=revision)
    except EntryNotFoundError:
        return None
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def read_ids(api, repo_id: str, revision: str):
    """`meta/ids.parquet` (id, partition) at `revision`, or None."""
    import pyarrow.parquet as pq
    from huggingface_hub.errors import EntryNotFoundError

    try:
        path = api.hf_hub_download(repo_id, IDS_FILE, repo_type="dataset", revision=revision)
    except EntryNotFoundError:
        return None
    return pq.read_table(path)


def load_snapshot(api, repo_id: str, ref: VersionRef, with_ids: bool = True) -> Snapshot | None:
    """The version as `diff` sees it, or None if that commit was not published by nebula-hub (no manifest)."""
    manifest = read_json(api, repo_id, REPO_MANIFEST, ref.commit)
    if manifest is None:
        return None
    stats = read_json(api, repo_id, REPO_STATS, ref.commit) or {}
    ids = read_ids(api, repo_id, ref.commit) if with_ids else None
    return Snapshot(version=ref.version, commit=ref.commit, manifest=manifest, stats=stats, ids=ids)


def list_versions(api, repo_id: str) -> list[VersionInfo]:
    """Every version with its commit, commit date and rows per config.

    Example:
        >>> for v in list_versions(api, "local/nebula-sft"):   # doctest: +SKIP
        ...     print(v.tag, v.commit[:8], v.rows["default"])
        v1.0.0 1f2e3d4c 72
    """
    out = []
    for ref in list_version_tags(api, repo_id):
        commits = api.list_repo_commits(repo_id, repo_type="dataset", revision=ref.commit)
        date = commits[0].created_at.isoformat(timespec="seconds") if commits else None
        snap = load_snapshot(api, repo_id, ref, with_ids=False)
        rows = {}
        if snap is not None:
            rows = {config: sum(splits.values()) for config, splits in snap.config_rows().items()}
        out.append(VersionInfo(ref.version, ref.tag, ref.commit, date, rows, snap is not None))
    return out


def format_versions(repo_id: str, versions: list[VersionInfo]) -> str:
    """The `nebula-hub dataset versions` table.

    Example:
        >>> print(format_versions("a/b", [VersionInfo("1.0.0", "v1.0.0", "f" * 40, "2026-06-01T00:00:00+00:00",
        ...                                           {"default": 10, "math": 4})]))
        tag     commit    date                       default  math
        v1.0.0  ffffffff  2026-06-01T00:00:00+00:00       10     4
    """
    if not versions:
        return f"{repo_id}: no versions yet (publish one with `nebula-hub publish dataset OUTPUT_DIR --repo {repo_id} --version 1.0.0`)"
    configs = list(dict.fromkeys(c for v in versions for c in v.rows))
    header = ["tag", "commit", "date", *configs]
    rows = [
        [v.tag, v.commit[:8], v.date or "-", *[f"{v.rows[c]:,}" if c in v.rows else "-" for c in configs]]
        + ([] if v.published_by_nebula else ["(not published by nebula-hub)"])
        for v in versions
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows] if i < len(r)) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [str(x).ljust(widths[i]) if i < 3 else str(x).rjust(widths[i]) for i, x in enumerate(r[: len(header)])]
        lines.append("  ".join(cells + r[len(header) :]).rstrip())
    return "\n".join(lines)


def diff_versions(api, repo_id: str, version_a: str, version_b: str):
    """`diff_snapshots` of two published versions of `repo_id` (`X.Y.Z` or `vX.Y.Z`).

    Example:
        >>> print(format_diff(diff_versions(api, "local/nebula-sft", "v1.0.0", "v1.1.0")))  # doctest: +SKIP
    """
    from nebula_hub.publish.diff import diff_snapshots

    snaps = []
    for version in (version_a, version_b):
        ref = resolve_version(api, repo_id, version)
        snap = load_snapshot(api, repo_id, ref)
        if snap is None:
            raise NebulaError(
                f"{repo_id} {ref.tag} (commit {ref.commit[:12]}) has no {REPO_MANIFEST}: it was not published by nebula-hub",
                hint="diff only versions made with `nebula-hub publish dataset`",
            )
        snaps.append(snap)
    return diff_snapshots(*snaps)
