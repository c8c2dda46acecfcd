"""Run the capability suite on one checkpoint: load each benchmark, generate through a shared backend, score with
the evaluate metrics, and (with `push=True`) publish per-sample details and update the model card.

    from nebula_hub.evaluation import EvalConfig, run_evaluation
    report = run_evaluation(EvalConfig(model="local/tiny-sft", revision="sft", data="bundled", limit=3, push=True))
    print(report.table())

The checkpoint is pinned to the commit sha its revision resolves to before anything runs: generation loads that
commit, and the card update is a commit on its branch whose parent must be that sha.
"""

import contextlib
import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from nebula_hub.errors import NebulaError
from nebula_hub.evaluation.benchmarks import SUITE_THINKING, BenchmarkSpec, resolve_benchmarks, suite_name
from nebula_hub.evaluation.loaders import Sample, load_samples
from nebula_hub.evaluation.metrics import load_metric
from nebula_hub.evaluation.prompts import render_prompt
from nebula_hub.evaluation.results import (
    BenchmarkResult,
    EvalReport,
    MetricValue,
    branch_of,
    details_repo_id,
    push_details,
    update_model_card,
)
from nebula_hub.evaluation.stats import average_interval, bootstrap_interval, wilson_interval


logger = logging.getLogger(__name__)
DATA_SOURCES = ("hub", "bundled")


@dataclass
class EvalConfig:
    """One eval run.

    Model:
        model: a Hub repo id (optionally `REPO@REVISION`) or a local folder (no `push` then). revision: branch, tag
        or commit sha. hub: the hub holding the model and receiving results (URL, `local`, or `HF_ENDPOINT`).
    Benchmarks:
        suite: `instruct`, `reasoning` or `all`. benchmarks: names (overrides the suite). data: `hub` (the public
        sets, from `data_hub`, default huggingface.co) or `bundled` (the offline sets shipped with nebula-hub).
        dataset_repos: benchmark -> `REPO[:CONFIG][@REV]` overrides. data_files: benchmark -> local file. limit:
        first N items per benchmark.
    Generation:
        backend (`transformers`, `openai`, `vllm`), base_url and served_model (openai), batch_size, dtype, device;
        thinking (`None` = the suite's default), temperature, top_p, top_k, max_tokens (`None` = per benchmark),
        samples (per prompt), seed, k (pass@k values for code).
    Output:
        output: results JSON path (default `eval-results/<repo>/<sha>/results_<suite>_<time>.json`). push: publish
        details and update the card. details_repo: defaults to `<model-repo>-evals`. progress: show progress bars.
    """

    model: str
    revision: str | None = None
    hub: str | None = None
    suite: str = "instruct"
    benchmarks: list[str] | None = None
    data: str = "hub"
    data_hub: str | None = None
    dataset_repos: dict[str, str] = field(default_factory=dict)
    data_files: dict[str, str] = field(default_factory=dict)
    limit: int | None = None
    backend: str = "transformers"
    base_url: str | None = None
    served_model: str | None = None
    batch_size: int = 16
    dtype: str = "auto"
    device: str = "auto"
    thinking: bool | None = None
    temperature: float = 0.0
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    samples: int = 1
    seed: int = 0
    k: list[int] = field(default_factory=lambda: [1])
    output: str | None = None
    push: bool = False
    details_repo: str | None = None
    progress: bool = True

    def __post_init__(self):
        if "@" in self.model and self.revision is None and not Path(self.model).exists():
            self.model, self.revision = self.model.rsplit("@", 1)
        if self.data not in DATA_SOURCES:
            raise NebulaError(f"eval: unknown data source {self.data!r}", hint="use --data hub or --data bundled")
        if self.limit is not None and self.limit < 1:
            raise NebulaError(f"eval: --limit must be >= 1, got {self.limit}", hint="e.g. --limit 20")
        if self.samples < 1:
            raise NebulaError(f"eval: --samples must be >= 1, got {self.samples}", hint="e.g. --samples 4")
        bad_k = [k for k in self.k if not isinstance(k, int) or k < 1 or k > self.samples]
        if bad_k:
            raise NebulaError(
                f"eval: pass@k values {bad_k} need 1 <= k <= samples per prompt ({self.samples})",
                hint=f"raise --samples to at least {max(self.k)} or drop those k",
            )


def _hub_spec(spec: BenchmarkSpec, override: str | None) -> BenchmarkSpec:
    if not override:
        return spec
    match = re.fullmatch(r"([^:@\s]+/[^:@\s]+)(?::([^@\s]+))?(?:@(\S+))?", override)
    if not match:
        raise NebulaError(
            f"eval: dataset override {spec.name}={override!r} is not REPO[:CONFIG][@REVISION]",
            hint="e.g. --dataset gsm8k=my-org/gsm8k-mirror:main@v1",
        )
    repo, config, revision = match.groups()
    return spec.with_source(repo, config if config is not None else spec.config, revision)


# -- per-item units behind each metric's value and interval --------------------------------------------------------


def _units(spec: BenchmarkSpec, metric: str, details: list, n_items: int, samples: int, k: int | None):
    """(numerators, denominators) per item whose ratio of sums is the metric's value."""
    if spec.metric == "code_pass_at_k":
        from nebula_hub.evaluation.metrics.code_pass_at_k.code_pass_at_k import pass_at_k

        nums = [pass_at_k(len(c), sum(d["verdict"] == "pass" for d in c), k) for c in details]
        return nums, [1.0] * len(nums)
    nums, dens = [0.0] * n_items, [0.0] * n_items
    for row, d in enumerate(details):
        item = row // samples
        if spec.metric == "ifeval":
            mode = "strict" if "strict" in metric else "loose"
            follows = d[f"follow_instruction_list_{mode}"]
            if metric.startswith("prompt_level"):
                nums[item] += float(all(follows))
                dens[item] += 1
            else:
                nums[item] += sum(follows)
                dens[item] += len(follows)
        else:
            nums[item] += d["score"]
            dens[item] += 1
    return nums, dens


def _metric_value(value: float, nums: list[float], dens: list[float], samples: int, seed: int) -> MetricValue:
    total = sum(dens)
    assert not nums or abs(sum(nums) / total - value) < 1e-9, (value, sum(nums), total)
    # One sample per prompt and whole-number units (pass/fail items, followed-instruction counts): a proportion of
    # sum(dens) trials, so Wilson (sensible at 0 and 1, unlike a bootstrap). Otherwise resample items.
    if samples == 1 and all(float(x).is_integer() for x in nums):
        low, high = wilson_interval(sum(nums), int(total))
        return MetricValue(float(value), int(total), low, high, "wilson")
    low, high = bootstrap_interval(nums, dens, seed=seed)
    return MetricValue(float(value), len(nums), low, high, "bootstrap-percentile-1000")


# -- scoring ------------------------------------------------------------------------------------------------------


def score_benchmark(
    spec: BenchmarkSpec, samples: list[Sample], responses: list[list[str]], k: list[int] = (1,), seed: int = 0
) -> tuple[dict[str, MetricValue], list[list[dict]]]:
    """Score responses (`responses[i][j]`: sample j of item i) with the benchmark's evaluate metric.

    Returns the metric values (with n and 95% intervals) and, per item and sample, the verdict record.

    Example:
        >>> from nebula_hub.evaluation.benchmarks import get_benchmark
        >>> from nebula_hub.evaluation.loaders import load_samples
        >>> spec = get_benchmark("mmlu"); samples, _ = load_samples(spec, source="bundled", limit=2)
        >>> metrics, _ = score_benchmark(spec, samples, [["Answer: B"], ["Answer: A"]])
        >>> metrics["accuracy"].value, metrics["accuracy"].n
        (0.5, 2)
    """
    metric = load_metric(spec.metric)
    n = len(responses[0]) if responses else 1
    if spec.metric == "code_pass_at_k":
        out = metric.compute(
            predictions=responses,
            references=[s.reference for s in samples],
            k=list(k),
            return_details=True,
            **spec.metric_kwargs,
        )
        per_item = out["details"]
        names = [f"pass@{kk}" for kk in k if f"pass@{kk}" in out]
    else:
        flat = [r for rs in responses for r in rs]
        refs = [s.reference for s in samples for _ in range(n)]
        out = metric.compute(predictions=flat, references=refs, return_details=True, **spec.metric_kwargs)
        per_item = [out["details"][i * n : (i + 1) * n] for i in range(len(samples))]
        names = list(spec.metrics)
    metrics = {}
    for name in names:
        kk = int(name.split("@")[1]) if name.startswith("pass@") else None
        details = per_item if spec.metric == "code_pass_at_k" else out["details"]
        nums, dens = _units(spec, name, details, len(samples), n, kk)
        metrics[name] = _metric_value(out[name], nums, dens, n, seed)
    return metrics, per_item


def _detail_rows(spec, samples, conversations, completions, per_item) -> list[dict]:
    rows = []
    for sample, conversation, comps, verdicts in zip(samples, conversations, completions, per_item, strict=True):
        prompt = conversation[-1]["content"]
        for j, (completion, verdict) in enumerate(zip(comps, verdicts, strict=True)):
            extra = {k: v for k, v in verdict.items() if k not in ("verdict", "score", "detail")}
            if completion.reasoning:
                extra["reasoning"] = completion.reasoning
            extra.update({f"meta_{k}": v for k, v in sample.meta.items() if v is not None})
            rows.append(
                {
                    "benchmark": spec.name,
                    "id": sample.id,
                    "sample": j,
                    "prompt": prompt,
                    "response": completion.text,
                    "finish_reason": completion.finish_reason,
                    "completion_tokens": completion.completion_tokens,
                    "verdict": verdict["verdict"],
                    "score": float(verdict["score"]),
                    "detail": verdict.get("detail", ""),
                    "reference": sample.reference,
                    "extra": json.dumps(extra, ensure_ascii=False),
                }
            )
    return rows


# -- the run ------------------------------------------------------------------------------------------------------


def _resolve_model(config: EvalConfig):
    """(target or None, repo or folder, resolved sha or None)."""
    if Path(config.model).is_dir():
        if config.push:
            raise NebulaError(
                f"eval: {config.model} is a local folder; --push needs a Hub model repo",
                hint="push the checkpoint first (nebula-hub train-and-push), then evaluate REPO@BRANCH --push",
            )
        return None, str(Path(config.model).resolve()), None
    from nebula_hub.hub import get_api, hub_errors, resolve_hub

    target = resolve_hub(config.hub)
    with hub_errors(target):
        sha = get_api(target).model_info(config.model, revision=config.revision).sha
    return target, config.model, sha


def _backend_config(config: EvalConfig, model: str, sha: str | None):
    from nebula_hub.generate import BackendConfig

    if config.backend == "openai":
        return BackendConfig(
            backend="openai",
            model=config.served_model or model,
            base_url=config.base_url,
            max_concurrency=config.batch_size,
        )
    return BackendConfig(
        backend=config.backend,
        model=model,
        revision=sha,
        dtype=config.dtype,
        device=config.device,
        batch_size=config.batch_size,
    )


def _default_output(config: EvalConfig, model: str, sha: str | None, suite: str, stamp: str) -> Path:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", model.strip("/"))[-80:]
    return Path("eval-results") / name / (sha[:12] if sha else "local") / f"results_{suite}_{stamp}.json"


def run_evaluation(config: EvalConfig) -> EvalReport:
    """Evaluate one checkpoint on a suite; returns the report (also saved as JSON; pushed with `config.push`).

    Raises:
        `NebulaError`: unknown benchmark or suite, unreadable data, a model that cannot be loaded, a card whose branch
        moved during the run.

    Example:
        >>> from nebula_hub.models import build_tiny_model
        >>> report = run_evaluation(EvalConfig(model=str(build_tiny_model()), benchmarks=["mmlu"], data="bundled",
        ...                                    limit=2, max_tokens=8, output="/tmp/r.json"))
        >>> report.benchmarks[0].metrics["accuracy"].n
        2
    """
    from nebula_hub import __version__
    from nebula_hub.envinfo import device_summary, git_commit, library_versions
    from nebula_hub.generate import SamplingSettings, get_backend
    from nebula_hub.hub import get_api, hub_errors, redact, use_hub

    started = datetime.now(timezone.utc)
    specs = resolve_benchmarks(config.suite, config.benchmarks)
    suite = suite_name(specs)
    thinking = config.thinking if config.thinking is not None else SUITE_THINKING.get(suite, False)
    if config.samples > 1 and config.temperature == 0:
        logger.warning(
            "eval: %d samples per prompt with temperature 0 are %d copies of one greedy answer",
            config.samples,
            config.samples,
        )
    target, model, sha = _resolve_model(config)
    branch = None
    if config.push:
        # Before any generation: scores that cannot be written to a branch are not worth minutes of work.
        with hub_errors(target):
            branch = branch_of(get_api(target), model, config.revision, sha)
    logger.info(
        "eval: %s at %s (%s), suite %s: %s",
        model,
        config.revision or "main",
        sha or "local folder",
        suite,
        ", ".join(s.name for s in specs),
    )

    # Load every benchmark first: a data problem should surface before minutes of generation.
    loaded = []
    for spec in specs:
        if spec.name in config.data_files:
            samples, source = load_samples(spec, "file", path=config.data_files[spec.name], limit=config.limit)
        elif config.data == "bundled":
            samples, source = load_samples(spec, "bundled", limit=config.limit)
        else:
            spec = _hub_spec(spec, config.dataset_repos.get(spec.name))
            samples, source = load_samples(spec, "hub", limit=config.limit, data_hub=config.data_hub)
        loaded.append((spec, samples, source))

    backend_config = _backend_config(config, model, sha)
    results, all_rows = [], {}
    hub_context = use_hub(target) if target is not None and config.backend != "openai" else contextlib.nullcontext()
    with hub_context, hub_errors(target), get_backend(backend_config) as backend:
        for spec, samples, source in loaded:
            max_tokens = config.max_tokens or (spec.max_tokens_thinking if thinking else spec.max_tokens)
            settings = SamplingSettings(
                n=config.samples,
                temperature=config.temperature,
                top_p=config.top_p,
                top_k=config.top_k,
                max_tokens=max_tokens,
                seed=config.seed,
                enable_thinking=thinking,
            )
            conversations = [render_prompt(spec.prompt_template, s.inputs) for s in samples]
            t0 = time.perf_counter()
            completions = backend.generate(conversations, settings, progress=config.progress)
            t1 = time.perf_counter()
            responses = [[c.text for c in comps] for comps in completions]
            metrics, per_item = score_benchmark(
                spec, samples, responses, k=config.k if spec.area == "code" else [1], seed=config.seed
            )
            t2 = time.perf_counter()
            rows = _detail_rows(spec, samples, conversations, completions, per_item)
            all_rows[spec.name] = rows
            bench_settings = {
                # Effective values (cards drop nulls): top_p 1.0 and top_k 0 mean no filtering.
                "prompt_template": spec.prompt_template,
                "thinking": thinking,
                "temperature": config.temperature,
                "top_p": config.top_p if config.top_p is not None else 1.0,
                "top_k": config.top_k or 0,
                "max_tokens": max_tokens,
                "samples_per_prompt": config.samples,
                "seed": config.seed,
                "backend": config.backend,
            }
            results.append(
                BenchmarkResult(
                    name=spec.name,
                    display_name=spec.display_name,
                    area=spec.area,
                    primary=spec.primary,
                    metrics=metrics,
                    settings=bench_settings,
                    source=source,
                    n_items=len(samples),
                    n_samples=len(rows),
                    finish_reasons=dict(Counter(r["finish_reason"] for r in rows)),
                    seconds={"generation": round(t1 - t0, 3), "scoring": round(t2 - t1, 3)},
                )
            )
            logger.info(
                "eval: %s %s = %.4f (n=%d) in %.1fs + %.1fs",
                spec.name,
                spec.primary,
                metrics[spec.primary].value,
                len(samples),
                t1 - t0,
                t2 - t1,
            )

    primaries = [b.metrics[b.primary] for b in results]
    mean, (low, high) = average_interval([m.value for m in primaries], [(m.ci_low, m.ci_high) for m in primaries])
    average = MetricValue(mean, len(primaries), low, high, "normal-from-benchmark-ci") if primaries else None
    report = EvalReport(
        model={
            "repo": model,
            "revision": config.revision,
            "sha": sha,
            "hub": redact(target.endpoint) if target is not None else None,
            "served_by": redact(config.base_url) if config.backend == "openai" else None,
        },
        suite=suite,
        benchmarks=results,
        average=average,
        settings={
            "thinking": thinking,
            "temperature": config.temperature,
            "top_p": config.top_p,
            "top_k": config.top_k,
            "max_tokens": config.max_tokens,
            "samples_per_prompt": config.samples,
            "seed": config.seed,
            "backend": config.backend,
            "data": config.data,
            "limit": config.limit,
            "k": list(config.k),
        },
        environment={
            "nebula_hub": __version__,
            "libraries": library_versions(),
            "device": device_summary(),
            "git_commit": git_commit(),
        },
        started_at=started.isoformat(timespec="seconds"),
    )
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    output = Path(config.output) if config.output else _default_output(config, model, sha, suite, stamp)
    report.save(output)
    if config.push:
        api = get_api(target)
        with hub_errors(target):
            details_repo = config.details_repo or details_repo_id(model)
            message = f"nebula-hub eval of {model}@{sha[:12]} ({suite})"
            report.details = push_details(
                target, details_repo, branch, all_rows, output, message, progress=config.progress
            )
            report.card = {"repo": model, "branch": branch, "parent": sha}
            report.card["commit"] = update_model_card(api, model, branch, sha, report)
        report.save(output)
    report.card.setdefault("output", str(output))
    return report


def recompute_from_details(spec: BenchmarkSpec, rows: list[dict], k: list[int] = (1,)) -> dict[str, float]:
    """Re-score a benchmark from its published details rows (prompt, response, reference) with the metric module.

    Used to audit a card: the values must equal the card's.

    Example:
        >>> from nebula_hub.evaluation.benchmarks import get_benchmark
        >>> recompute_from_details(get_benchmark("mmlu"), [{"id": "0", "sample": 0, "response": "Answer: A",
        ...                                                  "reference": "A"}])
        {'accuracy': 1.0}
    """
    by_item: dict[str, list[dict]] = {}
    for row in rows:
        by_item.setdefault(row["id"], []).append(row)
    items = [sorted(r, key=lambda x: x["sample"]) for r in by_item.values()]
    samples = [Sample(r[0]["id"], {}, r[0]["reference"]) for r in items]
    responses = [[x["response"] for x in r] for r in items]
    metrics, _ = score_benchmark(spec, samples, responses, k=k)
    return {name: m.value for name, m in metrics.items()}
