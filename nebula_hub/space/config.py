"""What the comparison Space shows: checkpoints (model repo + revision), curated datasets (dataset repo + revision),
the base the benchmark deltas are taken against, and arena defaults. Read from a YAML file:

    title: Tiny quickstart, branch by branch
    checkpoints:
      - {repo: local/nebula-tiny-quickstart, revision: base-tiny-1a2b3c, label: base}
      - {repo: local/nebula-tiny-quickstart, revision: quickstart-ins_sft, label: Ins-SFT}
      - local/nebula-tiny-quickstart@quickstart-grpo          # the short form: repo@revision
    datasets:
      - {repo: local/nebula-sft, revision: v1.0.0}
    base: base                                                 # a label or repo@revision of a checkpoint above
    arena: {max_new_tokens: 64, temperature: 0.7}

With no file (or empty `checkpoints` and `datasets`) the Space discovers what nebula-hub put on the hub
(`nebula_hub.space.hub_reader.discover`).

Example:
    >>> cfg = SpaceConfig.from_dict({"checkpoints": ["org/m@v1", {"repo": "org/m", "revision": "v2"}]})
    >>> [c.label for c in cfg.checkpoints]
    ['org/m@v1', 'org/m@v2']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nebula_hub.config import from_dict, read_yaml, to_dict
from nebula_hub.errors import ConfigError


MAX_ARENA_PANES = 4
# Benchmark -> capability area, matched against a model-index result's dataset type or name (lowercase, letters and
# digits only). Cards written by `nebula-hub eval` name the area themselves; this map covers other cards.
DEFAULT_AREAS = {
    "ifeval": "instruction_following",
    "gsm8k": "math",
    "math500": "math",
    "aime": "math",
    "aime2024": "math",
    "aime2025": "math",
    "humaneval": "code",
    "openaihumaneval": "code",
    "mbpp": "code",
    "livecodebench": "code",
    "mmlu": "knowledge",
    "mmlupro": "knowledge",
    "gpqa": "knowledge",
    "gpqadiamond": "knowledge",
}
_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class CheckpointRef:
    """A checkpoint: `repo` (model repo id), `revision` (branch, tag or sha; defaults to main), `label` (shown name;
    defaults to `repo@revision`)."""

    repo: str = field(default="", metadata={"help": "Model repo id, e.g. local/nebula-tiny-quickstart."})
    revision: str = field(default="main", metadata={"help": "Branch, tag or commit sha."})
    label: str | None = field(default=None, metadata={"help": "Name shown in the Space (default: repo@revision)."})

    def __post_init__(self):
        _check_repo(self.repo, "checkpoints", "model")
        self.revision = self.revision or "main"
        self.label = self.label or f"{self.repo}@{self.revision}"

    @property
    def ref(self) -> str:
        return f"{self.repo}@{self.revision}"


@dataclass
class DatasetRef:
    """A curated dataset version: `repo` (dataset repo id), `revision` (tag such as v0.1.0, branch or sha; defaults to
    the latest `vX.Y.Z` tag, else main), `label`."""

    repo: str = field(default="", metadata={"help": "Dataset repo id, e.g. local/nebula-sft."})
    revision: str | None = field(default=None, metadata={"help": "Tag, branch or sha (default: latest vX.Y.Z tag)."})
    label: str | None = field(default=None, metadata={"help": "Name shown in the Space (default: repo@revision)."})

    def __post_init__(self):
        _check_repo(self.repo, "datasets", "dataset")
        self.label = self.label or (f"{self.repo}@{self.revision}" if self.revision else self.repo)

    @property
    def ref(self) -> str:
        return f"{self.repo}@{self.revision or 'latest'}"


@dataclass
class ArenaDefaults:
    """Arena settings the sliders start from."""

    max_new_tokens: int = field(default=128, metadata={"help": "Most new tokens per answer."})
    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature; 0 = greedy."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus sampling mass."})
    top_k: int = field(default=20, metadata={"help": "Keep the k most likely tokens; 0 = off."})
    thinking: bool = field(default=False, metadata={"help": "Qwen3 enable_thinking switch."})
    system_prompt: str = field(default="", metadata={"help": "Optional system message for every answer."})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda, cuda:N."})
    max_loaded_models: int = field(default=4, metadata={"help": "Checkpoints kept in memory at once (LRU)."})


@dataclass
class SpaceConfig:
    """The Space's configuration.

    Content:
        title: page title. checkpoints: the checkpoints compared (arena, benchmarks, lineage). datasets: the curated
        datasets shown in the Data tab. base: the checkpoint benchmark deltas are taken against (a label or
        repo@revision from `checkpoints`; default: the one whose parent is not in the list).
    Hub:
        hub: the hub URL the Space reads (default: `HF_ENDPOINT`, else the local hub).
    Display:
        areas: benchmark -> capability area overrides (merged over the built-in map).
        max_records: most records the Data tab's browser loads per view.
    Arena:
        arena: the defaults of the arena's settings (`ArenaDefaults`).
    """

    title: str = field(default="nebula-hub: compare checkpoints", metadata={"help": "Page title."})
    hub: str | None = field(default=None, metadata={"help": "Hub URL (default: HF_ENDPOINT, else the local hub)."})
    checkpoints: list[CheckpointRef] = field(default_factory=list, metadata={"help": "Checkpoints to compare."})
    datasets: list[DatasetRef] = field(default_factory=list, metadata={"help": "Curated datasets to show."})
    base: str | None = field(default=None, metadata={"help": "Label or repo@revision of the delta baseline."})
    areas: dict[str, str] = field(default_factory=dict, metadata={"help": "Benchmark -> capability area overrides."})
    max_records: int = field(default=200, metadata={"help": "Records loaded per view in the record browser."})
    arena: ArenaDefaults = field(default_factory=ArenaDefaults, metadata={"help": "Arena defaults."})
    source: str | None = field(default=None, metadata={"help": "Where this config came from (set by the loader)."})

    def __post_init__(self):
        labels = [c.label for c in self.checkpoints]
        dup = next((x for x in labels if labels.count(x) > 1), None)
        if dup:
            raise ConfigError(
                f"{self.source or 'space config'}: checkpoint label {dup!r} is used twice",
                hint="give each checkpoint a distinct 'label'",
            )
        if self.max_records < 1:
            raise ConfigError(f"{self.source or 'space config'}: max_records must be >= 1, got {self.max_records}")

    @property
    def is_empty(self) -> bool:
        """True when nothing is named, so the Space discovers its content on the hub."""
        return not self.checkpoints and not self.datasets

    def area_map(self) -> dict[str, str]:
        return {**DEFAULT_AREAS, **{_norm(k): v for k, v in self.areas.items()}}

    def find_checkpoint(self, key: str) -> CheckpointRef | None:
        """The checkpoint whose label or `repo@revision` is `key`."""
        return next((c for c in self.checkpoints if key in (c.label, c.ref)), None)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | None = None) -> SpaceConfig:
        """Build from a mapping; checkpoints and datasets may be `repo@revision` strings."""
        data = dict(data or {})
        where = source or "space config"
        data["checkpoints"] = [
            _expand(item, f"{where}: checkpoints.{i}") for i, item in enumerate(data.get("checkpoints") or [])
        ]
        data["datasets"] = [
            _expand(item, f"{where}: datasets.{i}") for i, item in enumerate(data.get("datasets") or [])
        ]
        data.setdefault("source", source)
        return from_dict(cls, data, where=where)

    def to_yaml(self) -> str:
        """The config as YAML (what `space deploy` ships next to app.py)."""
        import yaml

        data = to_dict(self)
        data.pop("source", None)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def load_space_config(path: str | Path | None) -> SpaceConfig:
    """Read a Space config YAML; `None` gives the empty config (discover everything on the hub).

    Example:
        >>> load_space_config(None).is_empty
        True
    """
    if path is None:
        return SpaceConfig()
    return SpaceConfig.from_dict(read_yaml(path), source=str(path))


def parse_ref(text: str) -> tuple[str, str | None]:
    """`"org/name@rev"` -> `("org/name", "rev")`; `"org/name"` -> `("org/name", None)`.

    Example:
        >>> parse_ref("local/m@quickstart-grpo")
        ('local/m', 'quickstart-grpo')
    """
    repo, _, rev = text.strip().partition("@")
    return repo, (rev or None)


def _expand(item: Any, where: str) -> Any:
    if isinstance(item, str):
        repo, rev = parse_ref(item)
        return {"repo": repo, **({"revision": rev} if rev else {})}
    if not isinstance(item, dict):
        raise ConfigError(
            f"{where}: expected repo@revision or a mapping, got {item!r}",
            hint="write e.g. `- org/name@main` or `- {repo: org/name, revision: main}`",
        )
    return item


def _check_repo(repo: str, section: str, kind: str) -> None:
    if not isinstance(repo, str) or not _REPO_RE.match(repo):
        raise ConfigError(
            f"{section}: {repo!r} is not a {kind} repo id",
            hint="write namespace/name, optionally followed by @revision (e.g. local/nebula-tiny-quickstart@main)",
        )


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())
