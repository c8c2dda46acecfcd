"""In-process generation with transformers `generate`: batched, left-padded, on CPU or one GPU.

Rows (conversation x sample) are sorted by prompt length and cut into batches of `batch_size`, so padding stays
small. Each row draws its tokens from noise keyed by its own seed (`seed + sample_index`), the step and the token id
(`SeededSampler`), so a sample does not depend on which batch it landed in: one-prompt-at-a-time, batched and resumed
runs give the same text, at the speed of transformers' own unseeded sampling. Small models decode on one CPU thread.

    from nebula_hub.generate import BackendConfig, SamplingSettings, get_backend
    backend = get_backend(BackendConfig(backend="transformers", model="Qwen/Qwen3-0.6B", revision="main"))
    backend.generate(["What is 2+2?"], SamplingSettings(n=4, temperature=0.7, max_tokens=128, seed=0))
"""

import logging
import os
import secrets
from contextlib import contextmanager

from nebula_hub.errors import NebulaError
from nebula_hub.generate.base import Backend, Conversation, GenerationProgress, ResultCallback
from nebula_hub.generate.settings import BackendConfig, Completion, SamplingSettings


logger = logging.getLogger(__name__)

# Below this many parameters, CPU decoding runs on one torch thread: each step is many tiny ops whose parallel regions
# cost more than they save, and on a shared, loaded machine every region waits for a descheduled sibling thread
# (measured on the tiny Qwen3, 2 cores under load: 1 thread ~5,500 tok/s, 2 threads 160-600 tok/s).
SINGLE_THREAD_MAX_PARAMS = 20_000_000


def render_prompt(tokenizer, conversation: Conversation, enable_thinking: bool | None) -> str:
    """The chat-template text the model continues from (generation prompt added; `enable_thinking` passed if set).

    Example:
        >>> from transformers import AutoTokenizer
        >>> from nebula_hub.models import build_tiny_model
        >>> tok = AutoTokenizer.from_pretrained(build_tiny_model())
        >>> render_prompt(tok, [{"role": "user", "content": "hi"}], enable_thinking=False).endswith("</think>\\n\\n")
        True
    """
    kwargs = {} if enable_thinking is None else {"enable_thinking": enable_thinking}
    return tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True, **kwargs)


_MASK64 = (1 << 64) - 1
# SplitMix64 constants (Steele et al. 2014), written as signed int64 because torch has no full uint64 arithmetic.
_GAMMA = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


def _signed64(value: int) -> int:
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def splitmix64(value: int) -> int:
    """SplitMix64's output function on a Python int (unsigned 64-bit result): the reference for the torch version.

    Example:
        >>> hex(splitmix64(0))
        '0x0'
        >>> splitmix64(1) != splitmix64(2)
        True
    """
    value &= _MASK64
    value = ((value ^ (value >> 30)) * _MIX1) & _MASK64
    value = ((value ^ (value >> 27)) * _MIX2) & _MASK64
    return value ^ (value >> 31)


def _shift_right(z, bits: int):
    """Logical right shift of an int64 tensor (torch's `>>` is arithmetic: it copies the sign bit)."""
    return (z >> bits) & ((1 << (64 - bits)) - 1)


def _mix_tensor(z, final: bool = True):
    """`splitmix64` on an int64 tensor; int64 multiplication wraps modulo 2**64 as the hash needs."""
    z = (z ^ _shift_right(z, 30)) * _signed64(_MIX1)
    z = (z ^ _shift_right(z, 27)) * _signed64(_MIX2)
    return z ^ _shift_right(z, 31) if final else z


def step_keys(row_keys, step: int):
    """One 64-bit key per (row, generation step): the hash of the row's key and the step index.

    Example:
        >>> import torch
        >>> keys = torch.tensor([_signed64(splitmix64(7))])
        >>> int(step_keys(keys, 3)[0]) & _MASK64 == splitmix64(splitmix64(7) + 4 * 0x9E3779B97F4A7C15)
        True
    """
    return _mix_tensor(row_keys + _signed64((step + 1) * _GAMMA))


def log_exponential_noise(keys, token_ids):
    """`log(E)` for `E ~ Exp(1)`, one per (row, token), a pure function of the row's step key and the token id.

    `argmax(logits - log(E))` is a sample from `softmax(logits)` (the exponential race, the same trick
    `torch.multinomial` uses for one draw). Hand-written because torch has no vectorised counter-based RNG with a
    key per row: this hashes `key + (token + 1) * gamma` (SplitMix64) to 24 uniform bits, so a row's noise does not
    depend on which other rows share its batch (and the integer hash is the same on every device).

    Args:
        keys (`torch.LongTensor` of shape `(batch,)`): from `step_keys`.
        token_ids (`torch.LongTensor` of shape `(vocab,)` or `(batch, m)`): the tokens to draw noise for.

    Example:
        >>> import torch
        >>> keys = step_keys(torch.tensor([1, 2]), 0)
        >>> noise = log_exponential_noise(keys, torch.arange(5))
        >>> noise.shape, bool(torch.equal(noise[:, 2:4], log_exponential_noise(keys, torch.tensor([2, 3]))))
        (torch.Size([2, 5]), True)
    """
    import torch

    counters = (token_ids + 1) * _signed64(_GAMMA)
    z = keys[:, None] + (counters if counters.dim() == 2 else counters[None, :])
    # The top 24 bits after the second multiply are fully mixed; SplitMix's last xor-shift leaves them unchanged.
    bits = _shift_right(_mix_tensor(z, final=False), 40)
    uniform = bits.to(torch.float32).add_(0.5).mul_(2.0**-24)  # in (0, 1), never 0 or 1
    return uniform.log_().neg_().log_()


class SeededSampler:
    """A logits processor that draws each row's next token from noise keyed by that row's seed and the step.

    transformers applies custom logits processors *before* its temperature/top-k/top-p warpers and samples the
    whole batch from one global RNG, so per-sample seeds need this: we run generate in greedy mode, apply the same
    warper classes here, and return the warped scores plus Gumbel noise (`-log(E)`, see `log_exponential_noise`), so
    greedy's argmax is an exact sample from the warped distribution. The noise of row `r` at step `t` for token `v`
    depends only on (seed of `r`, `t`, `v`): samples do not depend on batch size, order or padding, and the whole
    batch is drawn in a few vectorised ops (no per-row generator loop). When `logprobs` is set it records each drawn
    token's log-probability under the unmodified distribution, as tensors converted once at the end.

    Example:
        >>> import torch
        >>> sampler = SeededSampler([0, 1], SamplingSettings(temperature=0.7, logprobs=True), "cpu")
        >>> out = sampler(torch.zeros(2, 3, dtype=torch.long), torch.randn(2, 10))
        >>> out.shape, len(sampler.logprobs), len(sampler.logprobs[0])
        (torch.Size([2, 10]), 2, 1)
    """

    def __init__(self, seeds: list[int], settings: SamplingSettings, device):
        import torch
        from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

        self.greedy = settings.greedy
        self.row_keys = torch.tensor([_signed64(splitmix64(seed)) for seed in seeds], dtype=torch.long, device=device)
        self.step = 0
        self.token_ids = None  # arange(vocab), made on the first call
        self.warpers = []
        if not self.greedy:
            if settings.temperature != 1.0:
                self.warpers.append(TemperatureLogitsWarper(settings.temperature))
            if settings.top_k is not None:
                self.warpers.append(TopKLogitsWarper(top_k=settings.top_k))
            if settings.top_p is not None and settings.top_p < 1.0:
                self.warpers.append(TopPLogitsWarper(top_p=settings.top_p))
        self.filtering = settings.top_k is not None or (settings.top_p is not None and settings.top_p < 1.0)
        self.record_logprobs = settings.logprobs
        self._logprobs = []  # one (batch,) tensor per step

    def __call__(self, input_ids, scores):
        import torch

        scores = scores.float()
        if self.greedy:
            chosen, out = scores.argmax(dim=-1), scores
        else:
            chosen, out = self._draw(input_ids, scores)
        if self.record_logprobs:
            picked = scores.gather(1, chosen[:, None]).squeeze(1)
            self._logprobs.append(picked - torch.logsumexp(scores, dim=-1))
        self.step += 1
        return out

    def _draw(self, input_ids, scores):
        import torch

        warped = scores
        for warper in self.warpers:
            warped = warper(input_ids, warped)
        vocab = warped.shape[-1]
        if self.token_ids is None:
            self.token_ids = torch.arange(vocab, device=warped.device)
        keys = step_keys(self.row_keys, self.step)
        kept = int(torch.isfinite(warped).sum(dim=-1).max()) if self.filtering else vocab
        if 4 * kept > vocab:
            perturbed = warped - log_exponential_noise(keys, self.token_ids)
            return perturbed.argmax(dim=-1), perturbed  # argmax: ties go to the lowest token id
        # Top-k/top-p left few candidates: draw noise only for them (same values per token as the dense path).
        values, candidates = warped.topk(kept, dim=-1)
        perturbed = values - log_exponential_noise(keys, candidates)
        best = perturbed.max(dim=-1, keepdim=True).values
        chosen = torch.where(perturbed == best, candidates, vocab).min(dim=-1).values  # lowest id on ties, as dense
        forced = torch.full_like(warped, float("-inf"))
        forced.scatter_(1, chosen[:, None], 0.0)
        return chosen, forced

    @property
    def logprobs(self) -> list[list[float]]:
        """Per row, the log-probability of each token drawn so far (empty lists unless `settings.logprobs`)."""
        import torch

        if not self._logprobs:
            return [[] for _ in range(len(self.row_keys))]
        return torch.stack(self._logprobs, dim=1).tolist()


class TransformersBackend(Backend):
    """`generate` from transformers on a model loaded with `from_pretrained(model, revision=...)`.

    Example:
        >>> from nebula_hub.models import build_tiny_model
        >>> backend = TransformersBackend(BackendConfig(model=str(build_tiny_model()), batch_size=8))
        >>> [c.finish_reason for c in backend.generate(["hi"], SamplingSettings(n=2, max_tokens=4), progress=False)[0]]
        ['length', 'length']
    """

    name = "transformers"

    def __init__(self, config: BackendConfig):
        super().__init__(config)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = torch.device(
            ("cuda" if torch.cuda.is_available() else "cpu") if config.device == "auto" else config.device
        )
        if config.dtype == "auto":
            # bf16 on CPU is slower than fp32 for small models; on GPU use the checkpoint's own dtype.
            dtype = "auto" if self.device.type == "cuda" else torch.float32
        else:
            dtype = getattr(torch, config.dtype)
        where = f"{config.model!r}" + (f" at revision {config.revision!r}" if config.revision else "")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(config.model, revision=config.revision)
            self.model = AutoModelForCausalLM.from_pretrained(
                config.model, revision=config.revision, dtype=dtype, **config.engine_kwargs
            )
        except (OSError, ValueError) as err:
            raise NebulaError(
                f"transformers backend: cannot load model {where}: {err}",
                hint="pass a folder holding config.json, weights and tokenizer files, or a Hub repo id the current "
                "endpoint serves (check the revision exists)",
            ) from err
        self.model.to(self.device).eval()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if not self.tokenizer.chat_template:
            raise NebulaError(
                f"transformers backend: the tokenizer of {where} has no chat template",
                hint="use an instruct/chat checkpoint, or save a tokenizer with `chat_template` set",
            )
        eos = self.model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in eos:
            eos.append(self.tokenizer.eos_token_id)
        self.eos_token_ids = eos
        parameters = sum(p.numel() for p in self.model.parameters())
        # An explicit OMP_NUM_THREADS is the user's choice; otherwise small models decode single-threaded on CPU.
        self.cpu_threads = (
            1
            if self.device.type == "cpu"
            and "OMP_NUM_THREADS" not in os.environ
            and parameters < SINGLE_THREAD_MAX_PARAMS
            else None
        )
        logger.info(
            "transformers backend: loaded %s on %s (%s, %d parameters%s)",
            where,
            self.device,
            self.model.dtype,
            parameters,
            ", 1 CPU thread" if self.cpu_threads else "",
        )

    @contextmanager
    def threads(self):
        """Run torch on `self.cpu_threads` threads inside the block (restored after); a no-op when it is `None`.

        Example:
            >>> import torch
            >>> from nebula_hub.models import build_tiny_model
            >>> backend = TransformersBackend(BackendConfig(model=str(build_tiny_model()), device="cpu"))
            >>> with backend.threads():
            ...     torch.get_num_threads()
            1
        """
        if self.cpu_threads is None:
            yield
            return
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(self.cpu_threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    def _generate(
        self,
        conversations: list[Conversation],
        settings: SamplingSettings,
        progress: bool,
        on_result: ResultCallback,
    ) -> list[list[Completion]]:
        prompts = [
            self.tokenizer(render_prompt(self.tokenizer, c, settings.enable_thinking), add_special_tokens=False)[
                "input_ids"
            ]
            for c in conversations
        ]
        rows = [(i, j) for i in range(len(conversations)) for j in range(settings.n)]
        # Unseeded runs still get a (random) seed per row so the per-row generator design holds.
        row_seeds = [settings.sample_seed(j) if settings.seed is not None else secrets.randbits(62) for _, j in rows]
        # Longest first: an out-of-memory error shows up in the first batch, not after an hour.
        order = sorted(range(len(rows)), key=lambda r: -len(prompts[rows[r][0]]))
        results: list[list[Completion | None]] = [[None] * settings.n for _ in conversations]
        missing = [settings.n] * len(conversations)
        with GenerationProgress(len(rows), f"generate ({self.name})", progress) as bar, self.threads():
            for start in range(0, len(order), self.config.batch_size):
                chunk = order[start : start + self.config.batch_size]
                batch = [rows[r] for r in chunk]
                completions = self._generate_batch(
                    [prompts[i] for i, _ in batch], [row_seeds[r] for r in chunk], settings
                )
                for (i, j), completion in zip(batch, completions, strict=True):
                    results[i][j] = completion
                    missing[i] -= 1
                    if missing[i] == 0:
                        on_result(i, results[i])
                bar.update(len(batch), sum(c.completion_tokens for c in completions))
        return results

    def _generate_batch(self, prompts: list[list[int]], seeds: list[int], settings: SamplingSettings):
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        width = max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
        attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        sampler = SeededSampler(seeds, settings, self.device)
        generation_config = GenerationConfig(
            max_new_tokens=settings.max_tokens,
            do_sample=False,  # SeededSampler does the sampling; see its docstring
            eos_token_id=self.eos_token_ids,
            pad_token_id=pad,
            stop_strings=settings.stop or None,
        )
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                generation_config=generation_config,
                logits_processor=LogitsProcessorList([sampler]),
                tokenizer=self.tokenizer if settings.stop else None,
            )
        generated = output[:, width:].tolist()
        logprobs = sampler.logprobs
        return [
            self._to_completion(tokens, len(prompt), settings, logprobs[row])
            for row, (tokens, prompt) in enumerate(zip(generated, prompts, strict=True))
        ]

    def _to_completion(self, tokens: list[int], prompt_tokens: int, settings: SamplingSettings, logprobs):
        """Cut a row's tokens where it really ended (eos or a stop string) and name why it ended."""
        end, reason = len(tokens), "length"
        for position, token in enumerate(tokens):
            if token in self.eos_token_ids:
                end, reason = position + 1, "stop"
                break
        text = self.tokenizer.decode(tokens[:end], skip_special_tokens=True)
        stop_at = _first_stop(text, settings.stop)
        if stop_at is not None:
            # Fewest tokens whose text already holds the stop string (text containment grows with the prefix).
            low, high = 1, end
            while low < high:
                mid = (low + high) // 2
                if _first_stop(self.tokenizer.decode(tokens[:mid], skip_special_tokens=True), settings.stop) is None:
                    low = mid + 1
                else:
                    high = mid
            end, reason, text = low, "stop", text[:stop_at]
        return Completion(
            text=text,
            finish_reason=reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=end,
            logprobs=logprobs[:end] if settings.logprobs else None,
        )

    def close(self) -> None:
        import gc

        import torch

        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _first_stop(text: str, stops: list[str]) -> int | None:
    positions = [text.find(s) for s in stops if s in text]
    return min(positions) if positions else None
