"""The quickstart's stages as library calls; each runs in its own child process (`nebula_hub.quickstart.child`).

Every stage takes the run context (a plain dict the parent writes as JSON: workdir, size, hub, names, the outputs of
earlier stages, user overrides) and returns a JSON-serialisable output that later stages and the summary read.
Each calls exactly the library function the matching CLI command calls, and each of those resumes on its own:

| stage | library call | CLI equivalent |
|---|---|---|
| `curate-sft` | `nebula_hub.curate.sft.run_sft` | `nebula-hub curate sft --config pipelines/sft_corpus.yaml` |
| `curate-rl` | `nebula_hub.curate.rl.run_rl_pool` | `nebula-hub curate rl --config pipelines/rl_pool.yaml` |
| `publish` | `nebula_hub.publish.publish_dataset` (twice) | `nebula-hub publish dataset DIR --repo R --version V` |
| `train-*` | `nebula_hub.train.train_and_push(stages=[...])` | `nebula-hub train-and-push --recipe R --stages S --resume` |
| `evaluate` | `nebula_hub.evaluation.runner.run_evaluation` | `nebula-hub eval REPO@BRANCH --data bundled --push` |

Example (what the child process does for one stage):
    >>> out = run_stage("curate-rl", context)          # doctest: +SKIP
    >>> out["path"], out["totals"]["curated"]          # doctest: +SKIP
"""

import json
import logging
import shlex
from pathlib import Path
from typing import Any

from nebula_hub.errors import NebulaError
from nebula_hub.quickstart.recipe import CHECKPOINTS, dataset_overrides, steps_overrides
from nebula_hub.quickstart.sizes import SIZES


logger = logging.getLogger(__name__)
FIRST_VERSION = "1.0.0"
SHARD_SIZE_MB = 256  # publish_dataset's default; the content fingerprint depends on it


# ---- helpers -----------------------------------------------------------------------------------------------------
def _target(ctx: dict[str, Any]):
    from nebula_hub.hub import resolve_hub

    # The parent already started (or found) the hub; for the local hub this reuses the running server.
    return resolve_hub(ctx["hub"])


def _sets(ctx: dict[str, Any], group: str) -> list[str]:
    return list(ctx.get("user_sets", {}).get(group, []))


def _curation_totals(path: Path) -> dict[str, Any]:
    from nebula_hub.artifacts import CurationOutput

    if not (path / "manifest.json").is_file():
        raise NebulaError(
            f"curation output {path} has no manifest.json after the run",
            hint="the pipeline was submitted to a cluster executor; the quickstart needs executor.kind=local",
        )
    out = CurationOutput(path)
    return {"path": str(path), "kind": out.kind, "totals": out.stats.get("totals", {})}


def recipe_overrides(ctx: dict[str, Any]) -> list[str]:
    """Every `--set` the quickstart applies to the training recipe (same list for every training stage)."""
    from nebula_hub.config import apply_overrides, read_yaml

    size = SIZES[ctx["size"]]
    published = ctx["outputs"].get("publish") or {}
    if not published:
        raise NebulaError("training needs the published datasets, but the publish stage has no output",
                          hint="rerun the quickstart; it publishes before it trains")  # fmt: skip
    base = [
        f"repo={ctx['names']['model']}",
        f"output_dir={Path(ctx['workdir']) / 'runs'}",
        f"run_name={ctx['names']['run']}",
        # Checkpoints are pinned by branch + commit sha; no release tag, so a --restart never has to move one.
        "version=null",
    ]
    data = apply_overrides(read_yaml(ctx["recipe"]), base + list(size.train) + _sets(ctx, "recipe"))
    roles = {role: (published[role]["repo"], published[role]["tag"]) for role in ("sft", "rl")}
    return (
        base
        + dataset_overrides(data, roles)
        + steps_overrides(data, size.train_steps, size.train_max_steps)
        + list(size.train)
        + _sets(ctx, "recipe")  # last, so the user's --set recipe.* wins
    )


# ---- stages ------------------------------------------------------------------------------------------------------
def curate_sft(ctx: dict[str, Any]) -> dict[str, Any]:
    from nebula_hub.curate.sft import run_sft

    size = SIZES[ctx["size"]]
    sets = list(size.sft) + _sets(ctx, "sft")
    out_dir = Path(ctx["workdir"]) / "curated" / "sft"
    command = shlex.join(["nebula-hub", "curate", "sft", "--config", ctx["sft_config"], "--output", str(out_dir)]
                         + [x for s in sets for x in ("--set", s)])  # fmt: skip
    path = run_sft(ctx["sft_config"], output=out_dir, overrides=sets, command=command)
    return _curation_totals(Path(path))


def curate_rl(ctx: dict[str, Any]) -> dict[str, Any]:
    from nebula_hub.curate.rl import run_rl_pool

    size = SIZES[ctx["size"]]
    sets = list(size.rl) + _sets(ctx, "rl")
    out_dir = Path(ctx["workdir"]) / "curated" / "rl"
    command = shlex.join(["nebula-hub", "curate", "rl", "--config", ctx["rl_config"], "--output", str(out_dir)]
                         + [x for s in sets for x in ("--set", s)])  # fmt: skip
    path = run_rl_pool(ctx["rl_config"], output=out_dir, overrides=sets, command=command)
    return _curation_totals(Path(path))


def pick_version(api, repo: str, output_dir: Path) -> str:
    """The version to publish `output_dir` as: the version already holding this exact content (publishing it again
    is a no-op), else 1.0.0 for a new repo, else the next patch version (a version tag never moves)."""
    from huggingface_hub.errors import RepositoryNotFoundError

    from nebula_hub.artifacts import CurationOutput
    from nebula_hub.publish import REPO_MANIFEST, content_fingerprint, list_version_tags
    from nebula_hub.publish.remote import read_json

    try:
        tags = list_version_tags(api, repo)
    except RepositoryNotFoundError:
        return FIRST_VERSION
    if not tags:
        return FIRST_VERSION
    fingerprint = content_fingerprint(CurationOutput(output_dir), int(SHARD_SIZE_MB * (1 << 20)))
    for ref in reversed(tags):
        manifest = read_json(api, repo, REPO_MANIFEST, ref.commit) or {}
        if manifest.get("fingerprint") == fingerprint:
            return ref.version
    major, minor, patch = (int(x) for x in tags[-1].version.split("."))
    return f"{major}.{minor}.{patch + 1}"


def publish(ctx: dict[str, Any]) -> dict[str, Any]:
    from nebula_hub.hub import get_api, hub_errors
    from nebula_hub.publish import publish_dataset

    target = _target(ctx)
    api = get_api(target)
    out = {}
    for role, stage in (("sft", "curate-sft"), ("rl", "curate-rl")):
        path = Path(ctx["outputs"][stage]["path"])
        repo = ctx["names"][role]
        with hub_errors(target):
            version = pick_version(api, repo, path)
            command = shlex.join(["nebula-hub", "publish", "dataset", str(path), "--repo", repo, "--version", version])
            result = publish_dataset(path, repo, version, target=target, publish_command=command,
                                     progress=ctx.get("progress", False))  # fmt: skip
        logger.info("%s", result.message)
        out[role] = {
            "repo": result.repo_id,
            "version": result.version,
            "tag": result.tag,
            "commit": result.commit,
            "status": result.status,
            "configs": result.configs,
            "load": result.load_line,
        }
    return out


def train(ctx: dict[str, Any], stages: list[str]) -> dict[str, Any]:
    from nebula_hub.train import train_and_push

    result = train_and_push(
        ctx["recipe"],
        overrides=recipe_overrides(ctx),
        hub=ctx["hub"],
        resume=True,  # the training piece's own resume: finished phases and pushed stages are skipped
        stages=stages,
        overwrite=ctx.get("overwrite", False),
        accelerate_config=ctx.get("accelerate_config"),
    )
    missing = [s for s in stages if s not in result.pushed]
    if missing:
        raise NebulaError(
            f"training stage(s) {missing} finished without a pushed checkpoint",
            hint="check the recipe: the quickstart needs push: true on every stage",
        )
    return {"run_dir": str(result.run_dir), "pushed": {s: result.pushed[s] for s in stages}}


def checkpoints(ctx: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The pushed checkpoints the quickstart reports: stage -> {repo, branch, sha, ...}."""
    found = {}
    for stage, output in ctx["outputs"].items():
        if stage.startswith("train-"):
            for name, pushed in (output.get("pushed") or {}).items():
                if name in CHECKPOINTS:
                    found[name] = pushed
    return {name: found[name] for name in CHECKPOINTS if name in found}


def evaluate(ctx: dict[str, Any]) -> dict[str, Any]:
    from nebula_hub.evaluation.runner import EvalConfig, run_evaluation

    size = SIZES[ctx["size"]]
    out_dir = Path(ctx["workdir"]) / "eval"
    extra = _eval_settings(_sets(ctx, "eval"))
    results = {}
    for name, pushed in checkpoints(ctx).items():
        path = out_dir / f"{name}.json"
        previous = json.loads(path.read_text()) if path.is_file() else {}
        if (previous.get("card") or {}).get("commit") and (previous.get("model") or {}).get("sha") == pushed["sha"]:
            logger.info("eval of %s@%s already pushed to its card; skipping", pushed["repo"], pushed["branch"])
            report = previous
        else:
            settings = {
                "model": pushed["repo"],
                "revision": pushed["branch"],
                "hub": ctx["hub"],
                "suite": size.eval_suite,
                "data": "bundled",
                "limit": size.eval_limit,
                "max_tokens": size.eval_max_tokens,
                "output": str(path),
                "push": True,
                "progress": ctx.get("progress", False),
                **extra,
            }
            report = run_evaluation(EvalConfig(**settings)).as_dict()
        results[name] = {
            "repo": pushed["repo"],
            "branch": pushed["branch"],
            "trained_sha": pushed["sha"],
            "card_commit": report["card"].get("commit"),
            "results": str(path),
            "average": (report.get("average") or {}).get("value"),
            "scores": {b["name"]: b["metrics"][b["primary"]]["value"] for b in report["benchmarks"]},
            "details": (report.get("details") or {}).get("repo"),
        }
    return results


def _eval_settings(sets: list[str]) -> dict[str, Any]:
    """`--set eval.KEY=VALUE` -> EvalConfig fields (checked against the dataclass, values parsed as YAML)."""
    import dataclasses

    from nebula_hub.config import parse_override
    from nebula_hub.evaluation.runner import EvalConfig

    names = {f.name for f in dataclasses.fields(EvalConfig)} - {"model", "revision", "hub", "output", "push"}
    out = {}
    for text in sets:
        path, value = parse_override(text)
        key = ".".join(path)
        if key not in names:
            raise NebulaError(
                f"--set eval.{key}: unknown eval setting {key!r}", hint=f"one of: {', '.join(sorted(names))}"
            )
        out[key] = value
    return out


def run_stage(name: str, ctx: dict[str, Any]) -> dict[str, Any]:
    """Run quickstart stage `name` with context `ctx` (in this process) and return its output."""
    if name == "curate-sft":
        return curate_sft(ctx)
    if name == "curate-rl":
        return curate_rl(ctx)
    if name == "publish":
        return publish(ctx)
    if name == "evaluate":
        return evaluate(ctx)
    if name.startswith("train-"):
        groups = dict((g, s) for g, s in ctx["train_groups"])
        if name in groups:
            return train(ctx, groups[name])
    raise NebulaError(f"unknown quickstart stage {name!r}", hint="this is a bug in nebula-hub; please report it")
