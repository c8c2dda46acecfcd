"""`nebula-hub eval MODEL_REPO[@REV]` (run the capability suite, optionally push to the card) and
`nebula-hub eval compare REPO@REV ...` (a table of checkpoints by benchmark from their cards)."""

import argparse

from nebula_hub.errors import NebulaError


def register(subparsers: argparse._SubParsersAction) -> None:
    from nebula_hub.evaluation.benchmarks import BENCHMARKS, SUITES

    parser = subparsers.add_parser(
        "eval",
        help="evaluate a checkpoint on the capability suite, or compare checkpoints' scores",
        description=(
            "Evaluate a checkpoint (a Hub model repo at a revision, or a local folder) on IFEval, math (GSM8K, "
            "MATH-500, AIME), code (HumanEval, MBPP) and knowledge (MMLU): generate through a backend, score with "
            "nebula-hub's evaluate metrics (shared verifiers), and print scores with n and 95%% intervals and the "
            "suite average. With --push, per-sample details go to the dataset <repo>-evals on the same branch and the "
            "scores, each with its settings, into the card's model-index on the checkpoint's branch (tags never "
            "move). `nebula-hub eval compare REPO@REV ...` reads only the cards and prints a markdown table with "
            f"deltas against --baseline. Benchmarks: {', '.join(BENCHMARKS)}. Suites: "
            + "; ".join(f"{k} = {', '.join(v)}" for k, v in SUITES.items())
            + ". Hub: --hub, else HF_ENDPOINT, else the local Hub; benchmark data: the public Hub datasets "
            "(--data-hub, default huggingface.co) or the bundled offline sets (--data bundled)."
        ),
        epilog=(
            "examples:\n"
            "  nebula-hub eval local/tiny-sft@sft --data bundled --limit 5 --push\n"
            "  nebula-hub eval my-org/nebula-8b@grpo --suite reasoning --backend vllm --samples 4 --temperature 0.6 \\\n"
            "      --top-p 0.95 --k 1,4 --push --hub https://huggingface.co\n"
            "  nebula-hub eval my-org/nebula-8b@sft --benchmarks ifeval,gsm8k --backend openai \\\n"
            "      --base-url http://127.0.0.1:8000/v1 --served-model nebula-8b\n"
            "  nebula-hub eval ./checkpoints/step-100 --benchmarks mmlu --data bundled\n"
            "  nebula-hub eval compare local/tiny-sft@sft local/tiny-sft@grpo --baseline local/tiny-sft@sft \\\n"
            "      --csv table.csv"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "model",
        metavar="MODEL_REPO[@REV] | compare",
        help="the checkpoint to evaluate, or `compare` followed by checkpoints",
    )
    parser.add_argument("refs", nargs="*", metavar="REPO@REV", help="with `compare`: the checkpoints to compare")
    parser.add_argument(
        "--hub",
        metavar="URL",
        help="hub of the model and the results (default: HF_ENDPOINT, else the local Hub); token: HF_TOKEN",
    )
    run = parser.add_argument_group("evaluation")
    run.add_argument("--suite", choices=sorted(SUITES), default="instruct", help="benchmark suite (default: instruct)")
    run.add_argument("--benchmarks", metavar="A,B", help="comma-separated benchmarks (overrides --suite)")
    run.add_argument(
        "--data",
        choices=("hub", "bundled"),
        default="hub",
        help="benchmark data: the public Hub datasets (default) or the bundled offline sets",
    )
    run.add_argument(
        "--data-hub",
        metavar="URL",
        help="hub serving benchmark datasets (default: HF_ENDPOINT, else https://huggingface.co)",
    )
    run.add_argument(
        "--dataset",
        action="append",
        default=[],
        metavar="NAME=REPO[:CONFIG][@REV]",
        help="read a benchmark from another dataset repo with the same layout (repeatable)",
    )
    run.add_argument(
        "--data-file",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="read a benchmark from a local .jsonl/.parquet file with the public layout (repeatable)",
    )
    run.add_argument("--limit", type=int, metavar="N", help="first N items of each benchmark")
    run.add_argument(
        "--backend",
        choices=("transformers", "openai", "vllm"),
        default="transformers",
        help="generation backend (default: transformers)",
    )
    run.add_argument("--base-url", metavar="URL", help="openai backend: the server's /v1 URL (key: OPENAI_API_KEY)")
    run.add_argument("--served-model", metavar="NAME", help="openai backend: the model name the server knows")
    run.add_argument("--batch-size", type=int, default=16, help="sequences per batch / requests in flight")
    run.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"), default="auto")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (transformers)")
    run.add_argument(
        "--thinking", choices=("on", "off"), help="thinking mode (default: off for instruct, on for reasoning)"
    )
    run.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    run.add_argument("--top-p", type=float, help="nucleus sampling mass")
    run.add_argument("--top-k", type=int, help="top-k sampling")
    run.add_argument("--max-tokens", type=int, help="new tokens per response (default: per benchmark)")
    run.add_argument("--samples", type=int, default=1, help="samples per prompt (default: 1)")
    run.add_argument("--k", default="1", metavar="K1,K2", help="pass@k values for code, each <= --samples")
    run.add_argument("--seed", type=int, default=0, help="sample j of a prompt uses seed + j (default: 0)")
    run.add_argument("--output", metavar="FILE", help="results JSON (default: eval-results/<repo>/<sha>/...)")
    run.add_argument("--push", action="store_true", help="publish details and update the model card")
    run.add_argument("--details-repo", metavar="NS/NAME", help="details dataset (default: <model-repo>-evals)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    cmp = parser.add_argument_group("compare")
    cmp.add_argument("--baseline", metavar="REPO@REV", help="compare: the checkpoint deltas are taken against")
    cmp.add_argument("--csv", metavar="FILE", help="compare: also write the table as CSV")
    parser.set_defaults(func=run_eval)


def _pairs(values: list[str], option: str) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise NebulaError(f"{option} {value!r} is not NAME=VALUE", hint=f"e.g. {option} gsm8k=...")
        out[name] = rest
    return out


def run_eval(args: argparse.Namespace) -> int:
    if args.model == "compare":
        return run_compare(args)
    if args.refs:
        raise NebulaError(
            f"eval: unexpected arguments {args.refs}",
            hint="evaluate one checkpoint per command; "
            "to compare checkpoints use `nebula-hub eval compare REPO@A REPO@B`",
        )
    if args.baseline or args.csv:
        raise NebulaError(
            "eval: --baseline and --csv belong to `nebula-hub eval compare`",
            hint="nebula-hub eval compare REPO@A REPO@B --baseline REPO@A --csv table.csv",
        )
    from pathlib import Path

    from nebula_hub.evaluation.runner import EvalConfig, run_evaluation

    if not Path(args.model).is_dir():
        from nebula_hub.hub import resolve_hub

        print(resolve_hub(args.hub).describe())
    try:
        k = [int(x) for x in args.k.split(",") if x.strip()]
    except ValueError:
        raise NebulaError(f"eval: --k {args.k!r} is not a list of integers", hint="e.g. --k 1,4") from None
    config = EvalConfig(
        model=args.model,
        hub=args.hub,
        suite=args.suite,
        benchmarks=args.benchmarks.split(",") if args.benchmarks else None,
        data=args.data,
        data_hub=args.data_hub,
        dataset_repos=_pairs(args.dataset, "--dataset"),
        data_files=_pairs(args.data_file, "--data-file"),
        limit=args.limit,
        backend=args.backend,
        base_url=args.base_url,
        served_model=args.served_model,
        batch_size=args.batch_size,
        dtype=args.dtype,
        device=args.device,
        thinking=None if args.thinking is None else args.thinking == "on",
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        max_tokens=args.max_tokens,
        samples=args.samples,
        seed=args.seed,
        k=k,
        output=args.output,
        push=args.push,
        details_repo=args.details_repo,
        progress=not args.quiet,
    )
    report = run_evaluation(config)
    print(report.table())
    print(f"results: {report.card['output']}")
    if report.details:
        d = report.details
        print(f"details: {d['repo']}@{d['revision']} (commit {d['commit']})")
    if report.card.get("commit"):
        c = report.card
        print(f"card: {c['repo']}@{c['branch']} updated (commit {c['commit']}, parent {c['parent']})")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from nebula_hub.evaluation.compare import compare_checkpoints
    from nebula_hub.hub import resolve_hub

    if args.push:
        raise NebulaError("eval compare: --push does not apply", hint="compare only reads cards")
    if not args.refs:
        raise NebulaError("eval compare: no checkpoints given", hint="nebula-hub eval compare REPO@A REPO@B")
    print(resolve_hub(args.hub).describe())
    table = compare_checkpoints(args.refs, baseline=args.baseline, hub=args.hub)
    print(table.markdown())
    if args.csv:
        print(f"csv: {table.save_csv(args.csv)}")
    return 0
