"""Generation through any OpenAI-compatible server: vLLM serve, SGLang, TGI, `transformers serve`, hosted APIs.

One request per sample (`n=1`, seed `seed + j`), because several servers reject or ignore `n` (`transformers serve`
does) and per-sample requests make each sample reproducible and retryable on its own. `max_concurrency` requests are
in flight; a request that gets 429, 5xx, a timeout or a connection error is retried with exponential backoff (and the
server's `Retry-After`), each attempt logged with its request id (also sent as `X-Request-ID`, which vLLM and
`transformers serve` echo in their logs). The API key is read from the environment variable `api_key_env` and is
never logged or stored.

    from nebula_hub.generate import BackendConfig, SamplingSettings, get_backend
    config = BackendConfig(backend="openai", model="Qwen/Qwen3-8B", base_url="http://127.0.0.1:8000/v1",
                           max_concurrency=32)
    results = get_backend(config).generate(conversations, SamplingSettings(n=8, temperature=0.6, seed=0))
"""

import asyncio
import logging
import os
import random
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from nebula_hub.generate.base import Backend, Conversation, GenerationError, GenerationProgress, ResultCallback
from nebula_hub.generate.settings import BackendConfig, Completion, SamplingSettings


logger = logging.getLogger(__name__)


def display_url(url: str | None) -> str:
    """The URL without user info or query string (where credentials sometimes hide), for logs and errors.

    Example:
        >>> display_url("https://user:secret@api.example.com/v1?key=abc")
        'https://api.example.com/v1'
    """
    if not url:
        return "<no url>"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def chat_request(
    messages: Conversation,
    settings: SamplingSettings,
    sample_index: int,
    model: str,
    extra_body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for `client.chat.completions.create` for sample `sample_index` of one conversation.

    Fields outside the OpenAI schema (`top_k`, `chat_template_kwargs`) go in `extra_body` and only when set, since
    strict servers reject unknown fields (`transformers serve` answers 422 to `top_k`).

    Example:
        >>> chat_request([{"role": "user", "content": "hi"}], SamplingSettings(seed=3, top_k=20), 1, "m")["seed"]
        4
    """
    request: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "max_tokens": settings.max_tokens,
        "temperature": settings.temperature,
    }
    if settings.top_p is not None:
        request["top_p"] = settings.top_p
    if settings.seed is not None:
        request["seed"] = settings.sample_seed(sample_index)
    if settings.stop:
        request["stop"] = list(settings.stop)
    if settings.logprobs:
        request["logprobs"] = True
    body: dict[str, Any] = {}
    if settings.top_k is not None:
        body["top_k"] = settings.top_k
    if settings.enable_thinking is not None:
        body["chat_template_kwargs"] = {"enable_thinking": settings.enable_thinking}
    body.update(extra_body or {})
    if body:
        request["extra_body"] = body
    return request


def parse_chat_response(response) -> Completion:
    """A `Completion` from an OpenAI `ChatCompletion` object (the first choice)."""
    choice = response.choices[0]
    message = choice.message
    usage = response.usage
    if usage is None:
        logger.warning("openai backend: the server returned no token usage; token counts are recorded as 0")
    logprobs = None
    if choice.logprobs is not None and choice.logprobs.content is not None:
        logprobs = [float(token.logprob) for token in choice.logprobs.content]
    extra = message.model_extra or {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning") or None
    return Completion(
        text=message.content or "",
        finish_reason=choice.finish_reason or "stop",
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        logprobs=logprobs,
        reasoning=reasoning,
    )


class RequestFailed(Exception):
    """A request that cannot succeed (retries exhausted, or a 4xx the server will answer the same way again)."""

    def __init__(self, request_id: str, attempts: int, detail: str, retryable: bool):
        super().__init__(detail)
        self.request_id = request_id
        self.attempts = attempts
        self.detail = detail
        self.retryable = retryable


def make_client(config: BackendConfig):
    """An `openai.AsyncOpenAI` for `config.base_url` with the key from `config.api_key_env` and no built-in retries."""
    import openai

    api_key = os.environ.get(config.api_key_env) if config.api_key_env else None
    # Local servers need no key, but the client insists on one.
    return openai.AsyncOpenAI(
        base_url=config.base_url, api_key=api_key or "EMPTY", max_retries=0, timeout=config.timeout
    )


async def create_with_retries(client, request: dict[str, Any], config: BackendConfig, request_id: str, what: str):
    """`client.chat.completions.create(**request)` retried with backoff on 429, 5xx, timeouts and connection errors.

    Written here rather than using the client's own `max_retries` so every attempt is logged with our request id,
    and the final error says how many attempts failed and why.
    """
    import openai

    attempts = config.retries + 1
    for attempt in range(1, attempts + 1):
        retry_after = None
        try:
            return await client.chat.completions.create(**request, extra_headers={"X-Request-ID": request_id})
        except openai.APIStatusError as err:
            status = err.status_code
            detail = f"HTTP {status}: {_error_message(err)}"
            if not (status in (408, 409, 429) or status >= 500):
                raise RequestFailed(request_id, attempt, detail, retryable=False) from err
            retry_after = _retry_after(err)
        except openai.APITimeoutError as err:
            detail = f"no answer within {config.timeout:g}s ({type(err).__name__})"
        except openai.APIConnectionError as err:
            cause = err.__cause__ or err
            detail = f"connection failed: {type(cause).__name__}: {cause}"
        if attempt == attempts:
            raise RequestFailed(request_id, attempt, detail, retryable=True)
        delay = min(config.backoff_max, config.backoff_base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        if retry_after is not None:
            delay = max(delay, min(retry_after, config.backoff_max))
        logger.warning(
            "openai backend: request %s (%s) failed: %s; retry %d/%d in %.2fs",
            request_id,
            what,
            detail,
            attempt,
            attempts - 1,
            delay,
        )
        await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def _error_message(err) -> str:
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") or inner.get("detail") if isinstance(inner, dict) else inner
        if message:
            return str(message)[:300]
    return str(getattr(err, "message", err))[:300]


def _retry_after(err) -> float | None:
    try:
        value = err.response.headers.get("retry-after")
        return float(value) if value is not None else None
    except (AttributeError, ValueError):
        return None


def run_sync(coroutine):
    """Run a coroutine to completion from sync code, also when an event loop already runs (notebooks, Gradio)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    box: dict[str, Any] = {}

    def target():
        try:
            box["value"] = asyncio.run(coroutine)
        except BaseException as err:  # handed back to the caller's thread below
            box["error"] = err

    thread = threading.Thread(target=target, name="nebula-generate")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class OpenAIBackend(Backend):
    """Chat completions from an OpenAI-compatible server, `max_concurrency` at a time, results in input order.

    Example:
        >>> backend = OpenAIBackend(BackendConfig(backend="openai", model="tiny", base_url="http://127.0.0.1:8000/v1"))
        >>> out = backend.generate(["hi"], SamplingSettings(n=2, max_tokens=8))   # needs a server on :8000
    """

    name = "openai"

    def __init__(self, config: BackendConfig):
        super().__init__(config)
        self.url = display_url(config.base_url)

    def _generate(
        self,
        conversations: list[Conversation],
        settings: SamplingSettings,
        progress: bool,
        on_result: ResultCallback,
    ) -> list[list[Completion]]:
        return run_sync(self._agenerate(conversations, settings, progress, on_result))

    async def _agenerate(self, conversations, settings, progress, on_result):
        results: list[list[Completion | None]] = [[None] * settings.n for _ in conversations]
        missing = [settings.n] * len(conversations)
        run_id = uuid.uuid4().hex[:8]
        work: Iterator[tuple[int, int]] = ((i, j) for i in range(len(conversations)) for j in range(settings.n))
        failures: list[tuple[int, int, RequestFailed]] = []
        client = make_client(self.config)

        async def worker(bar: GenerationProgress):
            # Workers pull (conversation, sample) pairs in input order; after a failure they take no new work but
            # finish what they hold, so nothing already paid for is dropped.
            for i, j in work:
                if failures:
                    return
                request_id = f"nebula-{run_id}-{i}-{j}"
                request = chat_request(conversations[i], settings, j, self.config.model, self.config.extra_body)
                try:
                    response = await create_with_retries(
                        client, request, self.config, request_id, f"conversation {i}, sample {j}"
                    )
                except RequestFailed as err:
                    failures.append((i, j, err))
                    return
                completion = parse_chat_response(response)
                logger.debug("openai backend: request %s done (server id %s)", request_id, getattr(response, "id", ""))
                results[i][j] = completion
                missing[i] -= 1
                bar.update(1, completion.completion_tokens)
                if missing[i] == 0:
                    on_result(i, results[i])

        try:
            with GenerationProgress(len(conversations) * settings.n, f"generate ({self.name})", progress) as bar:
                workers = min(self.config.max_concurrency, len(conversations) * settings.n)
                await asyncio.gather(*(worker(bar) for _ in range(workers)))
        finally:
            await client.close()
        if failures:
            raise self._failure_error(failures[0], results, len(conversations))
        return results

    def _failure_error(self, failure, results, total: int) -> GenerationError:
        i, j, err = failure
        partial = [row if all(c is not None for c in row) else None for row in results]
        done = sum(row is not None for row in partial)
        where = f"request {err.request_id} (conversation {i}, sample {j}) to {self.url}"
        if err.retryable:
            message = f"openai backend: {where} failed after {err.attempts} attempts: {err.detail}"
            hint = (
                f"check that the server is running and reachable (curl {self.url}/models) and that --base-url is "
                f"right; {done} of {total} conversations finished and were kept, a rerun generates only the rest"
            )
        else:
            message = f"openai backend: {where} was rejected: {err.detail}"
            hint = (
                f"the server refused this request (wrong model name {self.config.model!r}, a field it does not "
                f"support, a prompt too long, or a missing/invalid API key in ${self.config.api_key_env}); "
                f"{done} of {total} conversations finished and were kept"
            )
        return GenerationError(message, hint=hint, partial=partial)
