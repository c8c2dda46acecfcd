"""Cluster-scale generation through datatrove's `InferenceRunner`, for the vllm and openai backends.

`InferenceRunner` gives us per-task `vllm serve` start-up (with tensor parallelism), chunked checkpoints and a request
cache (a rerun skips finished documents and replays finished requests), metrics and stats. We add two things:
`CompletionRollout`, the `rollout_fn` that maps `SamplingSettings` onto requests and returns completion dicts, and a
request path through `create_with_retries` (429/5xx/timeout retries with backoff, request ids in logs, the API key
read from the environment and never put in the pipeline config that datatrove serialises).

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    runner = build_inference_runner(
        BackendConfig(backend="openai", model="Qwen/Qwen3-8B", base_url="http://10.0.0.5:8000/v1"),
        SamplingSettings(n=4, temperature=0.6, seed=0),
        output_writer=JsonlWriter("out/", output_filename="${rank}_chunk_${chunk_index}.jsonl"),
        checkpoints_local_dir="out/checkpoints",
    )
    LocalPipelineExecutor([JsonlReader("in/"), runner], tasks=8, logging_dir="out/logs").run()
"""

import dataclasses
import uuid
from typing import Any

import httpx
from datatrove.pipeline.inference.run_inference import InferenceConfig, InferenceRunner
from datatrove.pipeline.inference.servers import EndpointServer, InferenceServer, VLLMServer
from datatrove.pipeline.inference.types import InferenceError, ServerError
from datatrove.pipeline.writers.disk_base import DiskWriter

from nebula_hub.errors import NebulaError
from nebula_hub.generate.annotator import document_conversation
from nebula_hub.generate.openai_backend import (
    RequestFailed,
    chat_request,
    create_with_retries,
    display_url,
    make_client,
)
from nebula_hub.generate.settings import BackendConfig, SamplingSettings
from nebula_hub.generate.vllm_backend import import_vllm


class CompletionRollout:
    """The `rollout_fn`: one request per rollout (rollout `j` uses seed `seed + j`), returning a completion dict.

    Example:
        >>> rollout = CompletionRollout(SamplingSettings(n=2, max_tokens=16, seed=0))
        >>> # InferenceRunner calls: await rollout(document, generate) -> {"text", "finish_reason", ...}
    """

    def __init__(self, settings: SamplingSettings, messages_key: str = "messages"):
        self.settings = settings
        self.messages_key = messages_key
        self._started: dict[str, int] = {}

    async def __call__(self, document, generate, **shared_context) -> dict[str, Any]:
        # InferenceRunner starts a document's rollouts as tasks in rollout order and asyncio runs new tasks FIFO, so
        # counting calls per document here (before the first await) recovers the rollout index it does not pass us.
        doc_id = str(document.id)
        index = self._started.get(doc_id, 0)
        self._started[doc_id] = index + 1
        if index + 1 >= self.settings.n:
            self._started.pop(doc_id, None)
        request = chat_request(document_conversation(document, self.messages_key), self.settings, index, model="")
        del request["model"]  # InferenceRunner sets it
        result = await generate(request)
        usage = result.usage or {}
        completion = {
            "text": result.text,
            "finish_reason": result.finish_reason,
            "prompt_tokens": int(usage.get("prompt_tokens", 0)),
            "completion_tokens": int(usage.get("completion_tokens", 0)),
        }
        if result.reasoning:
            completion["reasoning"] = result.reasoning
        return completion


def inference_config(backend: BackendConfig, settings: SamplingSettings) -> InferenceConfig:
    """datatrove's `InferenceConfig` for a vllm or openai `BackendConfig` (no API key in it: it is serialised).

    Example:
        >>> cfg = inference_config(BackendConfig(backend="vllm", model="m", tensor_parallel_size=4), SamplingSettings(n=8))
        >>> cfg.server_type, cfg.tp, cfg.rollouts_per_document, cfg.model_kwargs["enable-prefix-caching"]
        ('vllm', 4, 8, True)
    """
    common = dict(
        model_name_or_path=backend.model,
        use_chat=True,
        rollouts_per_document=settings.n,
        max_concurrent_generations=backend.max_concurrency,
        request_timeout=backend.timeout,
    )
    if backend.backend == "openai":
        return InferenceConfig(server_type="endpoint", endpoint_url=backend.base_url, api_key=None, **common)
    if backend.backend == "vllm":
        model_kwargs: dict[str, Any] = {
            "enable-prefix-caching": backend.enable_prefix_caching,
            "dtype": backend.dtype,
            "gpu-memory-utilization": backend.gpu_memory_utilization,
        }
        if backend.revision:
            model_kwargs["revision"] = backend.revision
        model_kwargs.update({k.replace("_", "-"): v for k, v in backend.engine_kwargs.items()})
        return InferenceConfig(
            server_type="vllm",
            tp=backend.tensor_parallel_size,
            model_max_context=backend.max_model_len or 8192,
            model_kwargs=model_kwargs,
            **common,
        )
    raise NebulaError(
        f"build_inference_runner: backend {backend.backend!r} has no server to drive",
        hint="for the in-process transformers backend use nebula_hub.generate.GenerationAnnotator",
    )


class _RetryingRequests:
    """Sends InferenceRunner's requests through `create_with_retries` and maps failures onto datatrove's errors."""

    backend_config: BackendConfig
    _client = None

    def _openai_base_url(self) -> str:
        raise NotImplementedError

    async def _make_request(self, payload: dict) -> dict:
        if self._client is None:
            config = dataclasses.replace(self.backend_config, base_url=self._openai_base_url())
            self._config_for_requests = config
            self._client = make_client(config)
        request_id = f"nebula-{uuid.uuid4().hex[:12]}"
        try:
            response = await create_with_retries(
                self._client, dict(payload), self._config_for_requests, request_id, "datatrove rollout"
            )
        except RequestFailed as err:
            where = f"request {request_id} to {display_url(self._openai_base_url())}"
            if err.retryable:
                # ServerError stops the task at once; finished documents are already in the checkpoints.
                raise ServerError(f"{where} failed after {err.attempts} attempts: {err.detail}") from err
            # "BadRequestError" lets InferenceRunner(skip_bad_requests=True) skip just this document.
            raise InferenceError(None, f"BadRequestError: {where} was rejected: {err.detail}") from err
        choice = response.choices[0]
        extra = choice.message.model_extra or {}
        usage = response.usage
        return {
            "choices": [
                {
                    "message": {
                        "content": choice.message.content or "",
                        "reasoning_content": extra.get("reasoning_content") or extra.get("reasoning") or "",
                    },
                    "finish_reason": choice.finish_reason or "stop",
                }
            ],
            "usage": {
                "prompt_tokens": usage.prompt_tokens if usage else 0,
                "completion_tokens": usage.completion_tokens if usage else 0,
                "total_tokens": usage.total_tokens if usage else 0,
            },
        }

    async def server_cleanup(self) -> None:
        await super().server_cleanup()
        if self._client is not None:
            await self._client.close()
            self._client = None


class _Endpoint(_RetryingRequests, EndpointServer):
    def __init__(self, config: InferenceConfig, rank: int, backend_config: BackendConfig):
        # Skip EndpointServer.__init__: it builds its own client (with the key in the config) and no retries on
        # localhost; ours is built on first use from the environment.
        InferenceServer.__init__(self, config, rank)
        self.endpoint_url = backend_config.base_url
        self.backend_config = backend_config

    def _openai_base_url(self) -> str:
        return self.endpoint_url.rstrip("/")

    async def is_ready(self) -> bool:
        # EndpointServer polls `<url>/v1/models`, wrong for a base URL that already ends in /v1.
        try:
            async with httpx.AsyncClient() as client:
                response = await client.get(f"{self._openai_base_url()}/models", timeout=5.0)
            return response.status_code < 500
        except httpx.HTTPError:
            return False


class _VLLM(_RetryingRequests, VLLMServer):
    def __init__(self, config: InferenceConfig, rank: int, backend_config: BackendConfig):
        super().__init__(config, rank)
        self.backend_config = backend_config

    def _openai_base_url(self) -> str:
        return f"{self.get_base_url()}/v1"


class NebulaInferenceRunner(InferenceRunner):
    """datatrove's `InferenceRunner` whose server sends requests through nebula-hub's retrying OpenAI client."""

    def __init__(self, backend: BackendConfig, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.backend_config = backend

    def _init_server(self, rank: int):
        if self.backend_config.backend == "openai":
            return _Endpoint(self.config, rank, self.backend_config)
        return _VLLM(self.config, rank, self.backend_config)


def build_inference_runner(
    backend: BackendConfig,
    settings: SamplingSettings,
    output_writer: DiskWriter,
    checkpoints_local_dir: str | None = None,
    metadata_key: str = "completions",
    messages_key: str = "messages",
    records_per_chunk: int = 6000,
    skip_bad_requests: bool = False,
) -> NebulaInferenceRunner:
    """An `InferenceRunner` step that writes `n` completion dicts per document to `doc.metadata[metadata_key]`.

    Args:
        backend (`BackendConfig`): `vllm` (starts `vllm serve` per task, tensor parallelism and prefix caching
            passed through) or `openai` (an existing server at `base_url`).
        settings (`SamplingSettings`): how to sample; `n` becomes `rollouts_per_document`. Per-token logprobs are
            not available on this path (datatrove's `InferenceResult` carries text, finish reason and usage).
        output_writer (`DiskWriter`): its filename must contain `${chunk_index}` when checkpointing.
        checkpoints_local_dir (`str`, *optional*): enables resuming: a rerun skips saved documents and replays
            saved requests.
        metadata_key, messages_key, records_per_chunk, skip_bad_requests: as in `InferenceRunner`.

    Example:
        >>> from datatrove.pipeline.writers import JsonlWriter
        >>> runner = build_inference_runner(
        ...     BackendConfig(backend="openai", model="m", base_url="http://127.0.0.1:8000/v1"),
        ...     SamplingSettings(n=2), JsonlWriter("out/", output_filename="${rank}_${chunk_index}.jsonl"),
        ...     checkpoints_local_dir="ckpt/")
    """
    if backend.backend == "vllm":
        import_vllm()  # the clear error, before datatrove's generic one
    return NebulaInferenceRunner(
        backend,
        CompletionRollout(settings, messages_key),
        config=inference_config(backend, settings),
        output_writer=output_writer,
        checkpoints_local_dir=checkpoints_local_dir,
        records_per_chunk=records_per_chunk,
        metadata_key=metadata_key,
        skip_bad_requests=skip_bad_requests,
    )
