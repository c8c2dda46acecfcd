"""Evaluation: the capability suite (IFEval, GSM8K, MATH-500, AIME, HumanEval, MBPP, MMLU) behind `nebula-hub eval`.

    from nebula_hub.evaluation import EvalConfig, run_evaluation, compare_checkpoints
    report = run_evaluation(EvalConfig(model="local/tiny-sft@sft", suite="instruct", data="bundled", push=True))
    print(report.table())
    print(compare_checkpoints(["local/tiny-sft@sft", "local/tiny-sft@grpo"], baseline="local/tiny-sft@sft").markdown())

Modules: `benchmarks` (name -> benchmark and suites), `loaders` (Hub / file / bundled data, one code path),
`prompts` (versioned templates), `metrics/` (evaluate modules loaded from their folders), `stats` (intervals),
`runner` (generate, score, publish), `results` (results JSON, details dataset, model-index), `compare` (tables from
cards). Bundled offline sets live in `data/` (written for nebula-hub, with the public datasets' field layouts).
"""

_LAZY = {
    "BENCHMARKS": "nebula_hub.evaluation.benchmarks",
    "SUITES": "nebula_hub.evaluation.benchmarks",
    "BenchmarkSpec": "nebula_hub.evaluation.benchmarks",
    "get_benchmark": "nebula_hub.evaluation.benchmarks",
    "resolve_benchmarks": "nebula_hub.evaluation.benchmarks",
    "load_samples": "nebula_hub.evaluation.loaders",
    "Sample": "nebula_hub.evaluation.loaders",
    "load_metric": "nebula_hub.evaluation.metrics",
    "metric_path": "nebula_hub.evaluation.metrics",
    "EvalConfig": "nebula_hub.evaluation.runner",
    "run_evaluation": "nebula_hub.evaluation.runner",
    "score_benchmark": "nebula_hub.evaluation.runner",
    "recompute_from_details": "nebula_hub.evaluation.runner",
    "EvalReport": "nebula_hub.evaluation.results",
    "card_results": "nebula_hub.evaluation.results",
    "Comparison": "nebula_hub.evaluation.compare",
    "compare_checkpoints": "nebula_hub.evaluation.compare",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nebula_hub.evaluation' has no attribute {name!r}")
