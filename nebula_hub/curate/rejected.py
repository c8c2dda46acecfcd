"""The exclusion writer every curation stage hands its dropped documents to: nothing disappears silently.

Each stage gets its own `RejectedWriter(work_dir, stage="normalize")`; a rejected document becomes one row of
`nebula_hub.schema.RejectedRecord` (id, stage, reason, detail, source, record) in
`<work_dir>/rejected/<stage>[/<part>]/<rank>.jsonl.gz`. The reason is datatrove's `metadata["filter_reason"]` (set by
`BaseFilter` from a `(False, reason)` result), or the writer's `default_reason` for steps that drop without one
(datatrove's dedup filters). The finalize stage turns these files into `rejected/*.parquet`.

Example:
    >>> from nebula_hub.curate.normalize import NormalizeFilter
    >>> step = NormalizeFilter(exclusion_writer=RejectedWriter("/tmp/work", stage="normalize"))  # doctest: +SKIP
"""

import json
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.writers.jsonl import JsonlWriter


# Raw previews of unparsable input are cut here so a 50 MB broken line does not become a 50 MB rejected row.
MAX_PREVIEW_CHARS = 2000


def rejected_row(doc: Document, stage: str, default_reason: str = "rejected") -> dict:
    """A `RejectedRecord` dict for a dropped document (its whole metadata kept as the record)."""
    md = dict(doc.metadata)
    reason = md.pop("filter_reason", None) or default_reason
    detail = md.pop("rejection_detail", "") or ""
    source = (md.get("source") or {}).get("name")
    record = {"id": doc.id, "text": doc.text[:MAX_PREVIEW_CHARS], **md}
    return {
        "id": doc.id,
        "stage": stage,
        "reason": reason,
        "detail": str(detail),
        "source": source,
        "record": json.dumps(record, ensure_ascii=False, sort_keys=True, default=str),
    }


class RejectedWriter(JsonlWriter):
    """A datatrove `JsonlWriter` that writes `RejectedRecord` rows for one stage."""

    name = "🗑 Rejected"

    def __init__(self, work_dir: str | Path, stage: str, default_reason: str = "rejected", part: str | None = None):
        self.stage = stage
        self.default_reason = default_reason
        folder = Path(work_dir) / "rejected" / stage
        super().__init__(
            str(folder / part if part else folder),
            output_filename="${rank}.jsonl.gz",
            compression="gzip",
        )

    def _default_adapter(self, document: Document) -> dict:
        return rejected_row(document, self.stage, self.default_reason)
