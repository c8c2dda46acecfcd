"""Model cards with lineage: `cards/model_card.md.j2` rendered through `ModelCard.from_template`.

Facts that tools read go into the card metadata (`ModelCardData`): `base_model` (the parent checkpoint's repo),
`datasets` (repo ids), and a `nebula` block with everything pinned to commits: the parent (repo, revision, sha),
each dataset (phase, repo, config, split, revision, sha, weight, rows), each teacher (repo, revision, sha, tasks),
the recipe (path, sha256, name, stage), the nebula-hub version, training settings and metrics per phase. `model-index`
is left for `nebula-hub eval`, which adds results to the same card.

    card = render_model_card(lineage)            # lineage: see `StageLineage`
    card.save("out/README.md")
    ModelCard.load("out/README.md").data.nebula["parent"]["sha"]
"""

import enum
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nebula_hub import __version__
from nebula_hub.paths import resource_path


# Training settings worth showing (the full config is in the recipe block and training_args.bin).
SHOWN_SETTINGS = (
    "learning_rate", "lr_scheduler_type", "warmup_steps", "max_steps", "num_train_epochs",
    "per_device_train_batch_size", "gradient_accumulation_steps", "max_length", "packing", "packing_strategy",
    "padding_free", "assistant_only_loss", "eos_token", "num_generations", "max_completion_length", "beta",
    "temperature", "loss_type", "reward_funcs", "reward_weights", "mopd_mode", "use_vllm", "vllm_mode", "bf16",
    "gradient_checkpointing", "seed",
)  # fmt: skip


@dataclass
class StageLineage:
    """Everything a stage's card says about where the checkpoint came from."""

    model_id: str
    branch: str
    stage: str
    method: str
    recipe_name: str
    recipe_path: str
    recipe_sha256: str
    recipe_yaml: str
    parent: dict[str, Any]
    datasets: list[dict[str, Any]] = field(default_factory=list)
    teachers: list[dict[str, Any]] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    routing: dict[str, int] = field(default_factory=dict)
    description: str = ""
    license: str = "apache-2.0"
    hardware: str = ""
    wall_time_s: float | None = None
    started_at: str | None = None
    plots: list[str] = field(default_factory=list)
    nebula_version: str = __version__

    def metadata(self) -> dict[str, Any]:
        """The machine-readable `nebula` block."""
        return {
            "version": self.nebula_version,
            "stage": self.stage,
            "method": self.method,
            "branch": self.branch,
            "recipe": {"name": self.recipe_name, "path": self.recipe_path, "sha256": self.recipe_sha256},
            "parent": self.parent,
            "datasets": self.datasets,
            "teachers": self.teachers,
            "training": {p["name"]: p["settings"] for p in self.phases},
            "metrics": {p["name"]: p["metrics"] for p in self.phases},
            "routing": self.routing,
            "hardware": self.hardware,
            "wall_time_s": self.wall_time_s,
            "started_at": self.started_at,
        }


def settings_of(args) -> dict[str, Any]:
    """The shown subset of a TRL config, as plain values."""
    out = {}
    for key in SHOWN_SETTINGS:
        if hasattr(args, key):
            out[key] = _plain(getattr(args, key))
    return out


def _plain(value: Any) -> Any:
    """A YAML-safe value: enums (TRL/transformers settings are str enums) become their value."""
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or type(value) in (int, float, str, bool):
        return value
    return str(value)


def plot_curves(phases: list[dict[str, Any]], out_dir: str | Path) -> list[str]:
    """Write `loss.png` (and `reward.png` when rewards were logged) across phases; return the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    written = []
    for key, fname in (("loss", "loss.png"), ("reward", "reward.png")):
        series = []
        offset = 0
        for phase in phases:
            points = [(offset + h["step"], h[key]) for h in phase.get("log_history", []) if _plottable(h, key)]
            if points:
                series.append((phase["name"], points))
            offset += phase.get("global_step", 0)
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(6, 3.2))
        for name, points in series:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=name)
        ax.set_xlabel("step")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / fname, dpi=96)
        plt.close(fig)
        written.append(fname)
    return written


def _plottable(entry: dict, key: str) -> bool:
    value = entry.get(key)
    return "step" in entry and isinstance(value, (int, float)) and math.isfinite(value)


def render_model_card(lineage: StageLineage, template_path: str | Path | None = None):
    """Render the stage's model card (`huggingface_hub.ModelCard`).

    Example:
        >>> lin = StageLineage(model_id="local/m", branch="run-sft", stage="sft", method="sft", recipe_name="r",
        ...                    recipe_path="r.yaml", recipe_sha256="0" * 64, recipe_yaml="name: r",
        ...                    parent={"repo": "local/base", "revision": "main", "sha": "a" * 40})
        >>> card = render_model_card(lin)
        >>> card.data.base_model, card.data.nebula["parent"]["sha"][:4]
        ('local/base', 'aaaa')
    """
    from huggingface_hub import ModelCard, ModelCardData

    data = ModelCardData(
        base_model=lineage.parent["repo"],
        datasets=sorted({d["repo"] for d in lineage.datasets}) or None,
        license=lineage.license,
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=["nebula-hub", "trl", lineage.method, lineage.stage],
        nebula=_plain(lineage.metadata()),
    )
    template = Path(template_path) if template_path else resource_path("cards", "model_card.md.j2")
    kwargs = asdict(lineage)
    return ModelCard.from_template(data, template_path=str(template), **kwargs)
