"""Response distillation: N teacher samples per selected record, as candidates competing with the source's response.

An annotator: it sets `doc.metadata["candidates"]` (the source's own final assistant turn first, then the teacher's
samples with their finish reason and token counts) and `doc.metadata["teacher_provenance"]` (model, revision,
backend, sampling parameters), and yields every document; `CrossVerifyFilter` decides which candidate is kept.
Selection is deterministic: records whose task is in `tasks` and whose id hashes below `fraction`.
Generation goes through `nebula_hub.generate` with a per-task cache, so a killed task resumes from its saved samples.

Example:
    >>> from nebula_hub.curate.sft_config import ModelConfig
    >>> step = ResponseDistiller(ModelConfig(model="tiny", n=2, max_tokens=16), tasks=["math"])
    >>> docs = list(step.run(docs_with_task_labels))                              # doctest: +SKIP
    >>> [c["origin"] for c in docs[0].metadata["candidates"]]                    # doctest: +SKIP
    ['source', 'teacher', 'teacher']
"""

import hashlib

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.batching import batched

from nebula_hub.curate.document import last_assistant, prompt_messages


def selected(doc_id: str, fraction: float) -> bool:
    """Deterministic id-hash selection of a `fraction` of records."""
    if fraction >= 1.0:
        return True
    bucket = int(hashlib.sha256(doc_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return bucket < fraction


class ResponseDistiller(PipelineStep):
    """Adds teacher samples as response candidates (see the module doc).

    Args:
        teacher (`ModelConfig`): model, backend and sampling (n, temperature, top_p, max_tokens, seed, thinking).
        tasks (`list[str]`, *optional*): task labels to distill; defaults to all.
        fraction (`float`, *optional*, defaults to 1.0): share of the selected tasks' records to distill.
        cache_dir (`str`, *optional*): per-task generation cache (resume inside a task).
        batch_size (`int`, *optional*, defaults to 64): records per generation call.
    """

    type = "🤖 - DISTILL"
    name = "🧪 Teacher responses"

    def __init__(self, teacher, tasks=None, fraction: float = 1.0, cache_dir: str | None = None, batch_size: int = 64):
        super().__init__()
        self.teacher = teacher
        self.tasks = set(tasks) if tasks else None
        self.fraction = fraction
        self.cache_dir = cache_dir
        self.batch_size = batch_size

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        from nebula_hub.curate.generation import CachedGenerator

        generator = CachedGenerator(self.teacher, self.cache_dir, rank)
        try:
            for batch in batched(data, self.batch_size):
                chosen = []
                for doc in batch:
                    source = last_assistant(doc.metadata["messages"])
                    doc.metadata["candidates"] = [{"origin": "source", "text": source, "finish_reason": None}]
                    label = (doc.metadata.get("task") or {}).get("label")
                    if (self.tasks is None or label in self.tasks) and selected(doc.id, self.fraction):
                        chosen.append(doc)
                if chosen:
                    with self.track_time(unit="batch"):
                        samples = generator.generate([prompt_messages(d.metadata["messages"]) for d in chosen])
                    provenance = generator.provenance()
                    for doc, outs in zip(chosen, samples, strict=False):
                        doc.metadata["teacher_provenance"] = provenance
                        for j, out in enumerate(outs):
                            doc.metadata["candidates"].append(
                                {
                                    "origin": "teacher",
                                    "index": j,
                                    "text": out["text"],
                                    "finish_reason": out["finish_reason"],
                                    "completion_tokens": out["completion_tokens"],
                                }
                            )
                        self.stat_update("distilled")
                        self.stat_update("teacher_samples", value=len(outs))
                for doc in batch:
                    yield doc
        finally:
            generator.close()
