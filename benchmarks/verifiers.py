"""Verifier throughput against naive baselines run in the same process.

- math checks/s: `verify_math_batch` over a 2-process pool vs math-verify called sequentially in this process
  (parse gold, parse answer, verify), on MATH-500 solutions against their gold answers;
- code test runs/s: HumanEval canonical solutions in the sandbox pool (2 workers) vs one fresh `python` subprocess per
  test run (program + tests written to a temporary folder, as a naive harness does);
- IF checks/s: `nebula_hub.verify.ifeval.check_constraints` on IFEval's GPT-4 responses, if that module is present.

Run: `python benchmarks/verifiers.py [--quick]` (reads ../shared/data).
"""

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def bench_math(n: int) -> None:
    from math_verify import parse, verify

    from nebula_hub.verify.math import MathPool, _gold_text

    rows = [json.loads(line) for line in open(DATA / "math" / "math500_test.jsonl")][:n]
    t = time.perf_counter()
    ok = sum(bool(verify(parse(_gold_text(r["answer"])), parse(r["solution"]))) for r in rows)
    base = len(rows) / (time.perf_counter() - t)
    pairs = [(r["solution"], r["answer"]) for r in rows]
    with MathPool(workers=2) as mp:
        t = time.perf_counter()
        mp.verify(pairs[:2], progress=False)  # start the workers (imports sympy and math-verify)
        startup = time.perf_counter() - t
        t = time.perf_counter()
        res = mp.verify(pairs, progress=False)
        pool = len(rows) / (time.perf_counter() - t)
    agree = sum(r.verdict == "pass" for r in res)
    print(f"math  {len(rows)} checks: sequential math-verify {base:7.1f}/s ({ok} pass) | pool(2) {pool:7.1f}/s "
          f"({agree} pass; start-up {startup:.1f}s not counted) | ratio {pool / base:.2f}x")


def bench_code(n: int) -> None:
    from nebula_hub.verify.code import verify_code_batch
    from nebula_hub.verify.sandbox import SandboxPool

    with gzip.open(DATA / "code" / "HumanEval.jsonl.gz", "rt") as f:
        probs = [json.loads(line) for line in f][:n]
    items = [(p["prompt"] + p["canonical_solution"], p["test"] + f"\ncheck({p['entry_point']})") for p in probs]
    t = time.perf_counter()
    passed = 0
    for code, tests in items:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "prog.py"
            path.write_text(code + "\n" + tests)
            passed += subprocess.run([sys.executable, str(path)], cwd=d, capture_output=True, timeout=30,
                                     env={"PATH": "/usr/bin:/bin"}).returncode == 0
    base = len(items) / (time.perf_counter() - t)
    with SandboxPool(workers=2) as pool:
        verify_code_batch(items[:4], pool=pool, progress=False)  # start the workers
        t = time.perf_counter()
        res = verify_code_batch(items, pool=pool, progress=False)
        rate = len(items) / (time.perf_counter() - t)
        mode = pool.isolation
    ok = sum(r.verdict == "pass" for r in res)
    print(f"code  {len(items)} runs: subprocess per run {base:7.1f}/s ({passed} pass) | sandbox pool(2, {mode}) "
          f"{rate:7.1f}/s ({ok} pass) | ratio {rate / base:.2f}x")


def bench_if(n: int) -> None:
    try:
        from nebula_hub.verify.ifeval import check_constraints
    except ImportError as e:
        print(f"if    skipped: nebula_hub.verify.ifeval is not importable ({e})")
        return
    prompts = [json.loads(line) for line in open(DATA / "ifeval" / "input_data.jsonl")]
    responses = {r["prompt"]: r["response"]
                 for r in map(json.loads, open(DATA / "ifeval" / "input_response_data_gpt4_20231107_145030.jsonl"))}
    rows = [(responses[p["prompt"]], [{"id": i, "kwargs": k} for i, k in zip(p["instruction_id_list"], p["kwargs"],
                                                                         strict=True)], p["prompt"])
            for p in prompts if p["prompt"] in responses][:n]
    t = time.perf_counter()
    for resp, cons, prompt in rows:
        check_constraints(resp, cons, prompt=prompt)
    rate = len(rows) / (time.perf_counter() - t)
    print(f"if    {len(rows)} prompt checks (strict+loose): {rate:7.1f}/s in one process (no naive baseline: the "
          "reference implementation is not installed)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller samples")
    args = ap.parse_args()
    bench_math(100 if args.quick else 500)
    bench_code(60 if args.quick else 164)
    bench_if(100 if args.quick else 541)


if __name__ == "__main__":
    main()
