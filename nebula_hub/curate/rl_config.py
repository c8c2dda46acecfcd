"""The RL candidate pool's config: `pipelines/rl_pool.yaml` -> `RLPoolConfig` (through `nebula_hub.config`).

One dataclass per concern (sources, candidate validation, grader, difficulty buckets). Sources, dedup,
decontamination and executor are the SFT pipeline's own sections (`nebula_hub.curate.sft_config`), so both pipelines
read the same keys. Relative paths resolve against the YAML file's folder, so a config and its sources move together.

    from nebula_hub.config import load_config
    from nebula_hub.curate.rl_config import RLPoolConfig
    cfg = load_config("pipelines/rl_pool.yaml", RLPoolConfig, overrides=["grader.k=8"])
"""

from dataclasses import dataclass, field
from pathlib import Path

from nebula_hub.curate.sft_config import DecontConfig, DedupConfig, ExecutorConfig, ModelConfig, SourceConfig
from nebula_hub.errors import ConfigError


RL_TASKS = ("math", "code", "instruction_following")


@dataclass
class RLSourceConfig(SourceConfig):
    """One source of RL candidates, all of one `task`: the SFT pipeline's `SourceConfig` (local `path` or Hub `repo`,
    `fields`, `license`, `limit`) plus the task.

    Source keys (`fields` renames them): prompt: `prompt` (a string or a list of messages), `problem`, `question`,
    `instruction` or `messages`. math: `answer` (the gold). code: `tests` ({kind, assert_code, entry_point, cases})
    and optionally `solution` or `solutions` (reference programs). instruction_following: `instruction_id_list` +
    `kwargs` or `constraints` (existing IFEval constraints), or nothing (a seed prompt: constraints are generated).
    """

    task: str = field(default="math", metadata={"help": "Task of every row.", "choices": RL_TASKS})

    def __post_init__(self):
        super().__post_init__()
        if self.task not in RL_TASKS:
            raise ConfigError(
                f"sources.{self.name}: task {self.task!r} is not verifiable", hint=f"use one of {list(RL_TASKS)}"
            )


@dataclass
class CandidateConfig:
    """Candidate validation.

    Math: the gold must parse (`nebula_hub.verify.math.normalize_gold`). Code: `code_validation_runs` runs of each reference solution against its tests
    (a run that disagrees with the others marks the tests flaky), `code_timeout_s` per run. Instruction following:
    `if_constraints_per_seed` constraints generated for a seed prompt, seeded by `seed` and the record id.
    """

    code_validation_runs: int = field(default=3, metadata={"help": "Runs of the reference solution (flakiness)."})
    code_timeout_s: float = field(default=5.0, metadata={"help": "Wall-clock limit of one test run."})
    require_reference: bool = field(
        default=False, metadata={"help": "Reject code problems that have no reference solution to validate tests."}
    )
    if_constraints_per_seed: int = field(default=2, metadata={"help": "Constraints generated for a seed prompt."})
    seed: int = field(default=0, metadata={"help": "Seed of the constraint generator."})

    def __post_init__(self):
        if self.code_validation_runs < 1:
            raise ConfigError(f"candidates.code_validation_runs must be >= 1, got {self.code_validation_runs}")
        if self.if_constraints_per_seed < 1:
            raise ConfigError(f"candidates.if_constraints_per_seed must be >= 1, got {self.if_constraints_per_seed}")


@dataclass
class DifficultyConfig:
    """Buckets from the pass rate: `hard` if rate <= hard_max, `easy` if rate >= easy_min, else `medium`.

    Zero-variance prompts (every rollout passed, or every rollout failed) carry `meta.zero_variance = true`; they
    give GRPO no learning signal. The published column that identifies them is `pass_rate` (0.0 or 1.0), so a GRPO
    dataset excludes them with `0 < pass_rate < 1`; `drop_zero_variance` rejects them here instead.
    """

    hard_max: float = field(default=0.25, metadata={"help": "Pass rates at or below this are 'hard'."})
    easy_min: float = field(default=0.75, metadata={"help": "Pass rates at or above this are 'easy'."})
    drop_zero_variance: bool = field(
        default=False, metadata={"help": "Reject zero-variance prompts instead of keeping them flagged."}
    )
    batch_size: int = field(default=16, metadata={"help": "Prompts per generation call (each with n rollouts)."})

    def __post_init__(self):
        if not 0.0 <= self.hard_max < self.easy_min <= 1.0:
            raise ConfigError(
                f"difficulty: need 0 <= hard_max < easy_min <= 1, got hard_max={self.hard_max}, "
                f"easy_min={self.easy_min}",
                hint="e.g. hard_max: 0.25, easy_min: 0.75",
            )


@dataclass
class RLDecontConfig(DecontConfig):
    """The SFT pipeline's decontamination (n-gram overlap with benchmark prompts), plus the SFT held-out split.

    `sft_heldout`: a finished SFT curation output folder; its `test` split's prompts are added as one more
    "benchmark" (`sft_heldout`), so no RL prompt overlaps the SFT corpus's held-out records.
    """

    sft_heldout: str | None = field(default=None, metadata={"help": "SFT output folder whose test split to avoid."})


@dataclass
class RLPoolConfig:
    """The RL candidate pool pipeline.

    Sources: `sources`. Stages: `candidates` (validation), `dedup`, `decontamination`, `grader` (the policy whose
    `n` rollouts per prompt measure difficulty; the SFT pipeline's `ModelConfig`) + `difficulty` (buckets,
    zero variance). Run: `executor`, `output`.
    """

    name: str = field(default="rl_pool", metadata={"help": "Pool name (dataset card title)."})
    sources: list[RLSourceConfig] = field(default_factory=list, metadata={"help": "Candidate sources."})
    candidates: CandidateConfig = field(default_factory=CandidateConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    decontamination: RLDecontConfig = field(default_factory=RLDecontConfig)
    grader: ModelConfig = field(
        default_factory=lambda: ModelConfig(n=4, temperature=1.0, top_p=None, max_tokens=32),
        metadata={"help": "Grader policy: `tiny` (the embedded base model) or any checkpoint; `n` rollouts each."},
    )
    difficulty: DifficultyConfig = field(default_factory=DifficultyConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    output: str = field(default="outputs/rl_pool", metadata={"help": "Output folder."})

    def __post_init__(self):
        if not self.sources:
            raise ConfigError("rl pool config: 'sources' is empty", hint="list at least one source (name, path, task)")
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"rl pool config: source name {dupes[0]!r} is used twice", hint="give sources unique names")

    def resolve_paths(self, base: Path) -> None:
        """Make relative source, benchmark and held-out paths absolute against `base` (the config file's folder)."""
        for item in [*self.sources, *self.decontamination.benchmarks]:
            if item.path and "://" not in item.path and not Path(item.path).expanduser().is_absolute():
                item.path = str((base / Path(item.path).expanduser()).resolve())
        held = self.decontamination.sft_heldout
        if held and not Path(held).expanduser().is_absolute():
            self.decontamination.sft_heldout = str((base / Path(held).expanduser()).resolve())
