"""RL pool difficulty grading throughput: prompts graded per second, batched grader vs one rollout at a time.

Both sides grade the same bundled candidates (math, code, instruction following) with the same grader (the tiny
Qwen3 through the transformers backend, k rollouts of `max_tokens` each) and the same verifiers:

- pool grader: the RL pool's grading steps (`rl_difficulty.grading_steps`: the SFT `DifficultyGrader`, one
  `generate` call per batch of prompts with k samples each, rollouts cached, then the zero-variance flag);
- baseline: for each prompt, k separate `generate` calls of one sample, each verified right away.

    python benchmarks/rl_pool.py            # 48 prompts, k=4
    python benchmarks/rl_pool.py --quick    # 16 prompts
"""

import argparse
import tempfile
import time
from pathlib import Path


def candidates(n: int) -> list:
    """Valid candidates from the bundled sources, round-robin over tasks, as pipeline documents."""
    from nebula_hub.curate.rl import load_rl_config
    from nebula_hub.curate.rl_candidates import RLSourceReader
    from nebula_hub.curate.rl_if_constraints import IFConstraintsStep
    from nebula_hub.curate.rl_math_gold import MathGoldFilter
    from nebula_hub.paths import resource_path

    cfg = load_rl_config(resource_path("pipelines", "rl_pool.yaml"))
    docs = RLSourceReader(cfg.sources).run(None, rank=0, world_size=1)
    docs = IFConstraintsStep(2, 0).run(MathGoldFilter().run(docs))
    by_task: dict[str, list] = {}
    for d in docs:
        by_task.setdefault(d.metadata["task"]["label"], []).append(d)
    out, i = [], 0
    while len(out) < n:
        for task in sorted(by_task):
            if i < len(by_task[task]) and len(out) < n:
                out.append(by_task[task][i])
        i += 1
        if all(i >= len(v) for v in by_task.values()):
            break
    return out, cfg


def grade_batched(docs, cfg, work: Path) -> float:
    from nebula_hub.curate.rl_difficulty import grading_steps

    steps = grading_steps(cfg, work)
    start = time.perf_counter()
    data = iter(docs)
    for step in steps:
        data = step.run(data, rank=0, world_size=1)
    graded = list(data)
    elapsed = time.perf_counter() - start
    assert len(graded) == len(docs)
    return elapsed


def grade_one_at_a_time(docs, cfg, backend) -> float:
    from nebula_hub.curate.checks import correctness_check
    from nebula_hub.curate.sft_config import VerifyConfig
    from nebula_hub.generate.settings import SamplingSettings

    g = cfg.grader
    one = SamplingSettings(n=1, temperature=g.temperature, top_p=g.top_p, max_tokens=g.max_tokens,
                           enable_thinking=g.enable_thinking)
    verify_cfg = VerifyConfig(code_timeout_s=cfg.candidates.code_timeout_s)
    start = time.perf_counter()
    for doc in docs:
        passes = 0
        for j in range(g.n):
            one.seed = g.seed + j
            (completion,) = backend.generate([doc.metadata["messages"]], one, progress=False)[0]
            result = correctness_check(doc.metadata["task"]["label"], completion.text, doc.metadata["reference"],
                                       doc.text, verify_cfg)
            passes += result["verdict"] == "pass" and completion.finish_reason != "length"
        doc.metadata["baseline_pass_rate"] = passes / g.n
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="16 prompts instead of 48")
    parser.add_argument("--k", type=int, default=4, help="rollouts per prompt")
    args = parser.parse_args()

    from nebula_hub.curate.generation import CachedGenerator
    from nebula_hub.curate.rl_candidates import RLSourceReader  # noqa: F401  (import cost outside the timings)

    docs, cfg = candidates(16 if args.quick else 48)
    cfg.grader.n = args.k
    tasks = {t: sum(d.metadata["task"]["label"] == t for d in docs) for t in ("math", "code", "instruction_following")}
    print(f"{len(docs)} prompts {tasks}, k={cfg.grader.n}, max_tokens={cfg.grader.max_tokens}, "
          f"grader={cfg.grader.model} ({cfg.grader.backend}), prompts per generate call={cfg.difficulty.batch_size}")

    backend = CachedGenerator(cfg.grader).backend()  # load the model once, outside both timings
    backend.generate([[{"role": "user", "content": "warm up"}]], progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        baseline = grade_one_at_a_time([d for d in docs], cfg, backend)
        batched = grade_batched(docs, cfg, Path(tmp))
    print(f"baseline (one rollout per generate call): {len(docs) / baseline:8.2f} prompts/s  ({baseline:.2f} s)")
    print(f"RL pool grader (batched rollouts):        {len(docs) / batched:8.2f} prompts/s  ({batched:.2f} s)")
    print(f"speed-up: {baseline / batched:.2f}x")


if __name__ == "__main__":
    main()
