"""Generation inside curation steps: a backend from `nebula_hub.generate`, with a per-task results cache for resume.

Distillation, difficulty grading, the model classifier and the LLM judge all call `CachedGenerator.generate`. Every
finished conversation is saved at once in `nebula_hub.generate.ResultCache` (`<cache_dir>/<rank>.jsonl`, keyed by the
request fingerprint: messages, sampling settings, model, revision), so a task killed half-way regenerates nothing it
already saved when rerun: generation resumes inside a task, not only by skipping finished tasks.
`nebula_hub.generate.GenerationAnnotator` is not used as-is because curation steps generate for a selected subset,
from the prompt part of a conversation, and several times per record (teacher samples, grader rollouts, judge).

Example:
    >>> from nebula_hub.curate.sft_config import ModelConfig
    >>> gen = CachedGenerator(ModelConfig(model="tiny", n=2, max_tokens=8), cache_dir=None)
    >>> out = gen.generate([[{"role": "user", "content": "2+2?"}]])       # doctest: +SKIP
    >>> len(out[0])                                                       # doctest: +SKIP
    2
"""

import dataclasses
from pathlib import Path
from typing import Any


def resolve_model(model: str) -> str:
    """`tiny` -> the embedded tiny Qwen3's folder (built once, cached); anything else unchanged."""
    if model == "tiny":
        from nebula_hub.models import build_tiny_model

        return str(build_tiny_model())
    return model


class CachedGenerator:
    """Generates `model.n` samples per conversation through `nebula_hub.generate`, caching results per task.

    Args:
        model: a `ModelConfig` (model, revision, backend, base_url, batch_size, n, temperature, top_p, max_tokens,
            seed, enable_thinking).
        cache_dir (`str`, *optional*): folder of the per-rank cache files; `None` keeps results in memory only.
        rank (`int`, *optional*, defaults to 0): the datatrove task, naming the cache file.
    """

    def __init__(self, model, cache_dir: str | Path | None = None, rank: int = 0):
        from nebula_hub.generate.settings import SamplingSettings

        self.model = model
        self.cache_path = Path(cache_dir) / f"{rank:05d}.jsonl" if cache_dir else None
        self._backend = None
        self._cache = None
        self._memory: dict[str, list] = {}
        self.settings = SamplingSettings(
            n=model.n,
            temperature=model.temperature,
            top_p=model.top_p,
            max_tokens=model.max_tokens,
            seed=model.seed,
            enable_thinking=model.enable_thinking,
        )

    def provenance(self) -> dict[str, Any]:
        """The `teacher` block of an SFT record: model, revision, backend and sampling parameters."""
        sampling = {
            k: getattr(self.settings, k)
            for k in ("temperature", "top_p", "top_k", "max_tokens", "seed", "n", "enable_thinking")
        }
        return {
            "model": self.model.model,
            "revision": self.model.revision,
            "backend": self.model.backend,
            "sampling": sampling,
        }

    def backend(self):
        if self._backend is None:
            from nebula_hub.generate.base import get_backend
            from nebula_hub.generate.settings import BackendConfig

            cfg = BackendConfig(
                backend=self.model.backend,
                model=resolve_model(self.model.model),
                revision=self.model.revision,
                base_url=self.model.base_url,
                batch_size=self.model.batch_size,
            )
            self._backend = get_backend(cfg)
        return self._backend

    def key(self, conversation: list[dict]) -> str:
        from nebula_hub.generate.settings import request_fingerprint

        return request_fingerprint(conversation, self.settings, self.model.model, self.model.revision)

    def generate(self, conversations: list[list[dict]]) -> list[list[dict]]:
        """Samples for each conversation (dicts with text, finish_reason, prompt_tokens, completion_tokens)."""
        if self._cache is None and self.cache_path is not None:
            from nebula_hub.generate.cache import ResultCache

            self._cache = ResultCache(self.cache_path)
        keys = [self.key(c) for c in conversations]
        todo = sorted({k: i for i, k in enumerate(keys) if self._get(k) is None}.values())
        if todo:

            def save(index, completions):
                self._memory[keys[todo[index]]] = completions
                if self._cache is not None:
                    self._cache.put(keys[todo[index]], completions)

            self.backend().generate([conversations[i] for i in todo], self.settings, progress=False, on_result=save)
        return [[c.as_dict() for c in self._get(k)] for k in keys]

    def _get(self, key: str):
        if key in self._memory:
            return self._memory[key]
        return self._cache.get(key) if self._cache is not None else None

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None
        if self._cache is not None:
            self._cache.close()


def model_config_dict(model) -> dict[str, Any]:
    """A ModelConfig as a plain dict (for stats and provenance)."""
    return dataclasses.asdict(model)
