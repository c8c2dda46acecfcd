"""TRL configs extended with the few fields nebula-hub adds (imported on first use: TRL is slow to import).

- `NebulaGRPOConfig(GRPOConfig)`: `reward_funcs` by name, so a recipe keeps them next to `reward_weights`.
- `MOPDConfig(DistillationConfig)`: `mopd_mode` (`route` | `fuse`), `route_column`, `teacher_weights`.

Both are module-level classes so `Trainer` can pickle them into `training_args.bin`.
"""

from dataclasses import dataclass, field

from trl import DistillationConfig, GRPOConfig


@dataclass
class NebulaGRPOConfig(GRPOConfig):
    """`GRPOConfig` plus `reward_funcs`: names resolved by `nebula_hub.rewards.get_reward_funcs`."""

    reward_funcs: list[str] = field(
        default_factory=lambda: ["multi_task"],
        metadata={"help": "Reward function names from nebula_hub.rewards (or dotted import paths)."},
    )


@dataclass
class MOPDConfig(DistillationConfig):
    """`DistillationConfig` plus multi-teacher settings.

    mopd_mode: `route` (each sample's loss uses the teacher of its task) or `fuse` (the per-token target is a
        weighted log-linear mixture of the teachers, weights per task in `teacher_weights`).
    route_column: the dataset column holding the task label.
    teacher_weights: task -> {teacher name -> weight} for `fuse` (normalised per task); `"*"` is the fallback.
    """

    mopd_mode: str = field(default="route", metadata={"help": "route | fuse", "choices": ["route", "fuse"]})
    route_column: str = field(default="task", metadata={"help": "Column with the task label of each row."})
    teacher_weights: dict[str, dict[str, float]] = field(
        default_factory=dict, metadata={"help": "fuse: task -> {teacher: weight}; key '*' is the fallback."}
    )

    def __post_init__(self):
        super().__post_init__()
        if self.mopd_mode not in ("route", "fuse"):
            raise ValueError(f"mopd_mode must be 'route' or 'fuse', got {self.mopd_mode!r}")
