"""In-process vLLM (`vllm.LLM.chat`) for GPU machines; vllm ships only in the `gpu` extra and is imported lazily.

The mapping from nebula-hub's settings to vLLM's arguments is two pure functions (`vllm_engine_kwargs`,
`vllm_sampling_kwargs`), testable without vllm. As with the other backends each sample is its own request with seed
`seed + j`; prefix caching makes the repeated prompt cheap.

    from nebula_hub.generate import BackendConfig, SamplingSettings, get_backend
    config = BackendConfig(backend="vllm", model="Qwen/Qwen3-8B", dtype="bfloat16", tensor_parallel_size=2)
    results = get_backend(config).generate(conversations, SamplingSettings(n=8, temperature=0.6, seed=0))
"""

import logging
from typing import Any

from nebula_hub.errors import NebulaError
from nebula_hub.generate.base import Backend, Conversation, ResultCallback
from nebula_hub.generate.settings import BackendConfig, Completion, SamplingSettings


logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "install the GPU extra: pip install 'nebula-hub[gpu]' (needs a CUDA GPU); or serve the model elsewhere and use "
    "backend: openai with base_url, or backend: transformers on this machine"
)


def import_vllm():
    """Import vllm, or raise a `NebulaError` that names the extra to install."""
    try:
        import vllm
    except ImportError as err:
        raise NebulaError(
            f"generation backend 'vllm' needs the vllm package, which is not installed ({err})", hint=INSTALL_HINT
        ) from err
    return vllm


def vllm_engine_kwargs(config: BackendConfig) -> dict[str, Any]:
    """Keyword arguments for `vllm.LLM(...)` from a `BackendConfig`.

    Example:
        >>> vllm_engine_kwargs(BackendConfig(backend="vllm", model="m", tensor_parallel_size=2))["tensor_parallel_size"]
        2
    """
    kwargs: dict[str, Any] = {
        "model": config.model,
        "tokenizer": config.model,
        "revision": config.revision,
        "tokenizer_revision": config.revision,
        "dtype": config.dtype,
        "tensor_parallel_size": config.tensor_parallel_size,
        "enable_prefix_caching": config.enable_prefix_caching,
        "gpu_memory_utilization": config.gpu_memory_utilization,
    }
    if config.max_model_len is not None:
        kwargs["max_model_len"] = config.max_model_len
    kwargs.update(config.engine_kwargs)
    return kwargs


def vllm_sampling_kwargs(settings: SamplingSettings, sample_index: int) -> dict[str, Any]:
    """Keyword arguments for `vllm.SamplingParams(...)` for sample `sample_index` of a conversation.

    Example:
        >>> kw = vllm_sampling_kwargs(SamplingSettings(temperature=0.7, top_k=20, seed=5, stop=["</a>"]), 2)
        >>> kw["seed"], kw["top_k"], kw["n"], kw["stop"]
        (7, 20, 1, ['</a>'])
    """
    kwargs: dict[str, Any] = {
        "n": 1,
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
        "seed": settings.sample_seed(sample_index),
    }
    if settings.top_p is not None:
        kwargs["top_p"] = settings.top_p
    if settings.top_k is not None:
        kwargs["top_k"] = settings.top_k
    if settings.stop:
        kwargs["stop"] = list(settings.stop)
    if settings.logprobs:
        kwargs["logprobs"] = 0  # only the sampled token's log-probability
    return kwargs


def vllm_chat_kwargs(settings: SamplingSettings) -> dict[str, Any]:
    """Keyword arguments for `LLM.chat` besides messages and sampling params (the chat-template switches)."""
    if settings.enable_thinking is None:
        return {}
    return {"chat_template_kwargs": {"enable_thinking": settings.enable_thinking}}


def completion_from_vllm(request_output) -> Completion:
    """A `Completion` from one vLLM `RequestOutput` (its single sample)."""
    sample = request_output.outputs[0]
    logprobs = None
    if sample.logprobs is not None:
        logprobs = [float(step[token].logprob) for token, step in zip(sample.token_ids, sample.logprobs, strict=False)]
    return Completion(
        text=sample.text,
        finish_reason=sample.finish_reason or "stop",
        prompt_tokens=len(request_output.prompt_token_ids or []),
        completion_tokens=len(sample.token_ids),
        logprobs=logprobs,
    )


class VLLMBackend(Backend):
    """`vllm.LLM(...).chat(...)` in this process; the engine is built once per backend.

    Example:
        >>> backend = VLLMBackend(BackendConfig(backend="vllm", model="Qwen/Qwen3-0.6B", dtype="bfloat16"))
        >>> backend.generate(["2+2?"], SamplingSettings(n=4, max_tokens=64, seed=0))[0][3].text
    """

    name = "vllm"

    def __init__(self, config: BackendConfig):
        super().__init__(config)
        vllm = import_vllm()
        self._vllm = vllm
        self.llm = vllm.LLM(**vllm_engine_kwargs(config))

    def _generate(
        self,
        conversations: list[Conversation],
        settings: SamplingSettings,
        progress: bool,
        on_result: ResultCallback,
    ) -> list[list[Completion]]:
        rows = [(i, j) for i in range(len(conversations)) for j in range(settings.n)]
        params = [self._vllm.SamplingParams(**vllm_sampling_kwargs(settings, j)) for _, j in rows]
        # vLLM schedules the whole list itself (continuous batching) and shows its own bar with tokens/s.
        outputs = self.llm.chat(
            [conversations[i] for i, _ in rows], params, use_tqdm=progress, **vllm_chat_kwargs(settings)
        )
        results: list[list[Completion]] = [[None] * settings.n for _ in conversations]  # type: ignore[list-item]
        for (i, j), output in zip(rows, outputs, strict=True):
            results[i][j] = completion_from_vllm(output)
        for i, row in enumerate(results):
            on_result(i, row)
        return results

    def close(self) -> None:
        import gc

        self.llm = None
        gc.collect()
