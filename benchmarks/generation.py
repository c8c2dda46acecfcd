"""Generation throughput: transformers batched vs one prompt at a time, and an OpenAI-compatible server at several
concurrency levels.

    python benchmarks/generation.py [--quick] [--model-size tiny|0.6b] [--device cpu|cuda] [--skip-server] [--threads N]

Baselines run in the same process: `batch_size=1` for the transformers backend, `max_concurrency=1` for the openai
backend (against `transformers serve` on loopback). `--model-size 0.6b` builds a random-init model with
Qwen3-0.6B's body (28 layers, hidden 1024) and the tiny tokenizer, in bf16 on a GPU (fp32 on CPU).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nebula_hub.generate import BackendConfig, SamplingSettings, get_backend  # noqa: E402
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
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    on_gpu = args.device.startswith("cuda") or (args.device == "auto" and torch.cuda.is_available())
    count, max_tokens = (16, 16) if args.quick else (64, 32)
    model = build_model(args.model_size)
    bench_transformers(
        model,
        args.device,
        count,
        max_tokens,
        batch_size=16 if args.quick else 32,
        dtype="bfloat16" if (on_gpu and args.model_size != "tiny") else "auto",
    )
    if not args.skip_server:
        # Fewer requests than the in-process run: transformers serve handles them far more slowly on CPU.
        bench_server(build_tiny_model(), count // 4 if args.quick else 32, 16, [1, 4, 16], args.threads)


if __name__ == "__main__":
    main()
