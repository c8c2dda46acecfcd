"""Generation throughput: transformers batched vs one prompt at a time, seeded (per-sample reproducible) vs plain
unseeded sampling, and an OpenAI-compatible server at several concurrency levels.

    python benchmarks/generation.py [--quick] [--model-size tiny|0.6b] [--device cpu|cuda] [--skip-server] [--threads N]
                                    [--repeats N]

Baselines run in the same process: `batch_size=1` for the transformers backend; transformers' own
`model.generate(do_sample=True)` (one global RNG, no per-sample seeds) on the same sorted, left-padded batches for
seeded sampling; `max_concurrency=1` for the openai backend (against `transformers serve` on loopback). `--model-size 0.6b` builds a random-init model with
Qwen3-0.6B's body (28 layers, hidden 1024) and the tiny tokenizer, in bf16 on a GPU (fp32 on CPU).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nebula_hub.generate import BackendConfig, SamplingSettings, get_backend  # noqa: E402
from nebula_hub.generate.transformers_backend import render_prompt  # noqa: E402
from nebula_hub.models import build_tiny_model  # noqa: E402


def prompts(count: int) -> list[list[dict]]:
    topics = ["fractions", "primes", "the moon", "sorting", "rivers", "chess", "tea", "graphs"]
    return [
        [
            {
                "role": "user",
                "content": f"Question {i}: tell me about {topics[i % len(topics)]} " + "in detail " * (i % 5),
            }
        ]
        for i in range(count)
    ]


def build_model(size: str) -> Path:
    tiny = build_tiny_model()
    if size == "tiny":
        return tiny
    import torch
    from transformers import AutoTokenizer, GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    target = Path(tempfile.gettempdir()) / "nebula-bench-qwen3-0.6b-body"
    if (target / "config.json").exists():
        return target
    tok = AutoTokenizer.from_pretrained(tiny)
    config = Qwen3Config(
        vocab_size=len(tok),
        hidden_size=1024,
        intermediate_size=3072,
        num_hidden_layers=28,
        num_attention_heads=16,
        num_key_value_heads=8,
        head_dim=128,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(config).to(torch.bfloat16)
    model.generation_config = GenerationConfig(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    model.save_pretrained(target)
    tok.save_pretrained(target)
    return target


def timed(backend, conversations, settings):
    start = time.perf_counter()
    results = backend.generate(conversations, settings, progress=False)
    seconds = time.perf_counter() - start
    tokens = sum(c.completion_tokens for row in results for c in row)
    return results, seconds, tokens


def bench_transformers(model: Path, device: str, count: int, max_tokens: int, batch_size: int, dtype: str) -> None:
    conversations = prompts(count)
    # No eos/stop can end a sample early on a random model's greedy "\n" loop, so every sample runs max_tokens.
    settings = SamplingSettings(n=1, temperature=1.0, max_tokens=max_tokens, seed=0)
    backend = get_backend(BackendConfig(model=str(model), device=device, dtype=dtype, batch_size=batch_size))
    timed(backend, conversations[:2], settings)  # warm-up
    batched, t_batched, tok_batched = timed(backend, conversations, settings)
    backend.config.batch_size = 1
    single, t_single, tok_single = timed(backend, conversations, settings)
    same = [[c.text for c in r] for r in batched] == [[c.text for c in r] for r in single]
    print(
        f"transformers backend ({model.name}, {backend.device}, {backend.model.dtype}), {count} prompts x "
        f"{max_tokens} new tokens:"
    )
    print(
        f"  one prompt at a time : {tok_single / t_single:9.1f} tok/s  ({count / t_single:6.2f} samples/s, {t_single:.2f}s)"
    )
    print(
        f"  batched (bs={batch_size:<3})     : {tok_batched / t_batched:9.1f} tok/s  ({count / t_batched:6.2f} samples/s, {t_batched:.2f}s)"
    )
    print(
        f"  ratio batched / one-at-a-time: {(tok_batched / t_batched) / (tok_single / t_single):.2f}x; "
        f"identical samples: {same}"
    )
    backend.close()


def unseeded_generate(backend, conversations, settings: SamplingSettings) -> int:
    """transformers' own sampling (`do_sample=True`, global RNG) on the backend's batches; returns completion tokens.

    Same work as the backend apart from the draw: prompts rendered and tokenized, sorted longest first, left-padded
    batches of `batch_size`, texts decoded, tokens counted up to and including the first end-of-sequence token.
    """
    import torch

    tok = backend.tokenizer
    prompts = [
        tok(render_prompt(tok, c, settings.enable_thinking), add_special_tokens=False)["input_ids"]
        for c in conversations
        for _ in range(settings.n)
    ]
    prompts.sort(key=len, reverse=True)
    pad, eos, tokens = tok.pad_token_id, backend.eos_token_ids, 0
    for start in range(0, len(prompts), backend.config.batch_size):
        batch = prompts[start : start + backend.config.batch_size]
        width = max(len(p) for p in batch)
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in batch], device=backend.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch], device=backend.device)
        with torch.inference_mode():
            output = backend.model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                do_sample=True,
                temperature=settings.temperature,
                top_k=settings.top_k or None,
                top_p=settings.top_p,
                max_new_tokens=settings.max_tokens,
                eos_token_id=eos,
                pad_token_id=pad,
            )
        for row in output[:, width:].tolist():
            end = next((i + 1 for i, t in enumerate(row) if t in eos), len(row))
            tok.decode(row[:end], skip_special_tokens=True)
            tokens += end
    return tokens


def bench_seeded(model: Path, device: str, count: int, max_tokens: int, batch_size: int, dtype: str, repeats: int):
    """Seeded backend sampling vs transformers' unseeded sampling, interleaved `repeats` times (medians)."""
    conversations = prompts(count)
    backend = get_backend(BackendConfig(model=str(model), device=device, dtype=dtype, batch_size=batch_size))
    import torch

    with backend.threads():
        threads = torch.get_num_threads()
    print(
        f"seeded vs unseeded sampling ({model.name}, {backend.device}, {backend.model.dtype}, {threads} torch "
        f"threads for both), {count} prompts x {max_tokens} new tokens, bs={batch_size}, median of {repeats}:"
    )
    for label, knobs in (
        ("temperature 1.0", {}),
        ("temperature 0.7, top_p 0.95", {"temperature": 0.7, "top_p": 0.95}),
    ):
        settings = SamplingSettings(**{"n": 1, "temperature": 1.0, "max_tokens": max_tokens, "seed": 0, **knobs})
        timed(backend, conversations[:2], settings)  # warm-up
        with backend.threads():
            unseeded_generate(backend, conversations[:2], settings)
        seeded_rates, unseeded_rates, ratios = [], [], []
        for _ in range(repeats):
            _, seconds, tokens = timed(backend, conversations, settings)
            seeded_rates.append(tokens / seconds)
            start = time.perf_counter()
            with backend.threads():  # the same thread count the backend decodes with
                tokens = unseeded_generate(backend, conversations, settings)
            unseeded_rates.append(tokens / (time.perf_counter() - start))
            ratios.append(seeded_rates[-1] / unseeded_rates[-1])
        print(
            f"  {label:<28}: seeded {statistics.median(seeded_rates):9.1f} tok/s, unseeded "
            f"{statistics.median(unseeded_rates):9.1f} tok/s, ratio seeded / unseeded: "
            f"{statistics.median(ratios):.2f}x (per run: {', '.join(f'{r:.2f}' for r in ratios)})"
        )
    backend.close()


def bench_server(model: Path, count: int, max_tokens: int, levels: list[int], threads: int | None) -> None:
    port = 18000 + os.getpid() % 1000
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("transformers")),
            "serve",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        conversations = prompts(count)
        settings = SamplingSettings(n=1, temperature=0, max_tokens=max_tokens)
        print(
            f"openai backend -> transformers serve ({model.name}) on loopback, {count} requests x {max_tokens} tokens:"
        )
        baseline = None
        for level in levels:
            backend = get_backend(
                BackendConfig(
                    backend="openai", model=str(model), base_url=f"http://127.0.0.1:{port}/v1", max_concurrency=level
                )
            )
            if baseline is None:
                timed(backend, conversations[:2], settings)  # warm-up (model load)
            _, seconds, tokens = timed(backend, conversations, settings)
            rate = tokens / seconds
            baseline = baseline or rate
            print(
                f"  concurrency {level:>2}: {rate:9.1f} tok/s  ({count / seconds:6.2f} req/s)  ratio vs 1: {rate / baseline:.2f}x"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer prompts and tokens")
    parser.add_argument("--model-size", choices=("tiny", "0.6b"), default="tiny")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--skip-server", action="store_true", help="only the transformers backend")
    parser.add_argument("--threads", type=int, help="torch CPU threads (1 is steadier on a shared, loaded machine)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of the seeded/unseeded comparison")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    on_gpu = args.device.startswith("cuda") or (args.device == "auto" and torch.cuda.is_available())
    count, max_tokens = (16, 16) if args.quick else (64, 32)
    model = build_model(args.model_size)
    dtype = "bfloat16" if (on_gpu and args.model_size != "tiny") else "auto"
    batch_size = 16 if args.quick else 32
    bench_transformers(model, args.device, count, max_tokens, batch_size=batch_size, dtype=dtype)
    bench_seeded(model, args.device, count, max_tokens, batch_size, dtype, repeats=1 if args.quick else args.repeats)
    if not args.skip_server:
        # Fewer requests than the in-process run: transformers serve handles them far more slowly on CPU.
        bench_server(build_tiny_model(), count // 4 if args.quick else 32, 16, [1, 4, 16], args.threads)


if __name__ == "__main__":
    main()
