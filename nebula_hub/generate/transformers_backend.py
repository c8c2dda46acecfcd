"""In-process generation with transformers `generate`: batched, left-padded, on CPU or one GPU.

Rows (conversation x sample) are sorted by prompt length and cut into batches of `batch_size`, so padding stays
small. Each row samples with its own `torch.Generator` seeded with `seed + sample_index`, so a sample does not depend
on which batch it landed in: one-prompt-at-a-time, batched and resumed runs give the same text.

    from nebula_hub.generate import BackendConfig, SamplingSettings, get_backend
    backend = get_backend(BackendConfig(backend="transformers", model="Qwen/Qwen3-0.6B", revision="main"))
    backend.generate(["What is 2+2?"], SamplingSettings(n=4, temperature=0.7, max_tokens=128, seed=0))
"""

import logging
import secrets

from nebula_hub.errors import NebulaError
from nebula_hub.generate.base import Backend, Conversation, GenerationProgress, ResultCallback
from nebula_hub.generate.settings import BackendConfig, Completion, SamplingSettings


logger = logging.getLogger(__name__)


def render_prompt(tokenizer, conversation: Conversation, enable_thinking: bool | None) -> str:
    """The chat-template text the model continues from (generation prompt added; `enable_thinking` passed if set).

    Example:
        >>> tok = AutoTokenizer.from_pretrained(build_tiny_model())
        >>> render_prompt(tok, [{"role": "user", "content": "hi"}], enable_thinking=False).endswith("</think>\\n\\n")
        True
    """
    kwargs = {} if enable_thinking is None else {"enable_thinking": enable_thinking}
    return tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True, **kwargs)


class SeededSampler:
    """A logits processor that picks each row's next token with that row's own generator.

    transformers applies custom logits processors *before* its temperature/top-k/top-p warpers and samples the
    whole batch from one global RNG, so per-sample seeds need this: we run generate in greedy mode, apply the same
    warper classes here, draw from the row's generator, and return scores where only the drawn token is finite
    (greedy then takes it). It also records each drawn token's log-probability under the unmodified distribution.
    """

    def __init__(self, seeds: list[int], settings: SamplingSettings, device):
        import torch
        from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

        self.greedy = settings.greedy
        self.generators = [torch.Generator(device=device).manual_seed(seed) for seed in seeds]
        self.warpers = []
        if not self.greedy:
            if settings.temperature != 1.0:
                self.warpers.append(TemperatureLogitsWarper(settings.temperature))
            if settings.top_k is not None:
                self.warpers.append(TopKLogitsWarper(top_k=settings.top_k))
            if settings.top_p is not None and settings.top_p < 1.0:
                self.warpers.append(TopPLogitsWarper(top_p=settings.top_p))
        self.logprobs: list[list[float]] = [[] for _ in seeds]

    def __call__(self, input_ids, scores):
        import torch

        raw_logprobs = torch.log_softmax(scores.float(), dim=-1)
        if self.greedy:
            chosen = scores.argmax(dim=-1)
        else:
            warped = scores.float()
            for warper in self.warpers:
                warped = warper(input_ids, warped)
            probs = torch.softmax(warped, dim=-1)
            chosen = torch.cat(
                [torch.multinomial(probs[row], 1, generator=gen) for row, gen in enumerate(self.generators)]
            )
        for row, token in enumerate(chosen.tolist()):
            self.logprobs[row].append(float(raw_logprobs[row, token]))
        forced = torch.full_like(scores, float("-inf"))
        forced.scatter_(1, chosen.unsqueeze(1), 0.0)
        return forced


class TransformersBackend(Backend):
    """`generate` from transformers on a model loaded with `from_pretrained(model, revision=...)`.

    Example:
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
        logger.info("transformers backend: loaded %s on %s (%s)", where, self.device, self.model.dtype)

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
        with GenerationProgress(len(rows), f"generate ({self.name})", progress) as bar:
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
        return [
            self._to_completion(tokens, len(prompt), settings, sampler.logprobs[row])
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
