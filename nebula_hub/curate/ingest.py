"""Ingest: read every source (local JSONL/Parquet, Hub datasets) into pipeline documents, rejecting bad rows.

Written by hand rather than with datatrove's `JsonlReader`/`ParquetReader`/`HuggingFaceDatasetReader` because those
skip an unparsable line with a log message, and here every bad row (broken JSON, non-UTF-8 bytes, a row over
`max_record_bytes`, a missing or mistyped field) must reach `rejected/` with its file, line and reason. Rows are
sharded over ranks by their global position (`index % world_size == rank`), so any number of tasks works whatever
the number of files.

Example:
    >>> from nebula_hub.curate.sft_config import SourceConfig
    >>> reader = SourceReader([SourceConfig(name="demo", path="pipelines/sources/chat_sharegpt.jsonl")])
    >>> doc = next(iter(reader.run(None, rank=0, world_size=1)))                    # doctest: +SKIP
    >>> doc.metadata["source"]["name"]                                              # doctest: +SKIP
    'demo'
"""

import glob
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from nebula_hub.curate.document import make_document
from nebula_hub.curate.formats import FormatError, row_to_conversation
from nebula_hub.curate.rejected import MAX_PREVIEW_CHARS
from nebula_hub.errors import NebulaError


STAGE = "ingest"


def source_files(path: str) -> list[Path]:
    """The data files a source `path` names: a file, a folder (its *.jsonl/*.jsonl.gz/*.parquet), or a glob."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = [f for pattern in ("*.jsonl", "*.jsonl.gz", "*.json", "*.parquet") for f in p.rglob(pattern)]
    else:
        files = [Path(f) for f in glob.glob(path, recursive=True)]
    if not files:
        raise NebulaError(f"source path {path!r} matches no file", hint="check the path (relative to the config file)")
    return sorted(files)


class SourceReader(PipelineStep):
    """Reads sources into documents (`nebula_hub.curate.document` layout); bad rows go to `exclusion_writer`.

    Args:
        sources (`list`): `SourceConfig` objects (name, path or repo/config/split/revision, format, fields, license).
        max_record_bytes (`int`, *optional*, defaults to 1,000,000): larger rows are rejected unparsed.
        exclusion_writer (`DiskWriter`, *optional*): receives rejected rows (`RejectedWriter(work, "ingest")`).
    """

    type = "📖 - READER"
    name = "🧾 Sources"

    def __init__(self, sources: list, max_record_bytes: int = 1_000_000, exclusion_writer=None):
        super().__init__()
        self.sources = sources
        self.max_record_bytes = max_record_bytes
        self.exclusion_writer = exclusion_writer

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        writer = self.exclusion_writer
        with writer if writer else _Null() as excl:
            index = -1
            for source in self.sources:
                for item in self._rows(source):
                    index += 1
                    if index % world_size != rank:
                        continue
                    with self.track_time():
                        doc = self._to_document(source, item)
                    self.stat_update("rows", f"rows_{source.name}")
                    if doc.metadata.get("filter_reason"):
                        self.stat_update("dropped", f"dropped_{doc.metadata['filter_reason']}")
                        if writer:
                            excl.write(doc, rank)
                        continue
                    self.stat_update("forwarded")
                    yield doc

    # -- reading ----------------------------------------------------------------------------------------------
    def _rows(self, source) -> Iterator[tuple[str, int, Any, str | None]]:
        """Yields (where, position, parsed row or None, error reason or None) for every row of a source."""
        if source.repo:
            yield from self._hub_rows(source)
            return
        count = 0
        for path in source_files(source.path):
            rows = self._parquet_rows(path) if path.suffix == ".parquet" else self._jsonl_rows(path)
            for item in rows:
                if 0 <= source.limit <= count:
                    return
                count += 1
                yield item

    def _jsonl_rows(self, path: Path):
        import gzip

        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                where = f"{path.name}:{lineno}"
                if not raw.strip():
                    continue
                if len(raw) > self.max_record_bytes:
                    yield (
                        where,
                        lineno,
                        _Raw(raw[:MAX_PREVIEW_CHARS]),
                        ("record_too_large", f"{len(raw):,} bytes > max_record_bytes={self.max_record_bytes:,}"),
                    )
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    yield (
                        where,
                        lineno,
                        _Raw(raw[:MAX_PREVIEW_CHARS]),
                        (
                            "invalid_utf8",
                            f"byte {raw[err.start : err.start + 1]!r} at offset {err.start} is not UTF-8",
                        ),
                    )
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as err:
                    yield (
                        where,
                        lineno,
                        _Raw(raw[:MAX_PREVIEW_CHARS]),
                        ("invalid_json", f"{err.msg} at column {err.colno}"),
                    )
                    continue
                yield where, lineno, row, None

    def _parquet_rows(self, path: Path):
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except Exception as err:  # pyarrow raises several unrelated types for a corrupt file
            raise NebulaError(
                f"source file {str(path)!r} is not a readable Parquet file: {err}",
                hint="rewrite the file, or remove it from the source's path",
            ) from None
        position = 0
        for batch in pf.iter_batches(batch_size=1000):
            for row in batch.to_pylist():
                position += 1
                yield f"{path.name}:row{position}", position, row, None

    def _hub_rows(self, source):
        from datasets import load_dataset

        try:
            ds = load_dataset(source.repo, source.config, split=source.split, revision=source.revision)
        except Exception as err:  # datasets raises many types (missing repo, config, split, offline)
            raise NebulaError(
                f"source {source.name!r}: cannot load Hub dataset {source.repo!r} "
                f"(config={source.config!r}, split={source.split!r}, revision={source.revision!r}): {err}",
                hint="check the repo id, config, split and revision, and HF_ENDPOINT/HF_TOKEN",
            ) from None
        for position, row in enumerate(ds):
            if 0 <= source.limit <= position:
                return
            yield f"{source.repo}:{source.split}:{position}", position, row, None

    # -- converting -------------------------------------------------------------------------------------------
    def _to_document(self, source, item) -> Document:
        where, position, row, error = item
        src = {"name": source.name, "original_id": where, "license": source.license}
        if error is None:
            try:
                conv = row_to_conversation(row, source.format, source.fields)
            except FormatError as err:
                error = (err.reason, str(err))
            else:
                src["original_id"] = conv.original_id or where
                src["license"] = conv.license or source.license
                meta = {"format": conv.format, "location": where}
                return make_document(conv.messages, src, conv.reference, meta)
        reason, detail = error
        preview = (
            row.text if isinstance(row, _Raw) else json.dumps(row, ensure_ascii=False, default=str)[:MAX_PREVIEW_CHARS]
        )
        doc_id = hashlib.sha256(f"{source.name}:{where}".encode()).hexdigest()[:16]
        doc = Document(text=preview, id=doc_id, metadata={"source": src, "meta": {"location": where}})
        doc.metadata["filter_reason"] = reason
        doc.metadata["rejection_detail"] = f"{source.name} {where}: {detail}"
        return doc


class _Raw:
    """Undecodable bytes kept as a readable preview."""

    def __init__(self, raw: bytes):
        self.text = raw.decode("utf-8", errors="replace")


class _Null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
