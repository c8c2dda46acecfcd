"""The `Backend` interface, input checking, the progress bar and the `get_backend` factory.

A backend turns a list of conversations into, for each, `settings.n` completions, in input order:

    from nebula_hub.generate import BackendConfig, SamplingSettings, get_backend
    with get_backend(BackendConfig(backend="transformers", model="path/to/model")) as backend:
        results = backend.generate([[{"role": "user", "content": "2+2?"}]], SamplingSettings(n=2, max_tokens=32))
    results[0][1].text, results[0][1].finish_reason, results[0][1].completion_tokens
"""

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from tqdm.auto import tqdm

from nebula_hub.errors import NebulaError, RecordValidationError
from nebula_hub.generate.settings import BackendConfig, Completion, SamplingSettings


logger = logging.getLogger(__name__)

Conversation = list[dict[str, Any]]
# Called once per conversation as soon as all of its samples are done: (input index, its completions).
ResultCallback = Callable[[int, list[Completion]], None]


class GenerationError(NebulaError):
    """Generation stopped part-way; `partial[i]` holds conversation i's completions when it finished, else `None`.

    Everything in `partial` was also handed to the `on_result` callback before the error was raised, so a caller
    that saves results there (like `generate_jsonl`) loses nothing.
    """

    def __init__(self, message: str, hint: str | None = None, partial: list[list[Completion] | None] | None = None):
        super().__init__(message, hint=hint)
        self.partial = partial or []

    @property
    def completed(self) -> int:
        return sum(result is not None for result in self.partial)


def normalize_conversations(conversations: Sequence[Any], source: str = "input") -> list[Conversation]:
    """Check conversations and turn bare strings into one user message; errors name the conversation and field.

    Example:
        >>> normalize_conversations(["hi"])
        [[{'role': 'user', 'content': 'hi'}]]
    """
    normalized = []
    for index, conversation in enumerate(conversations):
        if isinstance(conversation, str):
            conversation = [{"role": "user", "content": conversation}]
        if not isinstance(conversation, (list, tuple)) or not conversation:
            raise RecordValidationError(
                f"{source}: conversation {index} is {_short(conversation)}",
                hint="give a non-empty list of {'role': ..., 'content': ...} messages, or a prompt string",
            )
        for turn, message in enumerate(conversation):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise RecordValidationError(
                    f"{source}: conversation {index}, message {turn} has no 'role': {_short(message)}",
                    hint="each message needs 'role' (system, user or assistant) and 'content' (a string)",
                )
            if not isinstance(message.get("content"), str):
                raise RecordValidationError(
                    f"{source}: conversation {index}, message {turn} ('{message['role']}') has content "
                    f"{_short(message.get('content'))}",
                    hint="'content' must be a string",
                )
        normalized.append([dict(m) for m in conversation])
    return normalized


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class GenerationProgress:
    """A tqdm bar counting samples, with samples/s (tqdm's rate) and completion tokens/s in the postfix."""

    def __init__(self, total: int, desc: str, enabled: bool = True):
        self.bar = tqdm(total=total, desc=desc, unit="sample", disable=not enabled, dynamic_ncols=True)
        self.start = time.perf_counter()
        self.samples = 0
        self.tokens = 0

    def update(self, samples: int, completion_tokens: int) -> None:
        self.samples += samples
        self.tokens += completion_tokens
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        self.bar.set_postfix({"tok/s": f"{self.tokens / elapsed:.1f}"}, refresh=False)
        self.bar.update(samples)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> "GenerationProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Backend(ABC):
    """Generates completions for chat conversations; one instance holds one model (or one server connection).

    Subclasses implement `_generate`; `generate` checks the input and returns results in input order.
    Use as a context manager (or call `close()`) to free the model or connections.
    """

    name: str = ""

    def __init__(self, config: BackendConfig):
        self.config = config

    def generate(
        self,
        conversations: Sequence[Conversation | str],
        settings: SamplingSettings | None = None,
        progress: bool = True,
        on_result: ResultCallback | None = None,
    ) -> list[list[Completion]]:
        """Generate `settings.n` completions for each conversation, returned in input order.

        Args:
            conversations (`list`): each a list of `{"role", "content"}` messages, or a prompt string.
            settings (`SamplingSettings`, *optional*): defaults to `SamplingSettings()`.
            progress (`bool`, *optional*, defaults to `True`): show a progress bar (samples/s, tokens/s).
            on_result (`callable`, *optional*): called with `(index, completions)` as each conversation finishes,
                in completion order; use it to save work as it is done.

        Raises:
            `GenerationError`: generation stopped part-way; `err.partial` holds what finished.

        Example:
            >>> backend = get_backend(BackendConfig(backend="transformers", model=str(build_tiny_model())))
            >>> out = backend.generate(["hello"], SamplingSettings(n=2, max_tokens=8, seed=0), progress=False)
            >>> len(out), len(out[0]), out[0][0].completion_tokens <= 8
            (1, 2, True)
        """
        settings = settings or SamplingSettings()
        normalized = normalize_conversations(conversations)
        if not normalized:
            return []
        results = self._generate(normalized, settings, progress, on_result or (lambda index, completions: None))
        assert len(results) == len(normalized) and all(len(r) == settings.n for r in results)
        return results

    @abstractmethod
    def _generate(
        self,
        conversations: list[Conversation],
        settings: SamplingSettings,
        progress: bool,
        on_result: ResultCallback,
    ) -> list[list[Completion]]: ...

    def close(self) -> None:  # noqa: B027 (optional hook: server backends hold nothing between calls)
        """Free the model or connections; the backend cannot be used afterwards."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def get_backend(config: BackendConfig) -> Backend:
    """Build the backend `config.backend` names; heavy libraries are imported only for the chosen one.

    Example:
        >>> backend = get_backend(BackendConfig(backend="openai", model="m", base_url="http://127.0.0.1:8000/v1"))
        >>> backend.name
        'openai'
    """
    if config.backend == "transformers":
        from nebula_hub.generate.transformers_backend import TransformersBackend

        return TransformersBackend(config)
    if config.backend == "openai":
        from nebula_hub.generate.openai_backend import OpenAIBackend

        return OpenAIBackend(config)
    if config.backend == "vllm":
        from nebula_hub.generate.vllm_backend import VLLMBackend

        return VLLMBackend(config)
    raise NebulaError(
        f"unknown generation backend {config.backend!r}", hint="use one of: transformers, openai, vllm"
    )  # unreachable: BackendConfig validates the name
