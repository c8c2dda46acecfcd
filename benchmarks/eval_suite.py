"""Eval-suite throughput on the tiny Qwen3: generation samples/s per benchmark, batched vs one prompt at a time, and
scoring samples/s per metric, one batch `compute` vs one `compute` per sample.

    python benchmarks/eval_suite.py            # every bundled item x2, 32 new tokens
    python benchmarks/eval_suite.py --quick    # every bundled item once, 16 new tokens

Scoring uses responses that exercise the real checkers: correct boxed answers (math), the bundled reference
solutions (code, run in the sandbox), "Answer: X" lines (MMLU) and the tiny model's text (IFEval).
"""

import argparse
import json
import logging
import time


def _scoring_responses(spec, samples, generated):
    rows = [json.loads(line) for line in open(spec.bundled_path())]
    if spec.area == "math":
        return [[f"So the answer is $\\boxed{{{s.reference}}}$."] for s in samples]
    if spec.name == "humaneval":
        return [
            [f"```python\n{rows[i % len(rows)]['prompt']}{rows[i % len(rows)]['canonical_solution']}```"]
            for i in range(len(samples))
        ]
    if spec.name == "mbpp":
        return [[f"```python\n{rows[i % len(rows)]['code']}\n```"] for i in range(len(samples))]
    if spec.area == "knowledge":
        return [[f"Answer: {s.reference}"] for s in samples]
    return generated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="each bundled item once, 16 new tokens")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    from nebula_hub.envinfo import device_summary, library_versions
    from nebula_hub.evaluation.benchmarks import BENCHMARKS
    from nebula_hub.evaluation.loaders import load_samples
    from nebula_hub.evaluation.metrics import load_metric
    from nebula_hub.evaluation.prompts import render_prompt
    from nebula_hub.evaluation.runner import score_benchmark
    from nebula_hub.generate import BackendConfig, SamplingSettings, get_backend
    from nebula_hub.models import build_tiny_model

    repeat, max_tokens = (1, 16) if args.quick else (2, 32)
    model = str(build_tiny_model())
    device = device_summary()
    versions = library_versions(("torch", "transformers", "evaluate", "math-verify"))
    print(f"tiny Qwen3, {device['cpu_count']} CPUs, cuda={device['cuda_available']}, {versions}")
    print(f"items: bundled sets x{repeat}; max_tokens={max_tokens}; greedy; batch size {args.batch_size} vs 1\n")

    batched = get_backend(BackendConfig(model=model, device="cpu", batch_size=args.batch_size))
    single = get_backend(BackendConfig(model=model, device="cpu", batch_size=1))
    settings = SamplingSettings(temperature=0.0, max_tokens=max_tokens, seed=0, enable_thinking=False)
    gen_rows, score_rows = [], []
    for name, spec in BENCHMARKS.items():
        samples, _ = load_samples(spec, source="bundled")
        samples = samples * repeat
        conversations = [render_prompt(spec.prompt_template, s.inputs) for s in samples]
        t0 = time.perf_counter()
        out = batched.generate(conversations, settings, progress=False)
        t1 = time.perf_counter()
        single.generate(conversations, settings, progress=False)
        t2 = time.perf_counter()
        gen_rows.append((name, len(samples), len(samples) / (t1 - t0), len(samples) / (t2 - t1)))

        responses = _scoring_responses(spec, samples, [[c.text for c in cs] for cs in out])
        # Load the metric and start the verifier pools (math processes, code sandbox workers) outside the timing.
        load_metric(spec.metric)
        score_benchmark(spec, samples[:1], responses[:1])
        t3 = time.perf_counter()
        metrics, _ = score_benchmark(spec, samples, responses)
        t4 = time.perf_counter()
        for sample, response in zip(samples, responses, strict=True):
            score_benchmark(spec, [sample], [response])
        t5 = time.perf_counter()
        score_rows.append(
            (
                name,
                spec.metric,
                len(samples),
                len(samples) / (t4 - t3),
                len(samples) / (t5 - t4),
                metrics[spec.primary].value,
            )
        )
    batched.close()
    single.close()

    print("generation (samples/s)")
    print(f"{'benchmark':<11} {'items':>5} {'batched':>9} {'one-by-one':>11} {'ratio':>6}")
    for name, n, fast, slow in gen_rows:
        print(f"{name:<11} {n:>5} {fast:>9.1f} {slow:>11.1f} {fast / slow:>5.1f}x")
    total_fast = sum(n for _, n, _, _ in gen_rows) / sum(n / f for _, n, f, _ in gen_rows)
    total_slow = sum(n for _, n, _, _ in gen_rows) / sum(n / s for _, n, _, s in gen_rows)
    print(
        f"{'all':<11} {sum(r[1] for r in gen_rows):>5} {total_fast:>9.1f} {total_slow:>11.1f} "
        f"{total_fast / total_slow:>5.1f}x\n"
    )
    print("scoring (samples/s; one compute over the benchmark vs one compute per sample)")
    print(f"{'benchmark':<11} {'metric':<15} {'items':>5} {'batched':>9} {'per-sample':>11} {'ratio':>6} {'score':>6}")
    for name, metric, n, fast, slow, score in score_rows:
        print(f"{name:<11} {metric:<15} {n:>5} {fast:>9.1f} {slow:>11.1f} {fast / slow:>5.1f}x {score:>6.2f}")


if __name__ == "__main__":
    main()
