"""The value types every generation backend shares: sampling settings, backend config, one completion.

They are plain dataclasses so curation configs, training recipes and eval runs can embed them, and so provenance
(`SamplingSettings.as_record()`) can be written into cards and manifests next to the model revision.
"""

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from nebula_hub.errors import ConfigError


BACKENDS = ("transformers", "openai", "vllm")
FINISH_REASONS = ("stop", "length")


@dataclass
class SamplingSettings:
    """How to sample: the same meaning on every backend.

    Sampling:
        n: samples per conversation. temperature: 0 means greedy. top_p, top_k: nucleus / top-k filtering
        (`None` = off). max_tokens: the most new tokens per sample. stop: strings that end a sample (not included
        in the returned text, as with OpenAI and vLLM).
    Reproducibility:
        seed: sample `j` of a conversation is drawn with seed `seed + j`, so it does not depend on batching, order,
        concurrency or resuming (where the backend honours per-request seeds: transformers and vLLM do; a
        `transformers serve` endpoint shares one global RNG between concurrent requests). `None` = not seeded.
    Chat template:
        enable_thinking: Qwen3's switch, passed to the chat template (`None` = the template's default).
    Outputs:
        logprobs: also return the log-probability of each generated token under the model's unmodified
        distribution (before temperature and filtering), where the backend gives it.

    Example:
        >>> s = SamplingSettings(n=4, temperature=0.7, max_tokens=256, seed=0, enable_thinking=False)
        >>> s.as_record()["n"], s.fingerprint() == SamplingSettings(**s.as_record()).fingerprint()
        (4, True)
    """

    n: int = field(default=1, metadata={"help": "Samples per conversation."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature; 0 means greedy decoding."})
    top_p: float | None = field(default=None, metadata={"help": "Nucleus sampling mass in (0, 1]; None = off."})
    top_k: int | None = field(default=None, metadata={"help": "Keep the k most likely tokens; None = off."})
    max_tokens: int = field(default=512, metadata={"help": "Most new tokens per sample."})
    seed: int | None = field(default=None, metadata={"help": "Sample j uses seed + j; None = not seeded."})
    stop: list[str] = field(default_factory=list, metadata={"help": "Strings that end a sample (not returned)."})
    enable_thinking: bool | None = field(
        default=None, metadata={"help": "Qwen3 chat-template thinking switch; None = the template's default."}
    )
    logprobs: bool = field(default=False, metadata={"help": "Return per-token log-probabilities."})

    def __post_init__(self):
        if isinstance(self.stop, str):
            self.stop = [self.stop]
        self.stop = list(self.stop or [])
        _check(isinstance(self.n, int) and self.n >= 1, "n", self.n, "an integer >= 1, e.g. n: 4")
        _check(
            isinstance(self.temperature, (int, float)) and self.temperature >= 0,
            "temperature",
            self.temperature,
            "a number >= 0 (0 = greedy), e.g. temperature: 0.7",
        )
        _check(self.top_p is None or 0 < self.top_p <= 1, "top_p", self.top_p, "a number in (0, 1] or null")
        _check(
            self.top_k is None or (isinstance(self.top_k, int) and self.top_k >= 1),
            "top_k",
            self.top_k,
            "an integer >= 1 or null (off)",
        )
        _check(
            isinstance(self.max_tokens, int) and self.max_tokens >= 1,
            "max_tokens",
            self.max_tokens,
            "an integer >= 1, e.g. max_tokens: 512",
        )
        _check(
            self.seed is None or (isinstance(self.seed, int) and 0 <= self.seed < 2**62),
            "seed",
            self.seed,
            "an integer in [0, 2**62) or null",
        )
        _check(
            all(isinstance(s, str) and s for s in self.stop),
            "stop",
            self.stop,
            "a list of non-empty strings, e.g. stop: ['</answer>']",
        )
        if self.enable_thinking is not None and not isinstance(self.enable_thinking, bool):
            _check(False, "enable_thinking", self.enable_thinking, "true, false or null")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def sample_seed(self, sample_index: int) -> int | None:
        """The seed of sample `sample_index` (`seed + sample_index`), or `None` when unseeded."""
        return None if self.seed is None else self.seed + sample_index

    def as_record(self) -> dict[str, Any]:
        """All fields as a JSON-ready dict, for provenance (cards, manifests, output files)."""
        return dataclasses.asdict(self)

    def fingerprint(self) -> str:
        """A short hash of the settings; equal settings give equal fingerprints."""
        return _hash(self.as_record())


@dataclass
class BackendConfig:
    """Which backend generates, and how it reaches or loads the model.

    Model:
        backend: `transformers` (in-process, CPU or one GPU), `openai` (any OpenAI-compatible server), `vllm`
        (in-process vLLM, GPU; needs the `gpu` extra). model: a local folder or a Hub repo id; for `openai`, the
        model name the server knows. revision: a Hub revision (branch, tag or commit sha).
        dtype: `auto`, `float32`, `bfloat16` or `float16`. device: `auto`, `cpu`, `cuda`, `cuda:1`, ...
    Local engines:
        batch_size: sequences per `generate` call (transformers). tensor_parallel_size, enable_prefix_caching,
        gpu_memory_utilization, max_model_len: passed to `vllm.LLM`. engine_kwargs: any other `vllm.LLM` /
        `from_pretrained` keyword.
    Servers:
        base_url: e.g. `http://127.0.0.1:8000/v1`. api_key_env: the environment variable holding the API key (the
        key itself is never stored, logged or written). max_concurrency: requests in flight. retries: extra attempts
        on 429/5xx/timeouts/connection errors, with exponential backoff from `backoff_base` to `backoff_max`
        seconds. timeout: seconds per request. extra_body: server-specific request fields.

    Example:
        >>> cfg = BackendConfig(backend="openai", model="Qwen/Qwen3-8B", base_url="http://127.0.0.1:8000/v1")
        >>> cfg.as_record()["backend"]
        'openai'
    """

    backend: str = field(default="transformers", metadata={"help": "Which backend.", "choices": BACKENDS})
    model: str = field(default="", metadata={"help": "Local folder or Hub repo id (server model name for openai)."})
    revision: str | None = field(default=None, metadata={"help": "Hub revision: branch, tag or commit sha."})
    dtype: str = field(
        default="auto", metadata={"help": "Weights dtype.", "choices": ("auto", "float32", "bfloat16", "float16")}
    )
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda, cuda:N (transformers)."})
    batch_size: int = field(default=16, metadata={"help": "Sequences per generate call (transformers)."})
    tensor_parallel_size: int = field(default=1, metadata={"help": "GPUs per model (vllm)."})
    enable_prefix_caching: bool = field(default=True, metadata={"help": "Reuse shared prompt prefixes (vllm)."})
    gpu_memory_utilization: float = field(default=0.9, metadata={"help": "GPU memory share for vllm."})
    max_model_len: int | None = field(default=None, metadata={"help": "Context length cap (vllm)."})
    engine_kwargs: dict[str, Any] = field(default_factory=dict, metadata={"help": "Extra engine/loader kwargs."})
    base_url: str | None = field(default=None, metadata={"help": "OpenAI-compatible base URL, ending in /v1."})
    api_key_env: str | None = field(
        default="OPENAI_API_KEY", metadata={"help": "Environment variable holding the API key (never logged)."}
    )
    max_concurrency: int = field(default=8, metadata={"help": "Requests in flight (openai)."})
    retries: int = field(default=5, metadata={"help": "Extra attempts on 429/5xx/timeouts (openai)."})
    backoff_base: float = field(default=0.5, metadata={"help": "First retry delay in seconds (doubles each time)."})
    backoff_max: float = field(default=30.0, metadata={"help": "Longest retry delay in seconds."})
    timeout: float = field(default=600.0, metadata={"help": "Seconds per request (openai)."})
    extra_body: dict[str, Any] = field(default_factory=dict, metadata={"help": "Extra request fields (openai)."})

    def __post_init__(self):
        _check(self.backend in BACKENDS, "backend", self.backend, f"one of {', '.join(BACKENDS)}", cls=ConfigError)
        _check(bool(self.model), "model", self.model, "a model folder, Hub repo id or server model name")
        _check(
            self.dtype in ("auto", "float32", "bfloat16", "float16"),
            "dtype",
            self.dtype,
            "auto, float32, bfloat16 or float16",
        )
        for name in ("batch_size", "tensor_parallel_size", "max_concurrency"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value >= 1, name, value, "an integer >= 1")
        _check(isinstance(self.retries, int) and self.retries >= 0, "retries", self.retries, "an integer >= 0")
        _check(self.timeout > 0, "timeout", self.timeout, "a number of seconds > 0")
        if self.backend == "openai":
            _check(
                bool(self.base_url) and str(self.base_url).startswith(("http://", "https://")),
                "base_url",
                self.base_url,
                "the server's OpenAI-compatible URL, e.g. http://127.0.0.1:8000/v1",
            )

    def as_record(self) -> dict[str, Any]:
        """The config as a JSON-ready dict for provenance; holds the *name* of the key variable, never the key."""
        return dataclasses.asdict(self)


@dataclass
class Completion:
    """One generated sample.

    Fields: text (stop strings removed), finish_reason (`stop`: end-of-sequence token or a stop string; `length`:
    `max_tokens` reached), prompt_tokens, completion_tokens (including the end-of-sequence token when one was
    generated), logprobs (one float per completion token, or `None`), reasoning (the thinking text when a server
    returns it separately, e.g. vLLM with a reasoning parser; `None` otherwise, where it stays inside `text`).

    Example:
        >>> Completion("4", "stop", 12, 2).as_dict()["finish_reason"]
        'stop'
    """

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    logprobs: list[float] | None = None
    reasoning: str | None = None

    def as_dict(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        for optional in ("logprobs", "reasoning"):
            if record[optional] is None:
                del record[optional]
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "Completion":
        return cls(
            text=record["text"],
            finish_reason=record["finish_reason"],
            prompt_tokens=int(record["prompt_tokens"]),
            completion_tokens=int(record["completion_tokens"]),
            logprobs=record.get("logprobs"),
            reasoning=record.get("reasoning"),
        )


def _hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def request_fingerprint(messages: list[dict], settings: SamplingSettings, model: str, revision: str | None) -> str:
    """Identifies one conversation's generation: equal inputs, settings and model give an equal key (for resuming)."""
    return _hash({"messages": messages, "settings": settings.as_record(), "model": model, "revision": revision})


def _check(ok: bool, name: str, value: Any, expected: str, cls: type = ConfigError) -> None:
    if not ok:
        raise cls(f"generation setting {name!r} is {value!r}", hint=f"expected {expected}")
