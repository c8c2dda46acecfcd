"""Point the tiny training recipe at the quickstart's own datasets and size, with `--set` overrides only.

The recipe (`pipelines/recipes/tiny/quickstart.yaml`) names the default dataset repos (`local/nebula-sft`,
`local/nebula-rl` at v1.0.0); the quickstart publishes its own (`<ns>/nebula-sft`, `<ns>/nebula-rl`, with a size suffix
for non-default sizes) and rewrites every dataset entry to them with overrides such as
`stages.ins_sft.phases.0.datasets.1.repo=local/nebula-sft`. A dataset repo of the recipe read only by SFT stages is
the SFT corpus; one read only by on-policy stages (GRPO, OPD, MOPD: they need prompts, not responses) is the RL pool.

Example:
    >>> from nebula_hub.paths import resource_path
    >>> from nebula_hub.config import read_yaml
    >>> data = read_yaml(resource_path("pipelines", "recipes", "tiny", "quickstart.yaml"))
    >>> sets = dataset_overrides(data, {"sft": ("me/sft", "v1.0.0"), "rl": ("me/rl", "v1.0.0")})
    >>> any(s.endswith(".repo=me/rl") for s in sets)
    True
"""

import math
from collections.abc import Iterator
from typing import Any

from nebula_hub.errors import ConfigError


# The checkpoints the quickstart reports, evaluates and shows; other stages of the recipe (the domain teachers of
# OPD/MOPD) are trained and pushed too, in one child process per run of consecutive helper stages.
CHECKPOINTS = ("ins_sft", "grpo", "opd", "mopd")


def _dataset_entries(data: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(stage name, dotted key of one dataset entry, the entry) for every dataset the recipe's stages read."""
    for name, stage in (data.get("stages") or {}).items():
        if stage.get("phases"):
            for i, phase in enumerate(stage["phases"]):
                for j, entry in enumerate(phase.get("datasets") or []):
                    yield name, f"stages.{name}.phases.{i}.datasets.{j}", entry
        for j, entry in enumerate(stage.get("datasets") or []):
            yield name, f"stages.{name}.datasets.{j}", entry


def dataset_roles(data: dict[str, Any]) -> dict[str, str]:
    """Recipe dataset repo -> `sft` (read only by SFT stages) or `rl` (read only by GRPO/OPD/MOPD stages)."""
    methods: dict[str, set[str]] = {}
    for name, _, entry in _dataset_entries(data):
        method = (data["stages"][name].get("method") or "sft").lower()
        methods.setdefault(entry.get("repo", ""), set()).add("sft" if method == "sft" else "rl")
    roles = {}
    for repo, kinds in methods.items():
        if len(kinds) > 1:
            raise ConfigError(
                f"training recipe: dataset {repo!r} is read by SFT and by on-policy stages",
                hint="the quickstart maps each recipe dataset to the SFT corpus or the RL pool; give each role "
                "its own repo in the recipe",
            )
        roles[repo] = kinds.pop()
    return roles


def dataset_overrides(data: dict[str, Any], published: dict[str, tuple[str, str]]) -> list[str]:
    """`--set` overrides pointing every dataset entry at `published[role] = (repo, revision)`."""
    roles = dataset_roles(data)
    out = []
    for _, key, entry in _dataset_entries(data):
        repo, revision = published[roles[entry.get("repo", "")]]
        out += [f"{key}.repo={repo}", f"{key}.revision={revision}"]
    return out


def steps_overrides(data: dict[str, Any], scale: float, cap: int | None = None) -> list[str]:
    """`--set` overrides multiplying every `max_steps` of the recipe by `scale` (at least 1, at most `cap`)."""
    if scale == 1 and cap is None:
        return []

    def scaled(value: int) -> int:
        n = max(1, math.ceil(value * scale))
        return min(n, cap) if cap is not None else n

    out = []
    if "max_steps" in (data.get("defaults") or {}):
        out.append(f"defaults.max_steps={scaled(int(data['defaults']['max_steps']))}")
    for name, stage in (data.get("stages") or {}).items():
        if "max_steps" in (stage.get("args") or {}):
            out.append(f"stages.{name}.args.max_steps={scaled(int(stage['args']['max_steps']))}")
        for i, phase in enumerate(stage.get("phases") or []):
            if "max_steps" in (phase.get("args") or {}):
                out.append(f"stages.{name}.phases.{i}.args.max_steps={scaled(int(phase['args']['max_steps']))}")
    return out


def stage_groups(stage_names: list[str]) -> list[tuple[str, list[str]]]:
    """Recipe stages -> quickstart training stages: one per checkpoint, one per run of consecutive helper stages.

    Example:
        >>> stage_groups(["ins_sft", "grpo", "teacher_math", "teacher_code", "opd", "mopd"])
        [('train-ins-sft', ['ins_sft']), ('train-grpo', ['grpo']), ('train-teachers', ['teacher_math', \
'teacher_code']), ('train-opd', ['opd']), ('train-mopd', ['mopd'])]
    """
    groups: list[tuple[str, list[str]]] = []
    helpers: list[str] = []

    def flush():
        if helpers:
            label = "teachers" if all(h.startswith("teacher") for h in helpers) else f"{helpers[0]}-{helpers[-1]}"
            name = f"train-{label}".replace("_", "-")
            if any(g[0] == name for g in groups):
                name = f"{name}-{len(groups)}"
            groups.append((name, list(helpers)))
            helpers.clear()

    for stage in stage_names:
        if stage in CHECKPOINTS:
            flush()
            groups.append((f"train-{stage}".replace("_", "-"), [stage]))
        else:
            helpers.append(stage)
    flush()
    return groups
