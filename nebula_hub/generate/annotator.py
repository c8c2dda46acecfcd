"""A datatrove step that generates completions for each document in-process (the transformers backend, or any).

The prompt is `doc.metadata[messages_key]` (a list of messages) when present, else `doc.text` as one user message;
the step writes `doc.metadata[metadata_key]`, a list of `n` completion dicts, and yields every document.
With `checkpoints_dir`, each finished document is appended to `<checkpoints_dir>/<rank>.jsonl` at once, so a rerun
after a crash (datatrove reruns unfinished ranks from the start) regenerates nothing already saved.

Not `InferenceRunner`: it drives an HTTP server one request per rollout, while the transformers backend runs in this
process and gets its speed from batching many prompts into one `generate` call. For vllm/openai servers at cluster
scale use `build_inference_runner` (nebula_hub/generate/inference.py), which is datatrove's `InferenceRunner`.

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    step = GenerationAnnotator(BackendConfig(model="path/to/model"), SamplingSettings(n=4, seed=0),
                               checkpoints_dir="out/generation_checkpoints")
    LocalPipelineExecutor([JsonlReader("in/"), step, JsonlWriter("out/")], tasks=4, logging_dir="out/logs").run()
"""

from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from nebula_hub.generate.base import Conversation, GenerationProgress, get_backend, normalize_conversations
from nebula_hub.generate.cache import ResultCache
from nebula_hub.generate.settings import BackendConfig, Completion, SamplingSettings, request_fingerprint


def document_conversation(doc: Document, messages_key: str = "messages") -> Conversation:
    """The conversation to continue for a document: `doc.metadata[messages_key]`, else `doc.text` as a user turn.

    Example:
        >>> document_conversation(Document(text="2+2?", id="0"))
        [{'role': 'user', 'content': '2+2?'}]
    """
    messages = doc.metadata.get(messages_key)
    return normalize_conversations([doc.text if messages is None else messages], source=f"document {doc.id!r}")[0]


def _batched(items: Iterable[Document], size: int) -> Iterator[list[Document]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class GenerationAnnotator(PipelineStep):
    """Adds `n` completions per document under `doc.metadata[metadata_key]`; resumable with `checkpoints_dir`.

    Args:
        backend (`BackendConfig`): built lazily in each task (only if something is left to generate).
        settings (`SamplingSettings`): how to sample.
        metadata_key (`str`, *optional*, defaults to `"completions"`): where the list of completion dicts goes.
        messages_key (`str`, *optional*, defaults to `"messages"`): metadata field holding the conversation.
        documents_per_call (`int`, *optional*, defaults to `64`): documents handed to the backend at once (the
            backend batches inside; this bounds memory and how much a crash can cost without checkpoints).
        checkpoints_dir (`str`, *optional*): local folder for per-rank saved generations.

    Example:
        >>> step = GenerationAnnotator(BackendConfig(model=str(build_tiny_model())), SamplingSettings(n=2, max_tokens=8))
        >>> docs = list(step.run([Document(text="hi", id="a")]))
        >>> len(docs[0].metadata["completions"])
        2
    """

    name = "🤖 Generate"
    type = "Model call"

    def __init__(
        self,
        backend: BackendConfig,
        settings: SamplingSettings,
        metadata_key: str = "completions",
        messages_key: str = "messages",
        documents_per_call: int = 64,
        checkpoints_dir: str | None = None,
    ):
        super().__init__()
        self.backend_config = backend
        self.settings = settings
        self.metadata_key = metadata_key
        self.messages_key = messages_key
        self.documents_per_call = documents_per_call
        self.checkpoints_dir = checkpoints_dir

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        cache = ResultCache(Path(self.checkpoints_dir) / f"{rank:05d}.jsonl") if self.checkpoints_dir else None
        backend = None
        bar = GenerationProgress(total=None, desc=f"generate (rank {rank})")
        try:
            for batch in _batched(data, self.documents_per_call):
                conversations = [document_conversation(doc, self.messages_key) for doc in batch]
                keys = [
                    request_fingerprint(c, self.settings, self.backend_config.model, self.backend_config.revision)
                    for c in conversations
                ]
                saved: dict[str, list[Completion]] = {}
                if cache is not None:
                    saved.update({key: cache.get(key) for key in keys if key in cache})
                todo = [k for k, key in enumerate(keys) if key not in saved]
                if todo:
                    if backend is None:
                        with self.track_time(unit="load"):
                            backend = get_backend(self.backend_config)

                    def save(
                        index: int, completions: list[Completion], todo=todo, batch=batch, keys=keys, saved=saved
                    ) -> None:
                        position = todo[index]
                        saved[keys[position]] = completions
                        if cache is not None:
                            cache.put(keys[position], completions, id=str(batch[position].id))

                    with self.track_time(unit="batch"):
                        backend.generate(
                            [conversations[k] for k in todo], self.settings, progress=False, on_result=save
                        )
                fresh = set(todo)
                for k, doc in enumerate(batch):
                    completions = saved[keys[k]]
                    doc.metadata[self.metadata_key] = [c.as_dict() for c in completions]
                    tokens = sum(c.completion_tokens for c in completions)
                    if k in fresh:
                        self.stat_update("generated")
                        self.stat_update("completion_tokens", value=tokens)
                        bar.update(len(completions), tokens)
                    else:
                        self.stat_update("reused")
                    self.update_doc_stats(doc)
                    yield doc
        finally:
            bar.close()
            if backend is not None:
                backend.close()
            if cache is not None:
                cache.close()
