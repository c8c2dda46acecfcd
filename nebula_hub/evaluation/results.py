"""What an eval run produces and where it goes: the results JSON, the per-sample details dataset on the Hub, and the
model card's `model-index` (through huggingface_hub's card metadata API: `ModelCard`, `ModelCardData`, `EvalResult`).

Every number carries the settings that produced it: in the results JSON next to each benchmark, and in the card as
each metric's `args` (n, confidence interval, prompt template, thinking mode, sampling settings, seed, backend,
library versions, and the details dataset commit holding the per-sample verdicts).

Example:
    >>> from nebula_hub.evaluation.results import card_results
    >>> card_results("local/tiny-sft", revision="sft", hub="local")  # doctest: +SKIP
    [{'benchmark': 'gsm8k', 'metric': 'accuracy', 'value': 0.0, ...}]
"""

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nebula_hub.errors import NebulaError


logger = logging.getLogger(__name__)
TASK_TYPE = "text-generation"
SUITE_DATASET = "nebula-hub/suite-average"
DETAILS_COLUMNS = (
    "benchmark",
    "id",
    "sample",
    "prompt",
    "response",
    "finish_reason",
    "completion_tokens",
    "verdict",
    "score",
    "detail",
    "reference",
    "extra",
)


@dataclass
class MetricValue:
    """One reported number with its sample size and 95% confidence interval."""

    value: float
    n: int
    ci_low: float
    ci_high: float
    ci_method: str


@dataclass
class BenchmarkResult:
    """Scores of one benchmark and everything needed to reproduce them."""

    name: str
    display_name: str
    area: str
    primary: str
    metrics: dict[str, MetricValue]
    settings: dict[str, Any]
    source: dict[str, Any]
    n_items: int
    n_samples: int
    finish_reasons: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return self.metrics[self.primary].value


@dataclass
class EvalReport:
    """A whole eval run: model, suite, per-benchmark results, the suite average, environment and where it was pushed."""

    model: dict[str, Any]
    suite: str
    benchmarks: list[BenchmarkResult]
    average: MetricValue | None
    settings: dict[str, Any]
    environment: dict[str, Any]
    started_at: str
    details: dict[str, Any] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | Path) -> Path:
        """Write the results JSON (creating folders); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n")
        return path

    def table(self) -> str:
        """A markdown table of the scores (percent) with n and the 95% interval, then the average."""
        lines = ["| benchmark | metric | score | 95% CI | n |", "|---|---|---|---|---|"]
        for b in self.benchmarks:
            for name, m in b.metrics.items():
                lines.append(
                    f"| {b.display_name} | {name} | {100 * m.value:.1f} | "
                    f"[{100 * m.ci_low:.1f}, {100 * m.ci_high:.1f}] | {m.n} |"
                )
        if self.average is not None:
            a = self.average
            lines.append(
                f"| **average ({self.suite})** | mean of primary metrics | {100 * a.value:.1f} | "
                f"[{100 * a.ci_low:.1f}, {100 * a.ci_high:.1f}] | {a.n} |"
            )
        return "\n".join(lines)


def setting_config(settings: dict[str, Any]) -> str:
    """The `metric.config` string that tells runs apart in a card: prompt template and thinking mode.

    Example:
        >>> setting_config({"prompt_template": "ifeval_v1", "thinking": False})
        'ifeval_v1,thinking=off'
    """
    thinking = "on" if settings.get("thinking") else "off"
    template = settings.get("prompt_template")
    return f"{template},thinking={thinking}" if template else f"thinking={thinking}"


def to_eval_results(report: EvalReport):
    """The report as `huggingface_hub.EvalResult`s: one per benchmark metric, plus the suite average.

    Each metric's `args` holds n, the interval, the settings, library versions and the details dataset commit.
    """
    from huggingface_hub import EvalResult

    libraries = {k: v for k, v in report.environment.get("libraries", {}).items() if v}
    details = {k: report.details[k] for k in ("repo", "revision", "commit") if report.details.get(k)}
    out = []
    for b in report.benchmarks:
        source = b.source
        bundled = source.get("kind") != "hub"
        for name, m in b.metrics.items():
            args = {
                "n": m.n,
                "ci_low": m.ci_low,
                "ci_high": m.ci_high,
                "ci_method": m.ci_method,
                **b.settings,
                "libraries": libraries,
            }
            if details:
                args["details"] = details
            out.append(
                EvalResult(
                    task_type=TASK_TYPE,
                    task_name=b.name,
                    dataset_type=source.get("repo") if not bundled else f"nebula-hub/bundled-{b.name}",
                    dataset_name=b.display_name + (" (nebula-hub bundled sample)" if bundled else ""),
                    dataset_config=source.get("config") if not bundled else source.get("kind"),
                    dataset_split=source.get("split") if not bundled else None,
                    dataset_revision=source.get("revision") if not bundled else f"sha256:{source['sha256'][:16]}",
                    metric_type=name,
                    metric_name=f"{b.display_name} {name}",
                    metric_value=m.value,
                    metric_config=setting_config(b.settings),
                    metric_args=args,
                )
            )
    if report.average is not None:
        a = report.average
        out.append(
            EvalResult(
                task_type=TASK_TYPE,
                task_name="average",
                dataset_type=SUITE_DATASET,
                dataset_name=f"{report.suite} suite average",
                dataset_config=report.suite,
                metric_type="average",
                metric_name=f"{report.suite} average of primary metrics",
                metric_value=a.value,
                metric_config=setting_config({"thinking": report.settings.get("thinking")}),
                metric_args={
                    "n": a.n,
                    "ci_low": a.ci_low,
                    "ci_high": a.ci_high,
                    "ci_method": a.ci_method,
                    "members": {b.name: b.primary for b in report.benchmarks},
                    **report.settings,
                    "libraries": libraries,
                    **({"details": details} if details else {}),
                },
            )
        )
    return out


def _result_key(r) -> tuple:
    return (r.task_type, r.dataset_type, r.dataset_config, r.dataset_split, r.metric_type, r.metric_config)


def merge_eval_results(existing: list, new: list) -> list:
    """`existing` with every result that `new` re-measures (same dataset, metric and config) replaced by the new one.

    Example:
        >>> from huggingface_hub import EvalResult
        >>> old = EvalResult("text-generation", "d", "D", "accuracy", 0.1, metric_config="t,thinking=off")
        >>> new = EvalResult("text-generation", "d", "D", "accuracy", 0.2, metric_config="t,thinking=off")
        >>> [r.metric_value for r in merge_eval_results([old], [new])]
        [0.2]
    """
    replaced = {_result_key(r) for r in new}
    return [r for r in existing or [] if _result_key(r) not in replaced] + list(new)


# -- the Hub ------------------------------------------------------------------------------------------------------


def branch_of(api, repo_id: str, revision: str | None, sha: str) -> str:
    """The branch a model revision lives on: the revision itself if it is a branch, else the branch whose head is
    `sha` (a tag or commit evaluated at a branch head). Tags are never moved.

    Raises:
        `NebulaError`: no branch has `sha` at its head (an older commit or a tag behind its branch).
    """
    refs = api.list_repo_refs(repo_id)
    branches = {b.name: b.target_commit for b in refs.branches}
    if revision in branches:
        return revision
    at_head = [name for name, commit in branches.items() if commit == sha]
    if not at_head:
        raise NebulaError(
            f"{repo_id}@{revision or 'main'} is commit {sha[:12]}, which is not the head of any branch, so its card "
            "cannot be updated without moving a tag or rewriting history",
            hint="evaluate a branch head (REPO@BRANCH), or run without --push to get the results JSON only",
        )
    return "main" if "main" in at_head else sorted(at_head)[0]


def load_card(api, repo_id: str, revision: str):
    """The model card at a revision (`ModelCard`), or an empty one when the repo has no README.md."""
    from huggingface_hub import ModelCard
    from huggingface_hub.errors import EntryNotFoundError

    try:
        path = api.hf_hub_download(repo_id, "README.md", revision=revision)
    except EntryNotFoundError:
        return ModelCard("---\n---\n")
    return ModelCard.load(path)


def update_model_card(api, repo_id: str, branch: str, parent_sha: str, report: EvalReport) -> str:
    """Merge the report's results into the card's `model-index` and commit it to `branch` on top of `parent_sha`.

    `parent_commit` makes the commit fail if the branch moved since the evaluated commit, so scores never land on a
    checkpoint they were not measured on. Returns the new commit sha.
    """
    from huggingface_hub.errors import HfHubHTTPError

    card = load_card(api, repo_id, parent_sha)
    data = card.data
    data.eval_results = merge_eval_results(getattr(data, "eval_results", None) or [], to_eval_results(report))
    data.model_name = getattr(data, "model_name", None) or repo_id
    summary = ", ".join(f"{b.name} {100 * b.score:.1f}" for b in report.benchmarks)
    try:
        info = api.upload_file(
            path_or_fileobj=str(card).encode(),
            path_in_repo="README.md",
            repo_id=repo_id,
            revision=branch,
            parent_commit=parent_sha,
            commit_message=f"nebula-hub eval ({report.suite}): {summary}"[:200],
            commit_description=f"Scores measured on commit {parent_sha}; per-sample details: "
            f"{report.details.get('repo')}@{report.details.get('commit')}",
        )
    except HfHubHTTPError as err:
        if err.response is not None and err.response.status_code in (409, 412):
            raise NebulaError(
                f"{repo_id}@{branch} moved past the evaluated commit {parent_sha[:12]} during the eval; the card was "
                "not updated",
                hint=f"the results JSON is kept; evaluate the new head (nebula-hub eval {repo_id}@{branch} --push)",
            ) from err
        raise
    return info.oid


def details_repo_id(model_repo: str) -> str:
    """The default details dataset of a model repo: `<model-repo>-evals`.

    Example:
        >>> details_repo_id("local/tiny-sft")
        'local/tiny-sft-evals'
    """
    return f"{model_repo}-evals"


def push_details(
    target,
    repo_id: str,
    branch: str,
    rows: dict[str, list[dict]],
    report_path: Path,
    message: str,
    progress: bool = True,
) -> dict[str, Any]:
    """Publish per-sample details as a dataset (one split per benchmark) plus the results JSON, on `branch`.

    Returns `{"repo", "revision", "commit"}`.
    """
    import datasets
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    from nebula_hub.hub import get_api, use_hub

    api = get_api(target)
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
    features = datasets.Features(
        {
            "benchmark": datasets.Value("string"),
            "id": datasets.Value("string"),
            "sample": datasets.Value("int32"),
            "prompt": datasets.Value("string"),
            "response": datasets.Value("string"),
            "finish_reason": datasets.Value("string"),
            "completion_tokens": datasets.Value("int32"),
            "verdict": datasets.Value("string"),
            "score": datasets.Value("float64"),
            "detail": datasets.Value("string"),
            "reference": datasets.Value("string"),
            "extra": datasets.Value("string"),
        }
    )
    dd = datasets.DatasetDict(
        {name: datasets.Dataset.from_list(bench_rows, features=features) for name, bench_rows in rows.items()}
    )
    quiet = not progress and not are_progress_bars_disabled()
    if quiet:
        disable_progress_bars()
        datasets.disable_progress_bars()
    try:
        with use_hub(target):
            dd.push_to_hub(repo_id, revision=branch, token=target.token, commit_message=message)
    finally:
        if quiet:
            enable_progress_bars()
            datasets.enable_progress_bars()
    info = api.upload_file(
        path_or_fileobj=str(report_path),
        path_in_repo=f"results/{report_path.name}",
        repo_id=repo_id,
        repo_type="dataset",
        revision=branch,
        commit_message=f"{message}: results JSON",
    )
    return {"repo": repo_id, "revision": branch, "commit": info.oid}


def card_results(repo_id: str, revision: str | None = None, hub: str | None = None, api=None) -> list[dict]:
    """The eval results in a model card's metadata at a revision, as flat dicts.

    Keys: benchmark (task name), dataset, dataset_name, config (dataset config), metric, metric_config, value,
    args (the settings), and `key` (what identifies a row across checkpoints).
    """
    from nebula_hub.hub import get_api, resolve_hub

    api = api or get_api(resolve_hub(hub))
    card = load_card(api, repo_id, revision or "main")
    rows = []
    for r in getattr(card.data, "eval_results", None) or []:
        value = r.metric_value
        if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
            continue  # "20.0 ± 1.2"-style strings from other tools: nothing to subtract
        rows.append(
            {
                "benchmark": r.task_name or r.dataset_name,
                "dataset": r.dataset_type,
                "dataset_name": r.dataset_name,
                "config": r.dataset_config,
                "metric": r.metric_type,
                "metric_config": r.metric_config,
                "value": float(value),
                "args": r.metric_args or {},
                "key": (r.dataset_type, r.dataset_config, r.metric_type, r.metric_config),
            }
        )
    return rows
