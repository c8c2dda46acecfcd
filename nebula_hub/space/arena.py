"""The Arena: one prompt, 2 to 4 checkpoints answering side by side, streamed token by token, with the `<think>` part
split off, and a verifier verdict per answer when the prompt carries a gold answer (math verifier) or IFEval
constraints (`check_constraints`).

Checkpoints are fetched from the Space's hub at their pinned commit (`HfApi.snapshot_download`) and loaded with the
shared transformers backend (`nebula_hub.generate`), kept in a small LRU pool.

Example:
    >>> pool = ModelPool(api, device="cpu")                                                     # doctest: +SKIP
    >>> request = ArenaRequest(prompt="What is 2+2?", max_new_tokens=32, temperature=0.0)      # doctest: +SKIP
    >>> for panes in stream_arena(pool, [ckpt_a, ckpt_b], request):                           # doctest: +SKIP
    ...     print([p.answer for p in panes])
"""

from __future__ import annotations

import html
import json
import logging
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from nebula_hub.errors import NebulaError
from nebula_hub.space.config import MAX_ARENA_PANES
from nebula_hub.space.hub_reader import CheckpointInfo


logger = logging.getLogger(__name__)
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


@dataclass
class ArenaRequest:
    """One arena round: the prompt, sampling settings, and what to verify answers against."""

    prompt: str
    max_new_tokens: int = 128
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 20
    thinking: bool = False
    seed: int | None = None
    system_prompt: str = ""
    gold: str = ""
    constraints: str = ""

    def __post_init__(self):
        if not self.prompt or not self.prompt.strip():
            raise NebulaError("the arena prompt is empty", hint="type a prompt first")
        if not 1 <= int(self.max_new_tokens) <= 32768:
            raise NebulaError(f"max new tokens must be in [1, 32768], got {self.max_new_tokens}")
        if self.constraints.strip():
            from nebula_hub.verify.ifeval import InvalidConstraintError, parse_constraints

            try:
                parse_constraints(self.constraints)
            except InvalidConstraintError as err:
                raise NebulaError(f"IFEval constraints: {err.message}", hint=err.hint) from None

    def conversation(self) -> list[dict[str, str]]:
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt.strip() else []
        return system + [{"role": "user", "content": self.prompt}]


@dataclass
class Pane:
    """One checkpoint's answer as it streams: thinking and answer text, status, counts and verdicts."""

    label: str
    sha: str
    raw: str = ""
    status: str = "queued"  # queued | loading | generating | done | error
    tokens: int = 0
    seconds: float = 0.0
    finish_reason: str | None = None
    error: str | None = None
    verdicts: list[Any] = field(default_factory=list)  # VerificationResult

    @property
    def thinking(self) -> str | None:
        return split_thinking(self.raw)[0]

    @property
    def answer(self) -> str:
        return split_thinking(self.raw)[1]


def split_thinking(text: str) -> tuple[str | None, str]:
    """`(thinking, answer)` from a Qwen3-style response; thinking is None when there is no `<think>` part.

    An unclosed `<think>` (still thinking, or truncated) is all thinking; a lone `</think>` (the template opened the
    block in the prompt) closes a thinking part that starts at the beginning.

    Example:
        >>> split_thinking("<think>add them</think>\\n\\n4")
        ('add them', '4')
        >>> split_thinking("no thoughts")
        (None, 'no thoughts')
    """
    start = text.find(THINK_OPEN)
    end = text.find(THINK_CLOSE)
    if start == -1 and end == -1:
        return None, text.strip()
    if start == -1 or (end != -1 and end < start):
        return text[:end].strip(), text[end + len(THINK_CLOSE) :].strip()
    if end == -1:
        return text[start + len(THINK_OPEN) :].strip(), text[:start].strip()
    return text[start + len(THINK_OPEN) : end].strip(), (text[:start] + text[end + len(THINK_CLOSE) :]).strip()


class ModelPool:
    """Checkpoints loaded on demand (snapshot at the pinned sha, transformers backend), least recently used evicted.

    Example:
        >>> pool = ModelPool(api, device="cpu", capacity=2)  # doctest: +SKIP
        >>> backend = pool.get("local/nebula-tiny-quickstart", "4f1c...")  # doctest: +SKIP
    """

    def __init__(self, api, device: str = "auto", capacity: int = 4):
        self.api, self.device, self.capacity = api, device, max(capacity, MAX_ARENA_PANES)
        self._models: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()
        # transformers' from_pretrained patches torch globally (meta-device init) while it loads: two loads in two
        # threads corrupt each other ("Cannot copy out of meta tensor"), so loads run one at a time.
        self._load_lock = threading.Lock()

    def get(self, repo: str, sha: str):
        """The loaded `TransformersBackend` for `repo` at commit `sha`."""
        from nebula_hub.generate import BackendConfig, get_backend

        key = (repo, sha)
        with self._guard:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock, self._load_lock:  # two panes asking for one checkpoint load it once
            with self._guard:
                if key in self._models:
                    return self._models[key]
            folder = self.api.snapshot_download(
                repo, revision=sha, allow_patterns=["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model"]
            )
            backend = get_backend(BackendConfig(backend="transformers", model=folder, device=self.device))
            with self._guard:
                self._models[key] = backend
                while len(self._models) > self.capacity:
                    _, old = self._models.popitem(last=False)
                    old.close()
            return backend

    def close(self) -> None:
        with self._guard:
            for backend in self._models.values():
                backend.close()
            self._models.clear()


def _generate_into(pool: ModelPool, index: int, ckpt: CheckpointInfo, request: ArenaRequest, events: queue.Queue):
    """Worker: load the checkpoint, stream its answer into `events` as (index, kind, payload)."""
    from transformers import GenerationConfig, LogitsProcessorList, TextIteratorStreamer

    # Private but shared: the backend's per-row seeded sampler, so a seeded arena answer is exactly what
    # `TransformersBackend.generate` gives for the same seed (the backend has no streaming API of its own).
    from nebula_hub.generate.settings import SamplingSettings
    from nebula_hub.generate.transformers_backend import SeededSampler, render_prompt

    try:
        events.put((index, "status", "loading"))
        backend = pool.get(ckpt.ref.repo, ckpt.sha)
        tok, model = backend.tokenizer, backend.model
        text = render_prompt(tok, request.conversation(), request.thinking)
        ids = tok(text, add_special_tokens=False, return_tensors="pt")["input_ids"].to(model.device)
        settings = SamplingSettings(
            temperature=float(request.temperature),
            top_p=float(request.top_p) or None,
            top_k=int(request.top_k) or None,
            max_tokens=int(request.max_new_tokens),
            seed=request.seed,
        )
        seed = request.seed if request.seed is not None else int.from_bytes(__import__("os").urandom(7), "big")
        # transformers' TextIteratorStreamer on the loaded model: the shared backend returns whole completions only.
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=False)
        config = GenerationConfig(
            max_new_tokens=settings.max_tokens,
            do_sample=False,
            eos_token_id=backend.eos_token_ids,
            pad_token_id=tok.pad_token_id,
        )
        counted: list[int] = []

        def run():
            import torch

            with torch.inference_mode():
                out = model.generate(
                    input_ids=ids,
                    attention_mask=torch.ones_like(ids),
                    generation_config=config,
                    logits_processor=LogitsProcessorList([SeededSampler([seed], settings, model.device)]),
                    streamer=streamer,
                )
            counted.append(out.shape[1] - ids.shape[1])

        events.put((index, "status", "generating"))
        start = time.perf_counter()
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        for chunk in streamer:
            events.put((index, "text", chunk))
        worker.join()
        new = counted[0] if counted else 0
        events.put(
            (
                index,
                "done",
                {
                    "tokens": new,
                    "seconds": time.perf_counter() - start,
                    "finish_reason": "length" if new >= settings.max_tokens else "stop",
                },
            )
        )
    except NebulaError as err:
        events.put((index, "error", f"{err.message}" + (f" ({err.hint})" if err.hint else "")))
    except Exception as err:  # a checkpoint that fails to load or generate must not take the other panes down
        logger.exception("arena: %s failed", ckpt.label)
        events.put((index, "error", f"{type(err).__name__}: {err}"))


def clean_text(text: str, special_tokens: list[str]) -> str:
    """Remove special tokens (end-of-turn, padding...) from streamed text, keeping the think markers."""
    for token in special_tokens:
        if token not in (THINK_OPEN, THINK_CLOSE):
            text = text.replace(token, "")
    return text


def verify_answer(pane: Pane, request: ArenaRequest) -> list:
    """Verdicts for a finished answer: math against the gold answer, IFEval constraints against the answer text."""
    from nebula_hub.verify import check_constraints, verify_math

    out = []
    if request.gold.strip():
        out.append(verify_math(pane.raw, request.gold.strip()))
    if request.constraints.strip():
        out.append(check_constraints(pane.answer, json.loads(request.constraints), prompt=request.prompt))
    return out


def stream_arena(pool: ModelPool, checkpoints: list[CheckpointInfo], request: ArenaRequest) -> Iterator[list[Pane]]:
    """Generate every checkpoint's answer concurrently and yield all panes each time any of them changes; the last
    yield has every pane done (or in error) with its verdicts.

    Raises:
        `NebulaError`: fewer than 2 or more than 4 checkpoints.
    """
    if not 2 <= len(checkpoints) <= MAX_ARENA_PANES:
        raise NebulaError(
            f"the arena compares 2 to {MAX_ARENA_PANES} checkpoints, got {len(checkpoints)}",
            hint="tick between two and four checkpoints",
        )
    panes = [Pane(label=c.label, sha=c.sha) for c in checkpoints]
    events: queue.Queue = queue.Queue()
    specials: dict[int, list[str]] = {}
    for i, ckpt in enumerate(checkpoints):
        threading.Thread(target=_generate_into, args=(pool, i, ckpt, request, events), daemon=True).start()
    pending = len(panes)
    yield panes
    while pending:
        index, kind, payload = events.get()
        pane = panes[index]
        if kind == "status":
            pane.status = payload
        elif kind == "text":
            if index not in specials:
                backend = pool.get(checkpoints[index].ref.repo, checkpoints[index].sha)
                specials[index] = list(backend.tokenizer.all_special_tokens)
            pane.raw += clean_text(payload, specials[index])
            pane.tokens += 1
        elif kind == "done":
            pane.status, pane.tokens = "done", payload["tokens"]
            pane.seconds, pane.finish_reason = payload["seconds"], payload["finish_reason"]
            pane.verdicts = verify_answer(pane, request)
            pending -= 1
        elif kind == "error":
            pane.status, pane.error = "error", payload
            pending -= 1
        # Coalesce bursts: drain whatever else is already queued before yielding (fewer UI updates).
        if kind == "text" and not events.empty():
            continue
        yield panes


# ---- rendering for the UI ------------------------------------------------------------------------------------------
def chat_messages(pane: Pane, request: ArenaRequest) -> list[dict[str, Any]]:
    """The pane as Chatbot messages: the prompt, the thinking (a collapsible thought), the answer."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": request.prompt}]
    if pane.status == "error":
        messages.append({"role": "assistant", "content": f"**Error:** {pane.error}"})
        return messages
    thinking, answer = split_thinking(pane.raw)
    if thinking is not None:
        still = pane.status != "done" and THINK_CLOSE not in pane.raw
        meta = {"title": "Thinking", "status": "pending" if still else "done"}
        if not still and pane.seconds:
            meta["log"] = f"{len(thinking.split())} words"
        messages.append({"role": "assistant", "content": thinking or "…", "metadata": meta})
    if answer or pane.status == "done":
        messages.append({"role": "assistant", "content": answer or "_(empty answer)_"})
    elif pane.status in ("queued", "loading"):
        messages.append({"role": "assistant", "content": f"_{pane.status} {pane.label}…_"})
    return messages


def pane_footer(pane: Pane) -> str:
    """HTML under a pane: progress or counts, then one badge per verdict."""
    if pane.status == "error":
        return "<div class='nh-foot nh-err'>failed</div>"
    if pane.status != "done":
        return f"<div class='nh-foot'>{html.escape(pane.status)}… {pane.tokens} chunks</div>"
    speed = pane.tokens / pane.seconds if pane.seconds else 0.0
    parts = [
        f"<span class='nh-stat'>{pane.tokens} tokens · {pane.seconds:.1f} s · {speed:.1f} tok/s · "
        f"{html.escape(pane.finish_reason or '')}</span>"
    ]
    for v in pane.verdicts:
        cls = "nh-pass" if v.verdict == "pass" else "nh-fail" if v.verdict == "fail" else "nh-warn"
        icon = "✓" if v.verdict == "pass" else "✗" if v.verdict == "fail" else "?"
        detail = html.escape(re.sub(r"\s+", " ", v.detail or ""))[:220]
        parts.append(
            f"<span class='nh-badge {cls}' title='{detail}'>{icon} {html.escape(v.verifier)}: "
            f"{html.escape(v.verdict)} ({v.score:.2f})</span><span class='nh-detail'>{detail}</span>"
        )
    return "<div class='nh-foot'>" + "".join(parts) + "</div>"
