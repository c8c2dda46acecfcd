"""`train-and-push` as library calls: load a recipe, then for each stage train it, render its card, push it.

    from nebula_hub.train import train_and_push
    result = train_and_push("pipelines/recipes/tiny/quickstart.yaml", overrides=["defaults.max_steps=2"])
    result.pushed["mopd"]          # {"repo": ..., "branch": ..., "sha": ..., "tag": ...}

or step by step (what `train_and_push` does):

    recipe = load_recipe(path, overrides)
    run = Run.open(recipe, target, resume=False)
    for name in recipe.stage_names():
        out = train_stage(run, name)               # every phase, resuming from checkpoints
        card = stage_card(run, name, out)          # cards/model_card.md.j2 with lineage
        push_stage(run, name, out, card)           # branch <run>-<stage>, one commit, tag if versioned

On several GPUs, the same call runs the stages under `accelerate launch` and returns the same `RunResult`, read back
from the run folder's `state.json` once the launched processes exit:

    result = train_and_push(path, accelerate_config="pipelines/accelerate/zero3.yaml")

Layout of a run folder (`<output_dir>/<run_name>/`): `state.json` (run id, recipe sha256, per-stage phases done,
pushes), `recipe.yaml` (as run), `<stage>/<phase>/checkpoint-N` (Trainer checkpoints, `save_steps`),
`<stage>/<phase>/final` (the phase's model), `<stage>/final` (the stage's checkpoint folder that gets pushed).

Resume (`resume=True`): phases and stages recorded as done are skipped, a phase with checkpoints continues from the
last one, and a stage pushed by this run is not pushed again. Parents and teachers that live on the Hub are fetched
by commit sha; the checkpoint of an earlier stage of the same run is used from its local folder (the exact folder
that was pushed).
"""

import datetime as _dt
import json
import logging
import os
import platform
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nebula_hub.errors import NebulaError
from nebula_hub.train.configs import RecipeConfig, load_recipe, stage_args


logger = logging.getLogger(__name__)
STATE = "state.json"


@dataclass
class ModelRef:
    """A model the run starts from or distills from: where it is on the Hub (repo, revision, sha) and locally."""

    repo: str | None
    revision: str | None
    sha: str | None
    path: str
    stage: str | None = None

    def lineage(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "revision": self.revision,
            "sha": self.sha,
            **({"stage": self.stage} if self.stage else {}),
        }


@dataclass
class StageOutput:
    """A trained stage: its checkpoint folder and everything its card records."""

    name: str
    final_dir: Path
    parent: ModelRef
    datasets: list[dict[str, Any]] = field(default_factory=list)
    teachers: list[dict[str, Any]] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    routing: dict[str, int] = field(default_factory=dict)
    wall_time_s: float = 0.0
    started_at: str = ""


@dataclass
class RunResult:
    run_dir: Path
    pushed: dict[str, dict[str, Any]] = field(default_factory=dict)  # every pushed stage of the run (now or before)
    trained: list[str] = field(default_factory=list)  # stages trained by this call
    skipped: list[str] = field(default_factory=list)  # stages already done in the run folder
    launched: list[str] | None = None  # the `accelerate launch` command when the stages ran under it

    @classmethod
    def from_state(
        cls,
        recipe: RecipeConfig,
        state: dict[str, Any],
        before: dict[str, Any] | None = None,
        stages: list[str] | None = None,
    ) -> "RunResult":
        """The result of a call that took the run folder from state `before` to `state` (the `state.json` contents).

        This is how a caller gets the result of stages that ran in other processes (`accelerate launch`): a stage
        done before the call was skipped, one done only after it was trained, exactly as `train_and_push` counts.

        Example:
            >>> from nebula_hub.paths import resource_path
            >>> recipe = load_recipe(resource_path("pipelines", "recipes", "tiny", "quickstart.yaml"))
            >>> pushed = {"repo": "local/m", "branch": "quickstart-grpo", "sha": "a" * 40, "tag": None}
            >>> before = {"stages": {"ins_sft": {"pushed": {"sha": "b" * 40}}}}
            >>> after = {"stages": {**before["stages"], "grpo": {"pushed": pushed}}}
            >>> res = RunResult.from_state(recipe, after, before, stages=["ins_sft", "grpo"])
            >>> res.skipped, res.trained, sorted(res.pushed)
            (['ins_sft'], ['grpo'], ['grpo', 'ins_sft'])
        """
        result = cls(run_dir=recipe.run_dir)
        earlier = (before or {}).get("stages", {})
        now = state.get("stages", {})
        for name in recipe.stage_names():
            if stages and name not in stages:
                continue
            st = now.get(name, {})
            if stage_done(recipe, name, earlier.get(name, {})):
                result.skipped.append(name)
            elif stage_done(recipe, name, st):
                result.trained.append(name)
            else:
                raise NebulaError(
                    f"stage {name!r} is not done in {recipe.run_dir / STATE} after the run "
                    f"(recorded: {sorted(k for k in st if k != 'phases') or 'nothing'})",
                    hint="the launched processes stopped early; see their output, then rerun with --resume",
                )
            if st.get("pushed"):
                result.pushed[name] = st["pushed"]
        return result


# ---- run folder and state --------------------------------------------------------------------------------------
class Run:
    """A recipe being run: its folder, state file, hub target and client."""

    def __init__(self, recipe: RecipeConfig, target, state: dict[str, Any], resume: bool, overwrite: bool):
        from nebula_hub.hub import get_api

        self.recipe = recipe
        self.target = target
        self.api = get_api(target)
        self.state = state
        self.resume = resume
        self.overwrite = overwrite
        self.dir = recipe.run_dir

    @classmethod
    def open(cls, recipe: RecipeConfig, target, resume: bool = False, overwrite: bool = False) -> "Run":
        """Create the run folder, or reopen it with `resume=True` (refused without it, so no run is clobbered)."""
        run_dir = recipe.run_dir
        path = run_dir / STATE
        check_run_folder(recipe, resume)
        if path.is_file():
            state = json.loads(path.read_text())
            if state.get("recipe_sha256") != recipe.source_sha256:
                logger.warning(
                    "the recipe (or its overrides) changed since this run started; continuing with the new one"
                )
        else:
            state = {"run_id": uuid.uuid4().hex[:12], "stages": {}, "created_at": _now()}
        state["recipe_sha256"] = recipe.source_sha256
        run = cls(recipe, target, state, resume, overwrite)
        if _is_main():
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "recipe.yaml").write_text(recipe.resolved_yaml)
            run.save()
        return run

    def save(self) -> None:
        if not _is_main():
            return
        tmp = self.dir / (STATE + ".tmp")
        tmp.write_text(json.dumps(self.state, indent=2, default=str))
        tmp.replace(self.dir / STATE)

    def stage_state(self, name: str) -> dict[str, Any]:
        return self.state["stages"].setdefault(name, {"phases": {}})


def check_run_folder(recipe: RecipeConfig, resume: bool) -> None:
    """Refuse to start a run in a folder that already holds one, unless resuming (so no run is clobbered)."""
    if (recipe.run_dir / STATE).is_file() and not resume:
        raise NebulaError(
            f"run folder {recipe.run_dir} already holds a run (state.json)",
            hint="pass --resume to continue it, or --set run_name=NAME to start another",
        )


def read_state(run_dir: str | Path) -> dict[str, Any] | None:
    """The run's `state.json` (None when the folder holds no run yet)."""
    path = Path(run_dir) / STATE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise NebulaError(
            f"{path} is not valid JSON ({err.msg} at line {err.lineno})",
            hint="the file is written atomically by nebula-hub; if you edited it, restore it or start another run "
            "with --set run_name=NAME",
        ) from None


def stage_done(recipe: RecipeConfig, name: str, st: dict[str, Any]) -> bool:
    """Whether stage `name` needs no more work in a run whose state for it is `st` (pushed, or carded if unpushed)."""
    return bool(st.get("pushed") or (st.get("final_dir") and not recipe.stages[name].push and st.get("carded")))


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


# ---- models: base, parents, teachers ---------------------------------------------------------------------------
def fetch_model(run: Run, repo: str, revision: str | None) -> ModelRef:
    """Resolve `repo@revision` to a commit sha and download that exact commit."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    from nebula_hub.hub import use_hub

    try:
        sha = run.api.model_info(repo, revision=revision).sha
    except (RepositoryNotFoundError, RevisionNotFoundError):
        raise NebulaError(
            f"model {repo}@{revision or 'main'} was not found on {run.target.endpoint}",
            hint="check the repo id and revision in the recipe (and --hub)",
        ) from None
    with use_hub(run.target):
        path = snapshot_download(repo, revision=sha)
    return ModelRef(repo=repo, revision=revision or "main", sha=sha, path=path)


def tiny_model_ref(run: Run, tiny: dict[str, Any]) -> ModelRef:
    """Build the tiny Qwen3 for `tiny` settings and push it (branch `base-tiny-<hash>`) so it has a Hub sha."""
    from nebula_hub.config import from_dict
    from nebula_hub.models import TinyModelConfig, build_tiny_model
    from nebula_hub.train.push import push_checkpoint

    config = from_dict(TinyModelConfig, tiny, where="recipe tiny settings")
    path = build_tiny_model(config)
    branch = f"base-tiny-{config.fingerprint()}"
    staged = run.dir / "_base" / branch
    if _is_main():
        if not staged.is_dir():
            shutil.copytree(path, staged)
        sha = push_checkpoint(staged, run.recipe.repo, branch, run.api, run_id=branch, private=run.recipe.private)
    _barrier()
    if not _is_main():
        sha = run.api.repo_info(run.recipe.repo, revision=branch).sha
    return ModelRef(repo=run.recipe.repo, revision=branch, sha=sha, path=str(path))


def base_model_ref(run: Run) -> ModelRef:
    recipe = run.recipe
    if recipe.base_model == "tiny":
        return tiny_model_ref(run, recipe.tiny)
    return fetch_model(run, recipe.base_model, recipe.base_model_revision)


def stage_ref(run: Run, name: str) -> ModelRef:
    """The checkpoint of an earlier stage of this run (error if it has not been trained yet)."""
    st = run.state["stages"].get(name, {})
    if "final_dir" not in st:
        raise NebulaError(
            f"stage {name!r} has not been trained in run folder {run.dir}",
            hint=f"run it first (--stages {name}) or point init_from/teachers at a Hub repo@revision",
        )
    pushed = st.get("pushed") or {}
    path = st["final_dir"]
    if not Path(path).is_dir() and pushed:
        path = fetch_model(run, pushed["repo"], pushed["sha"]).path
    return ModelRef(pushed.get("repo"), pushed.get("branch"), pushed.get("sha"), str(path), stage=name)


def resolve_ref(run: Run, ref: str, stage_index: int) -> ModelRef:
    """`previous` | `base` | stage name | `stage:<name>` | `repo@revision` -> `ModelRef`."""
    names = run.recipe.stage_names()
    if ref == "previous":
        return resolve_ref(run, "base" if stage_index == 0 else names[stage_index - 1], stage_index)
    if ref == "base":
        if "base" not in run.state:
            run.state["base"] = base_model_ref(run).__dict__
            run.save()
        return ModelRef(**run.state["base"])
    name = ref.removeprefix("stage:")
    if name in names:
        return stage_ref(run, name)
    repo, _, revision = ref.partition("@")
    return fetch_model(run, repo, revision or None)


def teacher_ref(run: Run, teacher, stage_index: int) -> ModelRef:
    if teacher.model == "tiny":
        return tiny_model_ref(run, teacher.tiny)
    if teacher.model.startswith("stage:"):
        return resolve_ref(run, teacher.model, stage_index)
    return fetch_model(run, teacher.model, teacher.revision)


# ---- one stage ---------------------------------------------------------------------------------------------------
def train_stage(run: Run, name: str) -> StageOutput:
    """Train every phase of stage `name` (skipping phases already done) and assemble its checkpoint folder."""
    from nebula_hub.hub import use_hub
    from nebula_hub.train.card import settings_of
    from nebula_hub.train.common import TrainResult
    from nebula_hub.train.data import load_mixture

    recipe = run.recipe
    stage = recipe.stages[name]
    index = recipe.stage_names().index(name)
    st = run.stage_state(name)
    started, t0 = _now(), time.time()
    parent = resolve_ref(run, stage.init_from, index)
    teachers = [(t, teacher_ref(run, t, index)) for t in stage.teachers]

    with use_hub(run.target):
        mixtures = []
        for phase in stage.phases:
            ds, lineage = load_mixture(phase.datasets, stage.method, run.api, seed=recipe.seed)
            mixtures.append((phase, ds, [{"phase": phase.name, **e} for e in lineage]))
    probe = _probe_rows([ds for _, ds, _ in mixtures], stage.probe_rows) if stage.method == "sft" else None

    model_path = parent.path
    phases_out = []
    for phase, ds, _ in mixtures:
        done = st["phases"].get(phase.name)
        phase_dir = run.dir / name / phase.name
        args = stage_args(recipe, name, phase, phase_dir)
        if done:
            logger.info("stage %s phase %s: already trained, skipping", name, phase.name)
            result = TrainResult.from_dict(done)
        else:
            logger.info(
                "stage %s phase %s: training %s on %d rows from %s",
                name,
                phase.name,
                stage.method,
                len(ds),
                model_path,
            )
            result = _train_phase(stage, model_path, ds, args, run.resume, probe, teachers)
            st["phases"][phase.name] = result.to_dict()
            run.save()
        phases_out.append(
            {
                "name": phase.name,
                "global_step": result.global_step,
                "resumed_from": result.resumed_from,
                "settings": settings_of(args),
                "metrics": {k: v for k, v in result.metrics.items() if not isinstance(v, dict)},
                "log_history": result.log_history,
                "routing": result.metrics.get("routing", {}),
            }
        )
        model_path = str(result.final_dir)

    final_dir = run.dir / name / "final"
    if _is_main():
        if final_dir.exists():
            shutil.rmtree(final_dir)
        shutil.copytree(model_path, final_dir, ignore=shutil.ignore_patterns("nebula_train_result.json"))
    st["final_dir"] = str(final_dir)
    run.save()
    _barrier()
    return StageOutput(
        name=name,
        final_dir=final_dir,
        parent=parent,
        datasets=[e for _, _, lineage in mixtures for e in lineage],
        teachers=[{"name": t.name, "tasks": t.tasks, **ref.lineage()} for t, ref in teachers],
        phases=phases_out,
        routing=phases_out[-1]["routing"],
        wall_time_s=round(time.time() - t0, 1),
        started_at=started,
    )


def _train_phase(stage, model_path, dataset, args, resume, probe, teachers):
    if stage.method == "sft":
        from nebula_hub.train.sft import train_sft

        return train_sft(model_path, dataset, args, resume=resume, probe_dataset=probe)
    if stage.method == "grpo":
        from nebula_hub.train.grpo import train_grpo

        return train_grpo(model_path, dataset, args, resume=resume)
    if stage.method == "opd":
        from nebula_hub.train.distill import train_opd

        return train_opd(model_path, teachers[0][1].path, dataset, args, resume=resume)
    from nebula_hub.train.distill import build_routes, train_mopd

    paths = {t.name: ref.path for t, ref in teachers}
    return train_mopd(model_path, paths, build_routes([t for t, _ in teachers]), dataset, args, resume=resume)


def _probe_rows(datasets_: list, n: int):
    """A fixed batch drawn evenly from every phase's mixture (first rows after the seeded shuffle)."""
    import datasets

    if n <= 0:
        return None
    per = max(1, n // len(datasets_))
    parts = [ds.select(range(min(per, len(ds)))) for ds in datasets_]
    return datasets.concatenate_datasets(parts)


def hardware_summary() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    return f"CPU ({os.cpu_count()} cores, {platform.machine()}), torch {torch.__version__}"


def stage_card(run: Run, name: str, out: StageOutput):
    """Render stage `name`'s model card (also writes `loss.png` / `reward.png` and README.md into its folder)."""
    from nebula_hub.train.card import StageLineage, plot_curves, render_model_card

    recipe = run.recipe
    stage = recipe.stages[name]
    plots = plot_curves(out.phases, out.final_dir) if _is_main() else []
    lineage = StageLineage(
        model_id=recipe.repo,
        branch=recipe.branch(name),
        stage=name,
        method=stage.method,
        recipe_name=recipe.name,
        recipe_path=str(recipe.source_path),
        recipe_sha256=str(recipe.source_sha256),
        recipe_yaml=recipe.resolved_yaml,
        parent=out.parent.lineage(),
        datasets=out.datasets,
        teachers=out.teachers,
        phases=[{k: v for k, v in p.items() if k not in ("log_history", "routing")} for p in out.phases],
        routing=out.routing,
        description=stage.description or recipe.description,
        license=recipe.license,
        hardware=hardware_summary(),
        wall_time_s=out.wall_time_s,
        started_at=out.started_at,
        plots=plots,
    )
    card = render_model_card(lineage)
    if _is_main():
        card.save(str(out.final_dir / "README.md"))
    return card


def push_stage(run: Run, name: str, out: StageOutput) -> dict[str, Any] | None:
    """Push the stage's folder to `<repo>@<run>-<stage>` (tag `<branch>-v<version>` when the recipe is versioned)."""
    from nebula_hub.train.push import push_checkpoint

    recipe = run.recipe
    if not recipe.stages[name].push or not _is_main():
        return None
    branch = recipe.branch(name)
    tag = f"{branch}-v{recipe.version}" if recipe.version else None
    sha = push_checkpoint(
        out.final_dir, recipe.repo, branch, run.api, run_id=run.state["run_id"], tag=tag,
        overwrite=run.overwrite, private=recipe.private,
    )  # fmt: skip
    pushed = {"repo": recipe.repo, "branch": branch, "sha": sha, "tag": tag}
    run.stage_state(name)["pushed"] = pushed
    run.save()
    logger.info("pushed stage %s to %s@%s (%s)", name, recipe.repo, branch, sha[:12])
    return pushed


# ---- the whole recipe --------------------------------------------------------------------------------------------
def train_and_push(
    recipe: str | Path | RecipeConfig,
    overrides: list[str] | None = None,
    hub: str | None = None,
    resume: bool = False,
    stages: list[str] | None = None,
    overwrite: bool = False,
    accelerate_config: str | Path | None = None,
) -> RunResult:
    """Train every stage of a recipe in order and push each stage's checkpoint with its model card.

    Args:
        recipe (`str` or `RecipeConfig`): the recipe file (or an already loaded recipe).
        overrides (`list[str]`, *optional*): `--set` overrides, e.g. `["stages.grpo.args.max_steps=2"]`.
        hub (`str`, *optional*): hub URL; defaults to `HF_ENDPOINT`, else the local Hub.
        resume (`bool`, *optional*, defaults to `False`): continue the run in the run folder.
        stages (`list[str]`, *optional*): only these stages (earlier ones must already be in the run folder).
        overwrite (`bool`, *optional*, defaults to `False`): allow pushing onto a branch another run pushed to.
        accelerate_config (`str`, *optional*): run the stages under `accelerate launch --config_file FILE`
            (e.g. `pipelines/accelerate/zero3.yaml`: one process per GPU) and wait for it; the result is read back
            from the run folder's `state.json`. A loaded `RecipeConfig` is relaunched from its file and overrides.

    Example:
        >>> from nebula_hub.paths import resource_path
        >>> res = train_and_push(resource_path("pipelines", "recipes", "tiny", "quickstart.yaml"),
        ...                      overrides=["defaults.max_steps=2"])                       # doctest: +SKIP
        >>> sorted(res.pushed)                                                              # doctest: +SKIP
        ['grpo', 'ins_sft', 'mopd', 'opd', 'teacher_code', 'teacher_if', 'teacher_knowledge', 'teacher_math']
        >>> res = train_and_push("pipelines/recipes/qwen3-8b-base/quickstart.yaml", hub="https://huggingface.co",
        ...                      accelerate_config="pipelines/accelerate/zero3.yaml")        # doctest: +SKIP
    """
    from nebula_hub.hub import resolve_hub

    if not isinstance(recipe, RecipeConfig):
        recipe = load_recipe(recipe, overrides)
    unknown = sorted(set(stages or []) - set(recipe.stage_names()))
    if unknown:
        raise NebulaError(
            f"--stages names unknown stage(s) {unknown}", hint=f"the recipe's stages: {recipe.stage_names()}"
        )
    if accelerate_config:
        check_launch(recipe, accelerate_config, resume)  # before a local Hub or any process is started
    # For the local Hub this starts it (for this process's lifetime) if needed; launched processes then reuse it.
    target = resolve_hub(hub)
    print(target.describe())
    if accelerate_config:
        return launch_stages(recipe, accelerate_config, hub=hub, resume=resume, stages=stages, overwrite=overwrite)
    run = Run.open(recipe, target, resume=resume, overwrite=overwrite)
    result = RunResult(run_dir=run.dir)
    for name in recipe.stage_names():
        if stages and name not in stages:
            continue
        st = run.stage_state(name)
        if stage_done(recipe, name, st):
            logger.info("stage %s: already done in this run, skipping", name)
            result.skipped.append(name)
            if st.get("pushed"):
                result.pushed[name] = st["pushed"]
            continue
        out = train_stage(run, name)
        result.trained.append(name)
        stage_card(run, name, out)
        st["carded"] = True
        run.save()
        pushed = push_stage(run, name, out)
        if pushed:
            result.pushed[name] = pushed
            print(f"{name}: {pushed['repo']}@{pushed['branch']} ({pushed['sha'][:12]})")
    return result


def check_launch(recipe: RecipeConfig, accelerate_config: str | Path, resume: bool) -> None:
    """Refuse a launch that cannot work, before any process starts (they would all fail the same way)."""
    if not Path(accelerate_config).is_file():
        raise NebulaError(
            f"accelerate config {accelerate_config} does not exist",
            hint="use one of pipelines/accelerate/*.yaml (zero3.yaml, zero2.yaml, fsdp.yaml, multi_gpu.yaml) "
            "or write one with `accelerate config`",
        )
    if not recipe.source_path:
        raise NebulaError(
            f"recipe {recipe.name!r} has no source file, so the launched processes cannot read it",
            hint="pass the recipe's path (or a RecipeConfig from load_recipe) together with accelerate_config",
        )
    check_run_folder(recipe, resume)


def launch_command(
    recipe: RecipeConfig,
    accelerate_config: str | Path,
    hub: str | None = None,
    resume: bool = False,
    stages: list[str] | None = None,
    overwrite: bool = False,
) -> list[str]:
    """The `accelerate launch ... -m nebula_hub.train` command that runs `recipe` (its file and the overrides it was
    loaded with, so every process sees the same recipe and records the same sha256) on every process.

    Example:
        >>> from nebula_hub.paths import resource_path
        >>> recipe = load_recipe(resource_path("pipelines", "recipes", "tiny", "quickstart.yaml"), ["seed=1"])
        >>> cmd = launch_command(recipe, "zero3.yaml", stages=["grpo"], resume=True)
        >>> cmd[2:5], cmd[-5:]
        (['accelerate.commands.launch', '--config_file', 'zero3.yaml'], ['--set', 'seed=1', '--stages', 'grpo', '--resume'])
    """
    import argparse

    from nebula_hub.train.launch import accelerate_command

    args = argparse.Namespace(
        accelerate_config=str(accelerate_config),
        recipe=str(recipe.source_path),
        overrides=list(recipe.source_overrides),
        hub=hub,
        stages=",".join(stages) if stages else None,
        resume=resume,
        overwrite=overwrite,
    )
    return accelerate_command(args)


def launch_stages(
    recipe: RecipeConfig,
    accelerate_config: str | Path,
    hub: str | None = None,
    resume: bool = False,
    stages: list[str] | None = None,
    overwrite: bool = False,
) -> RunResult:
    """Run `train_and_push` for `recipe` under `accelerate launch` (every process runs `python -m nebula_hub.train`
    with the same arguments), wait for it, and read the result back from the run folder's `state.json`.

    Example:
        >>> recipe = load_recipe("pipelines/recipes/qwen3-8b-base/quickstart.yaml")              # doctest: +SKIP
        >>> res = launch_stages(recipe, "pipelines/accelerate/zero3.yaml", hub="https://huggingface.co",
        ...                     stages=["ins_sft"])                                              # doctest: +SKIP
        >>> res.launched[:3], res.pushed["ins_sft"]["branch"]                                    # doctest: +SKIP
    """
    import shlex
    import subprocess

    from nebula_hub.hub import redact

    check_launch(recipe, accelerate_config, resume)
    before = read_state(recipe.run_dir)
    cmd = launch_command(recipe, accelerate_config, hub=hub, resume=resume, stages=stages, overwrite=overwrite)
    print("running:", redact(shlex.join(cmd)), flush=True)
    code = subprocess.call(cmd)
    if code != 0:
        raise NebulaError(
            f"`accelerate launch` of recipe {recipe.source_path} exited with code {code}",
            hint="the launched processes' error is in the output above; fix it and rerun with --resume "
            "(resume=True) to continue from the last checkpoint",
        )
    state = read_state(recipe.run_dir)
    if state is None:
        raise NebulaError(
            f"`accelerate launch` finished but {recipe.run_dir / STATE} does not exist",
            hint="the launched processes must share this working directory (or output_dir must be an absolute "
            "path on a shared filesystem)",
        )
    result = RunResult.from_state(recipe, state, before, stages)
    result.launched = cmd
    return result
