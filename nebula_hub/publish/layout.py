"""The Hub repo layout of a dataset version, written from a curation output folder as a stream.

Each curated record lands in exactly one *partition* (split x task, and x difficulty for RL pools); every config is a
union of partitions, so `default`, the per-task configs and the per-difficulty configs share the same Parquet files
instead of storing the corpus three times:

    data/<split>/<task>/part-*.parquet                      SFT corpus (task = task.label, or "unlabeled")
    data/<split>/<task>/<difficulty>/<split>-00000-of-00002.parquet   RL pool (difficulty or "ungraded")
    rejected/train-00000-of-00001.parquet                   every dropped record with its stage and reason
    meta/ids.parquet                                        (id, partition) of every row: what `dataset diff` reads

Configs (README `configs`): `default` (all partitions of a split), one per task, one per difficulty bucket for RL
(`difficulty-easy`, ...), and `rejected` (split `train`).

Memory stays bounded whatever the corpus size: input files are read one record batch at a time, each partition
buffers at most one row group (and all partitions together at most `buffer_bytes`) before it is written, and a shard
is closed once it reaches `shard_bytes` on disk.

Example:
    >>> from nebula_hub.artifacts import CurationOutput
    >>> from nebula_hub.publish.layout import build_layout
    >>> layout = build_layout(CurationOutput("outputs/sft"), "/tmp/staging", shard_bytes=256 << 20)  # doctest: +SKIP
    >>> sorted(layout.configs())                                                                    # doctest: +SKIP
    ['code', 'default', 'math', 'rejected']
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from nebula_hub.artifacts import CurationOutput, FileEntry, sha256_file
from nebula_hub.errors import NebulaError
from nebula_hub.schema import arrow_schema


LAYOUT_VERSION = 1
COMPRESSION = "zstd"
BATCH_ROWS = 2048
IDS_FILE = "meta/ids.parquet"
REJECTED_PARTITION = "rejected"
REJECTED_SPLIT = "train"
UNLABELED_TASK = "unlabeled"
UNGRADED = "ungraded"
# Length histogram bins (characters) used when stats.json gives none.
DEFAULT_LENGTH_BINS = [0, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768]
RESERVED_CONFIGS = {"default", "rejected"}
_SLUG_RE = re.compile(r"[^a-z0-9_-]+")


def slug(value: str) -> str:
    """A folder- and config-safe name: `"Instruction Following"` -> `"instruction-following"`."""
    return _SLUG_RE.sub("-", value.strip().lower()).strip("-") or "none"


def split_order(split: str) -> tuple[int, str]:
    """Sort key that lists train, validation and test first, then any other split by name."""
    return {"train": 0, "validation": 1, "test": 2}.get(split, 3), split


def task_config_name(task: str) -> str:
    return f"task-{task}" if task in RESERVED_CONFIGS or task.startswith("difficulty-") else task


def difficulty_config_name(level: str) -> str:
    return f"difficulty-{level}"


@dataclass
class ShardFile:
    path: str  # path in the repo, POSIX separators
    rows: int
    bytes: int
    sha256: str


@dataclass
class Partition:
    """A set of rows stored together: one split of one task (and one difficulty bucket for RL)."""

    key: str  # "train/math/easy", "train/code", or "rejected"
    split: str
    task: str | None = None
    difficulty: str | None = None
    configs: list[str] = field(default_factory=list)
    files: list[ShardFile] = field(default_factory=list)
    rows: int = 0
    num_bytes: int = 0  # uncompressed Arrow bytes (`dataset_info.splits[].num_bytes`)

    @property
    def folder(self) -> str:
        return REJECTED_PARTITION if self.key == REJECTED_PARTITION else f"data/{self.key}"

    @property
    def pattern(self) -> str:
        return f"{self.folder}/*.parquet"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Partition:
        data = dict(data)
        data["files"] = [ShardFile(**f) for f in data.get("files", [])]
        return cls(**data)


@dataclass
class Layout:
    """What `build_layout` wrote: partitions (with their shards), configs and the distributions it counted."""

    kind: str
    root: Path
    partitions: list[Partition]
    distributions: dict[str, Any]
    rejected_reasons: dict[str, dict[str, int]]
    ids_file: ShardFile | None = None

    def configs(self) -> dict[str, dict[str, list[Partition]]]:
        """Config name -> split -> the partitions it reads, in a stable order (`default` first, `rejected` last)."""
        return configs_of(self.partitions)

    def files(self) -> list[ShardFile]:
        out = [f for p in self.partitions for f in p.files]
        return out + ([self.ids_file] if self.ids_file else [])

    def to_dict(self) -> dict[str, Any]:
        return {"layout_version": LAYOUT_VERSION, "partitions": [asdict(p) for p in self.partitions]}


def configs_of(partitions: list[Partition]) -> dict[str, dict[str, list[Partition]]]:
    """Group partitions into configs; works on partitions read back from a published manifest too."""
    configs: dict[str, dict[str, list[Partition]]] = {}
    for part in partitions:
        for name in part.configs:
            configs.setdefault(name, {}).setdefault(part.split, []).append(part)

    levels = {"difficulty-easy": 0, "difficulty-medium": 1, "difficulty-hard": 2}

    def order(name: str) -> tuple[int, int, str]:
        rank = 0 if name == "default" else 3 if name == "rejected" else 2 if name.startswith("difficulty-") else 1
        return rank, levels.get(name, 9), name

    return {name: configs[name] for name in sorted(configs, key=order)}


def _leaf_columns(schema: pa.Schema) -> int:
    def leaves(t: pa.DataType) -> int:
        if pa.types.is_struct(t):
            return sum(leaves(t.field(i).type) for i in range(t.num_fields))
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            return leaves(t.value_type)
        return 1

    return sum(leaves(f.type) for f in schema)


class _ShardWriter:
    """Size-bounded Parquet shards for one partition, fed with record batches.

    Written by hand because neither `pyarrow.dataset.write_dataset` nor datatrove's `ParquetWriter` can split
    one stream into many partitions while also bounding the on-disk size of each file and the memory of the buffers.
    """

    def __init__(self, root: Path, part: Partition, schema: pa.Schema, shard_bytes: int, row_group_bytes: int):
        self.root, self.part, self.schema = root, part, schema
        self.shard_bytes, self.row_group_bytes = shard_bytes, row_group_bytes
        self.buffer: list[pa.RecordBatch] = []
        self.buffered = 0
        self.paths: list[Path] = []
        self.rows_per_file: list[int] = []
        self.sink: pa.NativeFile | None = None
        self.writer: pq.ParquetWriter | None = None
        self.ratio = 1.0  # observed on-disk / in-memory bytes, to predict the size of the next row group
        # The footer holds metadata for every column chunk of every row group (~100 bytes each): counted in the
        # size budget, estimated first from the number of leaf columns and then from the files already closed.
        self.footer_per_group = 128.0 * _leaf_columns(schema)
        self.groups = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self.buffer.append(batch)
        self.buffered += batch.nbytes
        self.part.rows += batch.num_rows
        self.part.num_bytes += batch.nbytes
        if self.buffered >= self.row_group_bytes:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        table = pa.Table.from_batches(self.buffer, schema=self.schema)
        expected = self.buffered * self.ratio + self.footer_per_group * (self.groups + 1)
        if self.sink is not None and self.groups and self.sink.tell() + expected > self.shard_bytes:
            self._close_file()
        if self.writer is None:
            path = self.root / self.part.folder / f"part-{len(self.paths):05d}.tmp"
            path.parent.mkdir(parents=True, exist_ok=True)
            self.paths.append(path)
            self.rows_per_file.append(0)
            self.sink = pa.OSFile(str(path), "wb")
            self.writer = pq.ParquetWriter(
                self.sink, self.schema, compression=COMPRESSION, use_content_defined_chunking=True
            )
        before = self.sink.tell()
        self.writer.write_table(table, row_group_size=table.num_rows)
        self.ratio = max(self.sink.tell() - before, 1) / max(self.buffered, 1)
        self.rows_per_file[-1] += table.num_rows
        self.groups += 1
        self.buffer, self.buffered = [], 0
        if self.sink.tell() + self.footer_per_group * self.groups >= self.shard_bytes:
            self._close_file()

    def _close_file(self) -> None:
        if self.writer is not None:
            data_end = self.sink.tell()
            self.writer.close()
            footer = self.sink.tell() - data_end
            self.sink.close()
            self.footer_per_group = max(footer / max(self.groups, 1), 1.0)
            self.writer = self.sink = None
            self.groups = 0

    def close(self) -> None:
        """Flush, close, and give the shards their final `<split>-0000i-of-0000n.parquet` names."""
        self.flush()
        self._close_file()
        total = len(self.paths)
        for i, (tmp, rows) in enumerate(zip(self.paths, self.rows_per_file, strict=True)):
            final = tmp.with_name(f"{self.part.split}-{i:05d}-of-{total:05d}.parquet")
            tmp.replace(final)
            self.part.files.append(
                ShardFile(
                    path=final.relative_to(self.root).as_posix(),
                    rows=rows,
                    bytes=final.stat().st_size,
                    sha256=sha256_file(final),
                )
            )


class _Counts:
    """Distributions counted while streaming (task, difficulty, source, length)."""

    def __init__(self, kind: str, length_bins: list[float]):
        self.kind = kind
        self.bins = np.asarray(length_bins, dtype=np.float64)
        self.task: Counter[str] = Counter()
        self.difficulty: Counter[str] = Counter()
        self.source: Counter[str] = Counter()
        self.split: Counter[str] = Counter()
        self.length = np.zeros(len(self.bins), dtype=np.int64)  # last bin: >= bins[-1]
        self.rejected: dict[str, Counter[str]] = {}

    @staticmethod
    def _count(counter: Counter, arr: pa.Array) -> None:
        for item in pc.value_counts(arr).to_pylist():
            counter[item["values"]] += item["counts"]

    def add(self, split: str, batch: pa.RecordBatch, task: pa.Array, difficulty: pa.Array) -> None:
        self.split[split] += batch.num_rows
        self._count(self.task, task)
        if self.kind == "rl":
            self._count(self.difficulty, difficulty)
        else:
            self._count(self.difficulty, pc.fill_null(pc.struct_field(batch.column("difficulty"), "level"), UNGRADED))
        self._count(self.source, pc.fill_null(pc.struct_field(batch.column("source"), "name"), "unknown"))
        convo = batch.column("messages" if self.kind == "sft" else "prompt")
        flat = pc.list_flatten(convo)
        chars = pc.fill_null(pc.utf8_length(pc.struct_field(flat, "content")), 0).to_numpy(zero_copy_only=False)
        parents = pc.list_parent_indices(convo).to_numpy(zero_copy_only=False)
        per_row = np.bincount(parents, weights=chars, minlength=batch.num_rows)
        idx = np.clip(np.searchsorted(self.bins, per_row, side="right") - 1, 0, len(self.bins) - 1)
        self.length += np.bincount(idx, minlength=len(self.bins))

    def add_rejected(self, batch: pa.RecordBatch) -> None:
        table = pa.table({"stage": batch.column("stage"), "reason": batch.column("reason")})
        for item in table.group_by(["stage", "reason"]).aggregate([([], "count_all")]).to_pylist():
            self.rejected.setdefault(item["stage"], Counter())[item["reason"]] += item["count_all"]

    def to_dict(self) -> dict[str, Any]:
        def ordered(counter: Counter) -> dict[str, int]:
            return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))

        out = {
            "task": ordered(self.task),
            "source": ordered(self.source),
            "split": dict(self.split),
            "length": {"unit": "characters", "bins": [float(b) for b in self.bins], "counts": self.length.tolist()},
        }
        # Difficulty only means something when at least one record was graded.
        if set(self.difficulty) - {UNGRADED}:
            order = {"easy": 0, "medium": 1, "hard": 2}
            out["difficulty"] = dict(sorted(self.difficulty.items(), key=lambda kv: (order.get(kv[0], 9), kv[0])))
        return out


def _length_bins(stats: dict[str, Any]) -> list[float]:
    bins = (stats.get("distributions") or {}).get("length", {}).get("bins")
    if isinstance(bins, list) and len(bins) >= 2 and all(isinstance(b, (int, float)) for b in bins):
        return [float(b) for b in bins]
    return [float(b) for b in DEFAULT_LENGTH_BINS]


def _check_schema(path: Path, actual: pa.Schema, expected: pa.Schema) -> pa.Schema | None:
    """None if `actual` is `expected`; `expected` if the batches need a cast; raise if the columns differ."""
    if actual.equals(expected, check_metadata=False):
        return None
    missing = [n for n in expected.names if n not in actual.names]
    extra = [n for n in actual.names if n not in expected.names]
    if missing or extra:
        raise NebulaError(
            f"{str(path)!r} does not have the record schema: missing columns {missing}, unexpected columns {extra}",
            hint="write curated files with nebula_hub.schema.to_table (the schema is in nebula_hub/schema.py)",
        )
    return expected


def _iter_batches(root: Path, entries: list[FileEntry], schema: pa.Schema, batch_rows: int = BATCH_ROWS):
    for entry in entries:
        path = root / entry.path
        pf = pq.ParquetFile(path)
        if pf.metadata.num_rows != entry.rows:
            raise NebulaError(
                f"{str(path)!r} holds {pf.metadata.num_rows} rows but the manifest says {entry.rows}",
                hint="rerun the curation instead of editing its output by hand",
            )
        cast_to = _check_schema(path, pf.schema_arrow, schema)
        for batch in pf.iter_batches(batch_size=batch_rows):
            if cast_to is not None:
                try:
                    batch = batch.select(schema.names).cast(cast_to)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
                    raise NebulaError(
                        f"{str(path)!r}: a column cannot be converted to the record schema: {err}",
                        hint="write curated files with nebula_hub.schema.to_table",
                    ) from None
            yield batch


def build_layout(
    output: CurationOutput,
    staging: str | Path,
    shard_bytes: int = 256 << 20,
    buffer_bytes: int = 128 << 20,
    batch_rows: int = BATCH_ROWS,
    progress: bool = True,
) -> Layout:
    """Stream a curation output into the repo layout under `staging` (which must be empty or absent).

    Args:
        output (`CurationOutput`): the curation output folder (its files are read, never modified).
        staging (`str` or `Path`): where to write the layout (mirrors the repo).
        shard_bytes (`int`, *optional*, defaults to 256 MiB): the size at which a shard is closed.
        buffer_bytes (`int`, *optional*, defaults to 128 MiB): the most rows (in Arrow bytes) held across partitions.
        batch_rows (`int`, *optional*, defaults to 2048): rows read from the input per record batch.
        progress (`bool`, *optional*, defaults to `True`): show a tqdm bar.

    Example:
        >>> layout = build_layout(CurationOutput("outputs/rl"), "/tmp/stage", shard_bytes=64 << 20)  # doctest: +SKIP
        >>> [p.key for p in layout.partitions]                                                      # doctest: +SKIP
        ['train/math/easy', 'train/math/hard', 'rejected']
    """
    root = Path(staging)
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise NebulaError(f"staging folder {str(root)!r} is not empty", hint="remove it, or pick another folder")
    kind = output.kind
    if kind not in ("sft", "rl"):
        raise NebulaError(f"{str(output.root / 'manifest.json')!r}: kind {kind!r} is not 'sft' or 'rl'")
    schema = arrow_schema(kind)
    rejected_schema = arrow_schema("rejected")
    row_group_bytes = max(min(shard_bytes // 4, 32 << 20), 1)
    counts = _Counts(kind, _length_bins(output.stats))
    partitions: dict[str, Partition] = {}
    writers: dict[str, _ShardWriter] = {}
    ids_path = root / IDS_FILE
    ids_path.parent.mkdir(parents=True, exist_ok=True)
    ids_schema = pa.schema([("id", pa.string()), ("partition", pa.string())])
    ids_writer = pq.ParquetWriter(str(ids_path), ids_schema, compression=COMPRESSION)
    ids_buffer: list[pa.RecordBatch] = []

    def writer_for(key: str, split: str, task: str | None, difficulty: str | None) -> _ShardWriter:
        if key not in writers:
            if key == REJECTED_PARTITION:
                configs = ["rejected"]
            else:
                configs = ["default"]
                if task != UNLABELED_TASK:
                    configs.append(task_config_name(task))
                if difficulty not in (None, UNGRADED):
                    configs.append(difficulty_config_name(difficulty))
            part = Partition(key=key, split=split, task=task, difficulty=difficulty, configs=configs)
            partitions[key] = part
            writers[key] = _ShardWriter(
                root, part, rejected_schema if key == REJECTED_PARTITION else schema, shard_bytes, row_group_bytes
            )
        return writers[key]

    def add_ids(ids: pa.Array, key: str) -> None:
        ids_buffer.append(pa.record_batch([ids, pa.array([key] * len(ids), pa.string())], schema=ids_schema))
        if sum(b.num_rows for b in ids_buffer) >= 65536:
            ids_writer.write_table(pa.Table.from_batches(ids_buffer, schema=ids_schema))
            ids_buffer.clear()

    def cap_buffers() -> None:
        while sum(w.buffered for w in writers.values()) > buffer_bytes:
            max(writers.values(), key=lambda w: w.buffered).flush()

    m = output.manifest
    total = sum(f.rows for f in m.files) + sum(f.rows for f in m.rejected_files)
    bar = tqdm(total=total, unit="rows", desc="writing shards", disable=not progress)
    try:
        splits = m.splits()
        for split in sorted(splits, key=split_order):
            entries = splits[split]
            split_slug = slug(split)
            for batch in _iter_batches(output.root, entries, schema, batch_rows):
                if kind == "sft":
                    task = pc.struct_field(batch.column("task"), "label")
                    difficulty = None
                else:
                    task = batch.column("task")
                    difficulty = pc.fill_null(batch.column("difficulty"), UNGRADED)
                task = pc.fill_null(task, UNLABELED_TASK)
                counts.add(split, batch, task, difficulty)
                keys = task if difficulty is None else pc.binary_join_element_wise(task, difficulty, "\x00")
                for key_value in pc.unique(keys).to_pylist():
                    sub = batch.filter(pc.equal(keys, key_value))
                    t, _, d = key_value.partition("\x00")
                    t_slug, d_slug = slug(t), (slug(d) if difficulty is not None else None)
                    key = "/".join(x for x in (split_slug, t_slug, d_slug) if x)
                    writer_for(key, split, t_slug, d_slug).add(sub)
                    add_ids(sub.column("id"), key)
                cap_buffers()
                bar.update(batch.num_rows)
        for batch in _iter_batches(output.root, m.rejected_files, rejected_schema, batch_rows):
            counts.add_rejected(batch)
            writer_for(REJECTED_PARTITION, REJECTED_SPLIT, None, None).add(batch)
            add_ids(batch.column("id"), REJECTED_PARTITION)
            cap_buffers()
            bar.update(batch.num_rows)
        for writer in writers.values():
            writer.close()
        if ids_buffer:
            ids_writer.write_table(pa.Table.from_batches(ids_buffer, schema=ids_schema))
    finally:
        bar.close()
        ids_writer.close()
    order = sorted(partitions.values(), key=lambda p: (p.key == REJECTED_PARTITION, split_order(p.split), p.key))
    ids_file = ShardFile(
        path=IDS_FILE,
        rows=pq.ParquetFile(ids_path).metadata.num_rows,
        bytes=ids_path.stat().st_size,
        sha256=sha256_file(ids_path),
    )
    return Layout(
        kind=kind,
        root=root,
        partitions=order,
        distributions=counts.to_dict(),
        rejected_reasons={stage: dict(c.most_common()) for stage, c in counts.rejected.items()},
        ids_file=ids_file,
    )
