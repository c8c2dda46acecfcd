"""The `nebula-hub generate` command: batch generation over a JSONL of conversations, resumable.

The library side lives in `nebula_hub.generate` (`generate_jsonl`); this module only parses and prints.
"""

import argparse

from nebula_hub.generate.settings import BACKENDS, BackendConfig, SamplingSettings


EPILOG = """examples:
  # tiny local model, 4 samples per line, reproducible
  nebula-hub generate prompts.jsonl --model ./tiny-qwen3 --n 4 --max-tokens 128 --seed 0 --output out.jsonl
  # a model on the Hub at a pinned revision, thinking off
  nebula-hub generate prompts.jsonl --model Qwen/Qwen3-0.6B --revision main --thinking off --output out.jsonl
  # any OpenAI-compatible server (vllm serve, SGLang, TGI, transformers serve); key from $OPENAI_API_KEY
  nebula-hub generate prompts.jsonl --backend openai --base-url http://127.0.0.1:8000/v1 --model Qwen/Qwen3-8B \\
      --max-concurrency 32 --temperature 0.6 --output out.jsonl
  # rerun the same command after an interruption: only missing lines are generated
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate completions for a JSONL of conversations (resumable)",
        description="Generate N completions per line of INPUT.jsonl (field `messages`: a list of {role, content}) "
        "with a local transformers model, an OpenAI-compatible server or vLLM. Each output line is the input line "
        "plus `completions` (text, finish_reason, prompt_tokens, completion_tokens). A rerun completes only the "
        "missing lines.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", metavar="INPUT.jsonl", help="one JSON object per line with a conversation")
    parser.add_argument("--output", "-o", required=True, metavar="OUT.jsonl", help="where to write the results")
    parser.add_argument("--model", required=True, help="local folder, Hub repo id, or the server's model name")
    parser.add_argument("--backend", default="transformers", choices=BACKENDS, help="defaults to transformers")
    parser.add_argument("--revision", help="Hub revision (branch, tag or commit sha)")
    parser.add_argument("--base-url", help="OpenAI-compatible URL for --backend openai, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key (never printed)"
    )
    parser.add_argument("--n", type=int, default=1, help="samples per conversation (default 1)")
    parser.add_argument("--temperature", type=float, default=1.0, help="0 = greedy (default 1.0)")
    parser.add_argument("--top-p", type=float, help="nucleus sampling mass")
    parser.add_argument("--top-k", type=int, help="top-k filtering")
    parser.add_argument("--max-tokens", type=int, default=512, help="most new tokens per sample (default 512)")
    parser.add_argument("--seed", type=int, help="sample j uses seed + j")
    parser.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    parser.add_argument("--thinking", choices=("on", "off"), help="Qwen3 enable_thinking (default: template's)")
    parser.add_argument("--logprobs", action="store_true", help="also save per-token log-probabilities")
    parser.add_argument("--messages-field", default="messages", help="input field with the conversation")
    parser.add_argument("--batch-size", type=int, default=16, help="sequences per generate call (transformers)")
    parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (transformers)")
    parser.add_argument("--tensor-parallel-size", type=int, default=1, help="GPUs per model (vllm)")
    parser.add_argument("--max-concurrency", type=int, default=8, help="requests in flight (openai)")
    parser.add_argument("--retries", type=int, default=5, help="extra attempts on 429/5xx/timeouts (openai)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per request (openai)")
    parser.add_argument("--overwrite", action="store_true", help="discard results made with other settings")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nebula_hub.generate.jsonl import generate_jsonl

    config = BackendConfig(
        backend=args.backend,
        model=args.model,
        revision=args.revision,
        dtype=args.dtype,
        device=args.device,
        batch_size=args.batch_size,
        tensor_parallel_size=args.tensor_parallel_size,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
        max_concurrency=args.max_concurrency,
        retries=args.retries,
        timeout=args.timeout,
    )
    settings = SamplingSettings(
        n=args.n,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        max_tokens=args.max_tokens,
        seed=args.seed,
        stop=args.stop,
        enable_thinking=None if args.thinking is None else args.thinking == "on",
        logprobs=args.logprobs,
    )
    report = generate_jsonl(
        args.input,
        args.output,
        config,
        settings,
        messages_field=args.messages_field,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(report.summary())
    return 0
