"""The curation output folder: the contract between `curate` (which writes it) and `publish` (which reads it).

A curation run leaves a self-describing folder; `publish` needs nothing else:

    OUTPUT_DIR/
      manifest.json          kind (sft|rl), files with rows and sha256, the pipeline config, nebula-hub version,
                             input sources with revisions, created_at, the parent output (if any)
      pipeline.yaml          the exact pipeline config that produced it
      stats.json             the stage funnel and distributions (see `Stats`)
      data/<split>/*.parquet curated records (SFT_FEATURES or RL_FEATURES), one folder per split (train, test, ...)
      rejected/*.parquet     every dropped record with its stage and reason (REJECTED_FEATURES)
      logs/                  datatrove's executor logs, per-rank stats and completion markers (resume)

`stats.json` layout (what the dataset card, the Space and `dataset diff` read):

    {"funnel": [{"stage": "normalize", "in": 1000, "out": 950, "reasons": {"bad_role_order": 30, ...}}, ...],
     "distributions": {"task": {"math": 400, ...}, "difficulty": {"easy": 10, ...}, "source": {"gsm8k": 300, ...},
                       "language": {"en": 900, ...},
                       "length": {"unit": "characters", "bins": [0, 256, ...], "counts": [12, 80, ...]}},
     "totals": {"input": 1000, "curated": 800, "rejected": 200}, "timings_s": {"normalize": 1.2, ...}}

Readers use `CurationOutput(path)`; writers call `write_manifest` last, so a folder with a manifest is complete.
"""

import datetime as _dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from nebula_hub import __version__
from nebula_hub.errors import NebulaError


MANIFEST = "manifest.json"
STATS = "stats.json"
PIPELINE = "pipeline.yaml"


@dataclass
class FileEntry:
    path: str  # relative to the output folder, POSIX separators
    rows: int
    sha256: str
    bytes: int


@dataclass
class SourceEntry:
    name: str
    kind: str  # jsonl | parquet | hub
    location: str  # a path, or a Hub repo id
    revision: str | None = None  # the Hub commit sha actually read, or the file's sha256 for local files
    license: str | None = None
    records: int | None = None


@dataclass
class Manifest:
    kind: Literal["sft", "rl"]
    files: list[FileEntry] = field(default_factory=list)
    rejected_files: list[FileEntry] = field(default_factory=list)
    sources: list[SourceEntry] = field(default_factory=list)
    pipeline_config: dict[str, Any] = field(default_factory=dict)
    pipeline_sha256: str | None = None
    command: str | None = None
    nebula_hub_version: str = __version__
    created_at: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    parent: str | None = None

    def splits(self) -> dict[str, list[FileEntry]]:
        """Curated files grouped by split (`data/<split>/...`)."""
        out: dict[str, list[FileEntry]] = {}
        for entry in self.files:
            parts = Path(entry.path).parts
            split = parts[1] if len(parts) > 2 and parts[0] == "data" else "train"
            out.setdefault(split, []).append(entry)
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Manifest":
        data = dict(data)
        data["files"] = [FileEntry(**f) for f in data.get("files", [])]
        data["rejected_files"] = [FileEntry(**f) for f in data.get("rejected_files", [])]
        data["sources"] = [SourceEntry(**s) for s in data.get("sources", [])]
        return cls(**data)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def parquet_entry(root: Path, path: Path) -> FileEntry:
    """Describe one Parquet file (rows from its footer, no full read)."""
    import pyarrow.parquet as pq

    return FileEntry(
        path=path.relative_to(root).as_posix(),
        rows=pq.ParquetFile(path).metadata.num_rows,
        sha256=sha256_file(path),
        bytes=path.stat().st_size,
    )


def write_manifest(root: str | Path, manifest: Manifest) -> Path:
    """Fill in the file lists from `data/` and `rejected/` and write `manifest.json` atomically (written last)."""
    root = Path(root)
    manifest.files = [parquet_entry(root, p) for p in sorted((root / "data").rglob("*.parquet"))]
    manifest.rejected_files = [parquet_entry(root, p) for p in sorted((root / "rejected").rglob("*.parquet"))]
    tmp = root / (MANIFEST + ".tmp")
    tmp.write_text(manifest.to_json(), encoding="utf-8")
    tmp.replace(root / MANIFEST)
    return root / MANIFEST


class CurationOutput:
    """Read access to a finished curation output folder.

    Example:
        >>> out = CurationOutput("outputs/sft")          # doctest: +SKIP
        >>> out.manifest.kind, out.stats["funnel"][0]    # doctest: +SKIP
    """

    def __init__(self, root: str | Path, verify: bool = False):
        self.root = Path(root)
        path = self.root / MANIFEST
        if not path.is_file():
            raise NebulaError(
                f"{str(self.root)!r} is not a finished curation output: {MANIFEST} is missing",
                hint="run `nebula-hub curate sft|rl --output DIR` to completion first (rerun it to resume)",
            )
        try:
            self.manifest = Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, TypeError) as err:
            raise NebulaError(f"{str(path)!r} is not a valid manifest: {err}", hint="rerun the curation") from None
        if verify:
            self.verify()

    @property
    def stats(self) -> dict[str, Any]:
        path = self.root / STATS
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    @property
    def kind(self) -> str:
        return self.manifest.kind

    def verify(self) -> None:
        """Check every listed file exists with the recorded sha256 (what `publish` does before uploading)."""
        for entry in self.manifest.files + self.manifest.rejected_files:
            p = self.root / entry.path
            if not p.is_file():
                raise NebulaError(f"{str(p)!r} is listed in the manifest but missing", hint="rerun the curation")
            if sha256_file(p) != entry.sha256:
                raise NebulaError(
                    f"{str(p)!r} changed after curation (sha256 differs from the manifest)",
                    hint="rerun the curation instead of editing its output by hand",
                )
