"""Generation: one interface over transformers (in-process), OpenAI-compatible servers and vLLM, plus datatrove steps.

    from nebula_hub.generate import BackendConfig, SamplingSettings, get_backend
    with get_backend(BackendConfig(backend="transformers", model="path/or/repo", revision="main")) as backend:
        results = backend.generate(conversations, SamplingSettings(n=4, temperature=0.7, max_tokens=512, seed=0))
    # results[i][j]: Completion(text, finish_reason, prompt_tokens, completion_tokens, logprobs), input order

Modules: `settings` (value types), `base` (interface, factory, progress bar), one module per backend, `cache` and
`jsonl` (resumable JSONL batch generation behind `nebula-hub generate`), `annotator` (in-process datatrove step),
`inference` (datatrove `InferenceRunner` for vllm/openai servers), `cli` (the `generate` command).
Heavy modules (torch, transformers, vllm, datatrove) load only when their names are used.
"""

from nebula_hub.generate.base import (
    Backend,
    GenerationError,
    GenerationProgress,
    get_backend,
    normalize_conversations,
)
from nebula_hub.generate.settings import BACKENDS, BackendConfig, Completion, SamplingSettings, request_fingerprint


_LAZY = {
    "generate_jsonl": "nebula_hub.generate.jsonl",
    "GenerateReport": "nebula_hub.generate.jsonl",
    "ResultCache": "nebula_hub.generate.cache",
    "GenerationAnnotator": "nebula_hub.generate.annotator",
    "build_inference_runner": "nebula_hub.generate.inference",
    "CompletionRollout": "nebula_hub.generate.inference",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nebula_hub.generate' has no attribute {name!r}")


__all__ = [
    "BACKENDS",
    "Backend",
    "BackendConfig",
    "Completion",
    "CompletionRollout",
    "GenerateReport",
    "GenerationAnnotator",
    "GenerationError",
    "GenerationProgress",
    "ResultCache",
    "SamplingSettings",
    "build_inference_runner",
    "generate_jsonl",
    "get_backend",
    "normalize_conversations",
    "request_fingerprint",
]
