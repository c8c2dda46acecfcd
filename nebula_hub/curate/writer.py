"""The curated-record writer: datatrove's `ParquetWriter` with the exact `SFT_FEATURES` schema, one folder per split.

`data/<split>/<rank>.parquet` (split from `metadata["split"]`, set by the sampler), so `datasets.load_dataset` and
`nebula_hub.schema.SFTRecord.from_row` read the files back with the shared schema.

Example:
    >>> writer = CuratedWriter("outputs/sft/data")                                  # doctest: +SKIP
"""

from datatrove.data import Document
from datatrove.pipeline.writers.parquet import ParquetWriter

from nebula_hub.curate.document import sft_row
from nebula_hub.schema import SFTRecord, arrow_schema


class CuratedWriter(ParquetWriter):
    """Writes each document as an `SFTRecord` row (validated) under `<folder>/<split>/<rank>.parquet`."""

    name = "💾 Curated SFT"

    def __init__(self, output_folder: str):
        super().__init__(
            output_folder,
            output_filename="${split}/${rank}.parquet",
            schema=arrow_schema("sft"),
            max_file_size=-1,
            use_content_defined_chunking=False,
        )

    def _default_adapter(self, document: Document) -> dict:
        return SFTRecord.validate_dict(sft_row(document), where="curated record").to_row()
