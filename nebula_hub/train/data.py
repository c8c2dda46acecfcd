"""Stage datasets: load each Hub dataset at a pinned commit, mix them by weight, shape the rows for the trainer.

Every `DatasetSpec` revision (a tag like `v0.1.0`, a branch or a sha) is resolved to its commit sha with
`HfApi.dataset_info` first, and the dataset is loaded *by that sha*, so what the model card records is exactly what
was trained on, even if the tag moves later.

    with use_hub(target):
        ds, lineage = load_mixture(specs, method="sft", api=get_api(target), seed=42)
    lineage[0]["sha"]   # the commit actually loaded

Row shapes per method (extra columns are kept where the trainer passes them on):
- `sft`: `messages` only (SFT_FEATURES metadata would otherwise reach the collator).
- `grpo`: `prompt` plus every other column (`task`, `answer`, `tests`, `constraints`, ... reach the reward functions).
- `opd` / `mopd`: `prompt` and `task`; SFT rows become prompts by dropping the final assistant reply.
"""

import logging
from typing import Any

from nebula_hub.errors import NebulaError
from nebula_hub.train.configs import DatasetSpec


logger = logging.getLogger(__name__)


def resolve_dataset_sha(api, spec: DatasetSpec) -> str:
    """The commit sha `spec.revision` points to on the Hub (raises `NebulaError` naming the repo and revision)."""
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        return api.dataset_info(spec.repo, revision=spec.revision).sha
    except RevisionNotFoundError:
        raise NebulaError(
            f"dataset {spec.repo!r} has no revision {spec.revision!r}",
            hint=f"list its tags with `hf download`/HfApi.list_repo_refs('{spec.repo}', repo_type='dataset'), "
            "or publish that version first (nebula-hub publish dataset ... --version X.Y.Z)",
        ) from None
    except RepositoryNotFoundError:
        raise NebulaError(
            f"dataset repo {spec.repo!r} was not found on the hub",
            hint="check the repo id in the recipe and --hub; publish it first with `nebula-hub publish dataset`",
        ) from None


def load_one(api, spec: DatasetSpec, seed: int = 42, method: str | None = None):
    """Load one dataset at its resolved sha, filter and weight it; return `(dataset, lineage entry)`."""
    import datasets

    sha = resolve_dataset_sha(api, spec)
    try:
        ds = datasets.load_dataset(spec.repo, spec.config, revision=sha, split=spec.split)
    except ValueError as err:  # datasets raises ValueError for an unknown config or split
        raise NebulaError(
            f"dataset {spec.repo}@{spec.revision} ({sha[:12]}): cannot load config {spec.config!r} split "
            f"{spec.split!r}: {err}",
            hint="check 'config' and 'split' in the recipe against the dataset card's configs",
        ) from None
    loaded = len(ds)
    zero_variance_dropped = 0
    if method == "grpo" and not spec.keep_zero_variance and "pass_rate" in ds.column_names:
        # All-pass or all-fail prompts have zero reward variance within a GRPO group: no gradient, only cost.
        before = len(ds)
        ds = ds.filter(lambda rate: rate is None or 0.0 < rate < 1.0, input_columns=["pass_rate"])
        zero_variance_dropped = before - len(ds)
    for column, wanted in spec.where.items():
        if column not in ds.column_names:
            raise NebulaError(
                f"dataset {spec.repo}: 'where' filters on column {column!r}, which it does not have",
                hint=f"its columns are {ds.column_names}",
            )
        allowed = set(wanted) if isinstance(wanted, list) else {wanted}
        ds = ds.filter(lambda v, allowed=allowed: _plain(v) in allowed, input_columns=[column])
    ds = _weighted(ds, spec.weight, seed)
    if spec.max_samples is not None and len(ds) > spec.max_samples:
        ds = ds.select(range(spec.max_samples))
    if len(ds) == 0:
        raise NebulaError(
            f"dataset {spec.repo}@{spec.revision} config {spec.config!r}: no rows left after 'where' {spec.where} "
            f"and weight {spec.weight} (loaded {loaded}, {zero_variance_dropped} dropped as zero-variance)",
            hint="loosen the filter or check the dataset version"
            + (
                "; set keep_zero_variance: true to train on all-pass/all-fail prompts" if zero_variance_dropped else ""
            ),
        )
    entry = {
        "repo": spec.repo,
        "config": spec.config or "default",
        "split": spec.split,
        "revision": spec.revision,
        "sha": sha,
        "weight": spec.weight,
        "where": dict(spec.where),
        "rows_loaded": loaded,
        "zero_variance_dropped": zero_variance_dropped,
        "rows_used": len(ds),
    }
    return ds, entry


def load_mixture(specs: list[DatasetSpec], method: str, api, seed: int = 42):
    """Load, shape and concatenate a stage's datasets; return `(dataset, lineage entries)` (shuffled, seeded).

    Example:
        >>> from nebula_hub.hub import get_api, resolve_hub, use_hub
        >>> target = resolve_hub(None)                                                 # doctest: +SKIP
        >>> with use_hub(target):                                                      # doctest: +SKIP
        ...     ds, lineage = load_mixture([DatasetSpec(repo="local/sft", revision="v0.1.0")], "sft", get_api(target))
    """
    import datasets

    parts, lineage = [], []
    for spec in specs:
        ds, entry = load_one(api, spec, seed, method)
        parts.append(shape_rows(ds, method, where=f"{spec.repo}@{spec.revision}"))
        lineage.append(entry)
    try:
        mixed = datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    except ValueError as err:
        raise NebulaError(
            f"datasets {[s.repo for s in specs]} cannot be mixed: their columns differ ({err})",
            hint="mix datasets of one kind (SFT with SFT, RL with RL)",
        ) from None
    return mixed.shuffle(seed=seed), lineage


def shape_rows(ds, method: str, where: str):
    """Keep and convert the columns the method's trainer reads (see the module docstring)."""
    cols = ds.column_names
    if method == "sft":
        if "messages" in cols:
            return ds.select_columns(["messages"]).map(lambda r: {"messages": _clean_messages(r["messages"])})
        if {"prompt", "completion"} <= set(cols):
            return ds.select_columns(["prompt", "completion"])
        raise NebulaError(
            f"dataset {where}: SFT needs a 'messages' column (or 'prompt' + 'completion'); it has {cols}",
            hint="point the SFT stage at an SFT corpus (nebula-hub curate sft + publish)",
        )
    if "prompt" not in cols:
        if "messages" not in cols:
            raise NebulaError(
                f"dataset {where}: {method} needs a 'prompt' column (or 'messages' to cut into prompts); it has {cols}",
                hint="point this stage at an RL pool (nebula-hub curate rl + publish)",
            )
        ds = ds.map(lambda r: {"prompt": _prompt_from_messages(r["messages"])})
        ds = ds.remove_columns("messages")
    ds = ds.map(lambda r: {"prompt": _clean_messages(r["prompt"])})
    if "task" in ds.column_names:
        ds = ds.map(lambda r: {"task": _task_label(r["task"])})
    if method in ("opd", "mopd"):
        keep = [c for c in ("prompt", "task") if c in ds.column_names]
        ds = ds.select_columns(keep)
    return ds


def _clean_messages(messages: list[dict]) -> list[dict]:
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _prompt_from_messages(messages: list[dict]) -> list[dict]:
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=len(messages))
    return _clean_messages(messages[:last])


def _task_label(task: Any) -> str | None:
    # SFT rows hold `task` as {"label", "confidence"}; RL rows as a plain string.
    if isinstance(task, dict):
        return task.get("label")
    return task


def _plain(value: Any) -> Any:
    return _task_label(value) if isinstance(value, dict) else value


def _weighted(ds, weight: float, seed: int):
    whole, frac = int(weight), weight - int(weight)
    import datasets

    parts = [ds] * whole
    if frac > 0:
        n = round(frac * len(ds))
        if n:
            parts.append(ds.shuffle(seed=seed).select(range(n)))
    if not parts:
        return ds.select([])
    return datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
