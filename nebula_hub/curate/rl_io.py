"""The RL pool's curated-record writer: one `RL_FEATURES` row per candidate document.

A datatrove `ParquetWriter` with the schema's exact Arrow type, so `datasets.load_dataset("parquet", ...)` restores
the features and `publish` reads the files without conversion. Rejected documents go through the SFT pipeline's
`nebula_hub.curate.rejected.RejectedWriter` (same rows, same place), so both pipelines report drops alike.

    writer = RLRecordWriter(out / "data" / "train")
"""

from datatrove.data import Document
from datatrove.pipeline.writers.parquet import ParquetWriter

from nebula_hub.curate.rl_candidates import rl_row
from nebula_hub.schema import RLRecord, arrow_schema


class RLRecordWriter(ParquetWriter):
    """Write each candidate document as one `RL_FEATURES` row (validated by `RLRecord` on the way)."""

    name = "RL pool Parquet"

    def __init__(self, output_folder, output_filename: str = "${rank}.parquet"):
        super().__init__(output_folder, output_filename=output_filename, schema=arrow_schema("rl"), batch_size=256)

    def _default_adapter(self, document: Document) -> dict:
        return RLRecord.validate_dict(rl_row(document), where=f"document {document.id}").to_row()
