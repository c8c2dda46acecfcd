"""Training recipes: YAML -> typed dataclasses, one stage after another.

A recipe names a base model, one model repo and an ordered mapping of stages. Each stage picks a method (`sft`,
`grpo`, `opd`, `mopd`), where it starts (`init_from`), its datasets (Hub repo + config + revision, with mixture
weights), and an `args` block that is a TRL config verbatim (`SFTConfig`, `GRPOConfig` or `DistillationConfig`,
extended below with the few fields nebula-hub adds). A stage may be split into `phases` (Ins-SFT: three SFT phases,
each with its own datasets and hyper-parameters, phase k starting from phase k-1); it is pushed once, after its last
phase.

    recipe = load_recipe("pipelines/recipes/tiny/quickstart.yaml", overrides=["stages.grpo.args.max_steps=2"])
    for name, stage in recipe.stages.items():
        args = stage_args(recipe, name, stage.phases[0], output_dir=f"runs/x/{name}")   # a real TRL config

Recipes hold several TRL configs (one per stage and phase), so TRL's `TrlParser` (one config per process) does not
fit; `nebula_hub.config` reads the YAML and `--set` overrides instead, and each `args` block is checked against its
TRL config class field by field when the recipe is loaded. The TRL config itself is built only when the stage runs,
because TRL validates hardware there (`bf16: true` refuses to build on a CPU-only machine).
"""

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from nebula_hub.config import apply_overrides, from_dict, read_yaml
from nebula_hub.errors import ConfigError


METHODS = ("sft", "grpo", "opd", "mopd")


def _trl():
    # TRL imports torch and transformers (seconds); keep `nebula-hub --help` fast by importing on first use.
    import trl

    return trl


@dataclass
class DatasetSpec:
    """One Hub dataset in a stage's mixture.

    Source:
        repo, config, revision, split: what to load; the revision (a tag such as `v0.1.0`, a branch or a sha) is
        resolved to a commit sha before loading, and that sha is what the model card records.
    Mixture:
        weight: fraction of the rows to keep (`0.5` keeps a seeded half); above 1 the rows are repeated (`2.0` twice).
        where: keep rows whose column equals the value (or is one of a list), e.g. `{difficulty: medium}`.
        max_samples: cap after weighting.
        keep_zero_variance: GRPO only: keep prompts whose measured pass rate is exactly 0 or 1 (every rollout of the
            grader failed, or every one passed). They give GRPO no learning signal, so they are dropped by default.
    """

    repo: str = field(default="", metadata={"help": "Hub dataset repo id, e.g. `nebula/sft-corpus`."})
    config: str | None = field(default=None, metadata={"help": "Dataset config name (None: the default config)."})
    revision: str = field(default="main", metadata={"help": "Tag, branch or commit sha to load."})
    split: str = field(default="train", metadata={"help": "Split to load."})
    weight: float = field(default=1.0, metadata={"help": "Fraction of rows kept (>1 repeats rows)."})
    where: dict[str, Any] = field(default_factory=dict, metadata={"help": "Row filter: column -> value or list."})
    max_samples: int | None = field(default=None, metadata={"help": "Keep at most this many rows."})
    keep_zero_variance: bool = field(
        default=False, metadata={"help": "GRPO: keep prompts with pass_rate 0 or 1 (dropped by default)."}
    )

    def __post_init__(self):
        if not self.repo:
            raise ConfigError("dataset entry has no 'repo'", hint="give the Hub dataset id, e.g. repo: nebula/sft")
        if self.weight <= 0:
            raise ConfigError(f"dataset {self.repo!r}: weight must be > 0, got {self.weight}")


@dataclass
class TeacherSpec:
    """A teacher for on-policy distillation.

    `model` is a Hub repo id (pinned by `revision`, resolved to a sha before loading), `stage:<name>` for a stage of
    this recipe (its pushed checkpoint), or `tiny` (the tiny Qwen3 built with `tiny`'s fields, e.g. `{seed: 3}`).
    For MOPD, `tasks` lists the task labels routed to this teacher (`"*"` takes every task no other teacher names).
    """

    name: str = field(default="", metadata={"help": "Teacher key, e.g. `math` (used in logs: `loss/<name>`)."})
    model: str = field(default="", metadata={"help": "Repo id, `stage:<name>` or `tiny`."})
    revision: str | None = field(default=None, metadata={"help": "Tag, branch or sha of `model`."})
    tasks: list[str] = field(default_factory=list, metadata={"help": "Task labels routed to this teacher (MOPD)."})
    tiny: dict[str, Any] = field(default_factory=dict, metadata={"help": "TinyModelConfig fields when model: tiny."})

    def __post_init__(self):
        if not self.model:
            raise ConfigError(
                f"teacher {self.name or '(unnamed)'!r} has no 'model'", hint="give a repo id or stage:NAME"
            )


@dataclass
class PhaseConfig:
    """One training run inside a stage: its datasets and the TRL arguments that differ from the stage's."""

    name: str = field(default="", metadata={"help": "Phase name (folder and card label); defaults to phaseN."})
    datasets: list[DatasetSpec] = field(default_factory=list, metadata={"help": "The phase's dataset mixture."})
    args: dict[str, Any] = field(default_factory=dict, metadata={"help": "TRL arguments merged over the stage's."})


@dataclass
class StageConfig:
    """One checkpoint of the recipe.

    Method and start:
        method: `sft`, `grpo`, `opd` (one teacher) or `mopd` (several teachers).
        init_from: `previous` (the stage before, or the base model for the first), `base`, the name of an earlier
            stage, or `repo@revision`.
    Data and training:
        datasets / phases: a single mixture, or a list of phases run one after another.
        args: the TRL config of the method (`SFTConfig`, `NebulaGRPOConfig`, `DistillationConfig` / `MOPDConfig`).
        teachers: the teachers (OPD: exactly one, MOPD: one per domain).
    Push:
        push: push the final checkpoint (a branch of the recipe's repo); branch: its name (default `<run>-<stage>`).
    """

    method: Literal["sft", "grpo", "opd", "mopd"] = field(default="sft", metadata={"help": "Training method."})
    init_from: str = field(default="previous", metadata={"help": "previous | base | <stage> | repo@revision."})
    description: str = field(default="", metadata={"help": "One line for the model card."})
    datasets: list[DatasetSpec] = field(default_factory=list, metadata={"help": "Dataset mixture (single phase)."})
    phases: list[PhaseConfig] = field(default_factory=list, metadata={"help": "Phases run in order (Ins-SFT)."})
    args: dict[str, Any] = field(default_factory=dict, metadata={"help": "TRL config fields for this stage."})
    teachers: list[TeacherSpec] = field(default_factory=list, metadata={"help": "Teachers (OPD: one; MOPD: many)."})
    probe_rows: int = field(default=8, metadata={"help": "SFT: rows of a fixed batch whose loss is logged per phase."})
    push: bool = field(default=True, metadata={"help": "Push the final checkpoint to the Hub."})
    branch: str | None = field(default=None, metadata={"help": "Branch to push to (default `<run>-<stage>`)."})

    def __post_init__(self):
        if self.datasets and self.phases:
            raise ConfigError(
                "a stage has both 'datasets' and 'phases'",
                hint="put the datasets inside each phase, or drop 'phases' for a single-phase stage",
            )
        if not self.phases:
            self.phases = [PhaseConfig(name="main", datasets=self.datasets)]
            self.datasets = []
        for i, phase in enumerate(self.phases):
            phase.name = phase.name or f"phase{i + 1}"


@dataclass
class RecipeConfig:
    """A training recipe: the base model, where checkpoints go, and the stages in order.

    Model and Hub:
        base_model (+ base_model_revision, tiny): the starting checkpoint; `tiny` builds the tiny Qwen3 (and pushes it
            to the recipe's repo, branch `base-tiny-<hash>`, so every parent in the lineage is a Hub repo@sha).
        repo: the model repo; each stage is pushed to its own branch. version: when set, each pushed stage is also
            tagged `<branch>-v<version>`.
    Run:
        run_name: names the run folder and the branches (default: the recipe name); output_dir: parent of run folders.
        defaults: TRL arguments applied to every stage (below the stage's and the phase's own `args`).
    """

    name: str = field(default="", metadata={"help": "Recipe name."})
    description: str = field(default="", metadata={"help": "What the recipe trains (model card prose)."})
    base_model: str = field(default="tiny", metadata={"help": "Hub repo id of the base model, or `tiny`."})
    base_model_revision: str | None = field(default=None, metadata={"help": "Revision of the base model."})
    tiny: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "TinyModelConfig fields for base_model: tiny."}
    )
    repo: str = field(default="", metadata={"help": "Model repo id receiving one branch per stage."})
    private: bool = field(default=False, metadata={"help": "Create the model repo as private."})
    license: str = field(default="apache-2.0", metadata={"help": "License in the model cards."})
    version: str | None = field(default=None, metadata={"help": "Release version: tags `<branch>-v<version>`."})
    run_name: str = field(default="", metadata={"help": "Run folder and branch prefix (default: name)."})
    output_dir: str = field(default="runs", metadata={"help": "Parent folder of run folders."})
    seed: int = field(default=42, metadata={"help": "Seed for mixtures and training."})
    defaults: dict[str, Any] = field(default_factory=dict, metadata={"help": "TRL arguments for every stage."})
    stages: dict[str, StageConfig] = field(default_factory=dict, metadata={"help": "Stages, trained in order."})

    # Filled by `load_recipe`, not read from YAML.
    source_path: str | None = field(default=None, metadata={"help": "(set by load_recipe)"})
    source_sha256: str | None = field(default=None, metadata={"help": "(set by load_recipe)"})
    source_overrides: list[str] = field(default_factory=list, metadata={"help": "(set by load_recipe)"})
    resolved_yaml: str = field(default="", metadata={"help": "(set by load_recipe)"})

    def __post_init__(self):
        if not self.name:
            raise ConfigError("recipe has no 'name'", hint="add e.g. name: quickstart at the top of the recipe")
        if not self.repo:
            raise ConfigError(f"recipe {self.name!r} has no 'repo'", hint="add e.g. repo: local/nebula-tiny")
        if not self.stages:
            raise ConfigError(f"recipe {self.name!r} has no stages", hint="add a 'stages:' mapping (name -> stage)")
        self.run_name = self.run_name or self.name

    def stage_names(self) -> list[str]:
        return list(self.stages)

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.run_name

    def branch(self, stage: str) -> str:
        return self.stages[stage].branch or f"{self.run_name}-{stage}".replace("_", "-")


# ---- TRL config classes ------------------------------------------------------------------------------------
_CLS_CACHE: dict[str, type] = {}


def trl_config_class(method: str) -> type:
    """The TRL config class behind a stage's `args` block.

    Example:
        >>> trl_config_class("sft").__name__
        'SFTConfig'
    """
    if method not in _CLS_CACHE:
        trl = _trl()
        from nebula_hub.train import trl_configs

        _CLS_CACHE[method] = {
            "sft": trl.SFTConfig,
            "grpo": trl_configs.NebulaGRPOConfig,
            "opd": trl.DistillationConfig,
            "mopd": trl_configs.MOPDConfig,
        }[method]
    return _CLS_CACHE[method]


# Settings that make a run work on a CPU-only machine; lowest priority, so recipes and --set win.
CPU_DEFAULTS = {"use_cpu": True, "bf16": False, "gradient_checkpointing": False}
# nebula-hub's own defaults for every run (below recipe values): deterministic logs, no external trackers.
RUN_DEFAULTS = {
    "report_to": "none",
    "logging_steps": 1,
    "save_strategy": "steps",
    "save_steps": 50,
    "save_total_limit": 2,
}


def has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def merged_args(recipe: RecipeConfig, stage: StageConfig, phase: PhaseConfig) -> dict[str, Any]:
    """The TRL arguments of one phase: run defaults < CPU defaults (no CUDA) < recipe defaults < stage < phase."""
    out: dict[str, Any] = dict(RUN_DEFAULTS)
    if not has_cuda():
        out.update(CPU_DEFAULTS)
    out["seed"] = recipe.seed
    for layer in (recipe.defaults, stage.args, phase.args):
        out.update(layer)
    return out


def stage_args(recipe: RecipeConfig, stage_name: str, phase: PhaseConfig, output_dir: str | Path):
    """Build the TRL config of one phase (this is where TRL validates hardware settings).

    Example:
        >>> from nebula_hub.paths import resource_path
        >>> recipe = load_recipe(resource_path("pipelines", "recipes", "tiny", "quickstart.yaml"))
        >>> args = stage_args(recipe, "grpo", recipe.stages["grpo"].phases[0], "/tmp/out")
        >>> type(args).__name__, args.num_generations, args.reward_funcs
        ('NebulaGRPOConfig', 4, ['multi_task', 'format'])
    """
    stage = recipe.stages[stage_name]
    data = merged_args(recipe, stage, phase)
    data["output_dir"] = str(output_dir)
    cls = trl_config_class(stage.method)
    where = f"recipe {recipe.name!r}, stage {stage_name!r}, phase {phase.name!r}, args"
    try:
        return from_dict(cls, data, where=where)
    except ConfigError as err:
        if "bf16" in err.message or "fp16" in err.message or "gpu" in err.message.lower():
            raise ConfigError(
                err.message,
                hint="this recipe expects a GPU; on CPU pass --set defaults.bf16=false (or use a tiny recipe)",
            ) from None
        raise


def check_args(cls: type, data: dict[str, Any], where: str) -> None:
    """Check an `args` block against a TRL config class without building it: names and value types."""
    from nebula_hub.config import convert_value  # the shared loader's type conversion, reused for early checks

    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], sorted(names), n=1)
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} for {cls.__name__}",
            hint=(f"did you mean {close[0]!r}? " if close else "")
            + f"see the fields of trl.{cls.__mro__[0].__name__}",
        )
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        convert_value(hints.get(key, Any), value, f"{where}.{key}")


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> RecipeConfig:
    """Read a recipe YAML, apply `--set` overrides and check every stage's `args` against its TRL config.

    Args:
        path (`str`): the recipe file.
        overrides (`list[str]`, *optional*): `key.sub=value` strings, e.g. `stages.grpo.args.max_steps=2`.

    Example:
        >>> from nebula_hub.paths import resource_path
        >>> r = load_recipe(resource_path("pipelines", "recipes", "tiny", "quickstart.yaml"), ["defaults.seed=1"])
        >>> r.stage_names()[:2]
        ['ins_sft', 'grpo']
    """
    path = Path(path)
    data = apply_overrides(read_yaml(path), overrides)
    recipe = from_dict(RecipeConfig, data, where=str(path))
    recipe.source_path = str(path)
    recipe.source_overrides = list(overrides or [])
    recipe.resolved_yaml = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    # The sha256 pins the recipe as run: the file's bytes plus the overrides applied to it.
    digest = hashlib.sha256(path.read_bytes())
    digest.update(json.dumps(overrides or []).encode())
    recipe.source_sha256 = digest.hexdigest()
    _validate(recipe, str(path))
    return recipe


def _validate(recipe: RecipeConfig, where: str) -> None:
    names = recipe.stage_names()
    for i, (name, stage) in enumerate(recipe.stages.items()):
        here = f"{where}: stage {name!r}"
        cls = trl_config_class(stage.method)
        check_args(cls, recipe.defaults, f"{where}: defaults")
        check_args(cls, stage.args, f"{here}.args")
        for phase in stage.phases:
            check_args(cls, phase.args, f"{here}.phases.{phase.name}.args")
            if not phase.datasets:
                raise ConfigError(f"{here}, phase {phase.name!r}: no datasets", hint="list at least one dataset repo")
        ref = stage.init_from
        if ref not in ("previous", "base") and "@" not in ref and "/" not in ref:
            if ref not in names[:i]:
                raise ConfigError(
                    f"{here}: init_from {ref!r} is not an earlier stage",
                    hint=f"use previous, base, one of {names[:i]}, or repo@revision",
                )
        if stage.method == "opd" and len(stage.teachers) != 1:
            raise ConfigError(
                f"{here}: opd needs exactly one teacher, got {len(stage.teachers)}", hint="use mopd for several"
            )
        if stage.method == "mopd" and not stage.teachers:
            raise ConfigError(f"{here}: mopd needs teachers", hint="list one teacher per domain with its tasks")
        if stage.method in ("sft", "grpo") and stage.teachers:
            raise ConfigError(f"{here}: method {stage.method!r} takes no teachers", hint="remove 'teachers'")
        seen = set()
        for t in stage.teachers:
            if not t.name:
                raise ConfigError(f"{here}: a teacher has no 'name'", hint="name each teacher, e.g. name: math")
            if t.name in seen:
                raise ConfigError(f"{here}: teacher name {t.name!r} is used twice")
            seen.add(t.name)
            if t.model.startswith("stage:") and t.model[6:] not in names[:i]:
                raise ConfigError(
                    f"{here}: teacher {t.name!r} refers to {t.model!r}, which is not an earlier stage",
                    hint=f"earlier stages: {names[:i]}",
                )
