"""Executors for curation stages: datatrove's local, Slurm or Ray executor, chained with `depends=`.

Each stage logs to `OUTPUT/logs/<stage>/` (datatrove's completion markers live there, so a rerun skips finished tasks
and redoes unfinished ones from the start of their shard). `run_stages` starts the last stage, which runs its
dependencies first. The task count is pinned in `OUTPUT/work/run.json`: resuming with another `--tasks` would shard
records differently, so it is refused.

The local executor forks its workers (datatrove defaults to forkserver, which re-imports every module in every
worker of every stage); before forking, steps with a `warm_up()` method load their read-only resources (language
profiles, verifier imports) once in the parent, so the workers share them.

Example:
    >>> stages = [Stage("prepare", [reader, writer], tasks=2), Stage("sample", [sampler], tasks=1)]  # doctest: +SKIP
    >>> run_stages(stages, Path("outputs/sft"), ExecutorConfig(workers=2))                          # doctest: +SKIP
"""

import json
from dataclasses import dataclass
from pathlib import Path

from nebula_hub.errors import NebulaError


@dataclass
class Stage:
    name: str
    pipeline: list
    tasks: int


def make_executor(stage: Stage, root: Path, ex, depends=None):
    """A datatrove executor of kind `ex.kind` for one stage."""
    logging_dir = str(root / "logs" / stage.name)
    if ex.kind == "local":
        from datatrove.executor import LocalPipelineExecutor

        return LocalPipelineExecutor(
            stage.pipeline,
            tasks=stage.tasks,
            workers=min(ex.workers, stage.tasks),
            logging_dir=logging_dir,
            depends=depends,
            skip_completed=True,
            # fork, not datatrove's default forkserver: workers inherit the parent's imported modules (datatrove,
            # the curation steps) instead of re-importing them for every stage's pool
            start_method="fork",
        )
    if ex.kind == "slurm":
        from datatrove.executor import SlurmPipelineExecutor

        if not ex.partition:
            raise NebulaError(
                "executor.kind is 'slurm' but executor.partition is not set",
                hint="set executor.partition (e.g. --set executor.partition=cpu)",
            )
        return SlurmPipelineExecutor(
            stage.pipeline,
            tasks=stage.tasks,
            time=ex.time,
            partition=ex.partition,
            cpus_per_task=ex.cpus_per_task,
            mem_per_cpu_gb=ex.mem_per_cpu_gb,
            workers=ex.workers,
            job_name=f"nebula-{stage.name}",
            logging_dir=logging_dir,
            depends=depends,
            skip_completed=True,
            **ex.slurm,
        )
    if ex.kind == "ray":
        try:
            from datatrove.executor.ray import RayPipelineExecutor
        except ImportError as err:
            raise NebulaError(
                f"executor.kind is 'ray' but Ray cannot be imported ({err})",
                hint='pip install "nebula-hub[ray]" (datatrove[ray])',
            ) from None
        return RayPipelineExecutor(
            stage.pipeline,
            tasks=stage.tasks,
            workers=ex.workers,
            logging_dir=logging_dir,
            depends=depends,
            skip_completed=True,
            cpus_per_task=ex.cpus_per_task,
            mem_per_cpu_gb=ex.mem_per_cpu_gb,
            **ex.ray,
        )
    raise NebulaError(f"unknown executor kind {ex.kind!r}", hint="use local, slurm or ray")


def check_resume(root: Path, ex, fingerprint: str) -> None:
    """Refuse to resume a run with a different shard count or pipeline config; record them for the first run."""
    marker = root / "work" / "run.json"
    current = {"tasks": ex.tasks, "config": fingerprint}
    if marker.is_file():
        previous = json.loads(marker.read_text())
        if previous.get("tasks") != ex.tasks:
            raise NebulaError(
                f"{str(root)!r} was started with --tasks {previous.get('tasks')}, now {ex.tasks}: "
                "resuming with another shard count would mix shards",
                hint=f"rerun with --tasks {previous.get('tasks')}, or use a new --output folder",
            )
        if previous.get("config") != fingerprint:
            raise NebulaError(
                f"{str(root)!r} holds a run of a different pipeline config (its stages would not match)",
                hint="rerun with the same config and --set values, or use a new --output folder",
            )
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(current))


def run_stages(stages: list[Stage], root: Path, ex) -> None:
    """Chain the stages with `depends=` and run the last (datatrove runs the dependencies first)."""
    executor = None
    for stage in stages:
        executor = make_executor(stage, root, ex, depends=executor)
    if ex.kind == "local" and ex.workers > 1 and not all(map(executor.is_rank_completed, range(executor.world_size))):
        # forked workers inherit what the parent loaded: load shared read-only resources (language profiles,
        # verifier imports) once here rather than once per worker per stage
        for stage in stages:
            for step in stage.pipeline:
                if hasattr(step, "warm_up"):
                    step.warm_up()
    if ex.kind == "ray":
        import ray

        if not ray.is_initialized():
            ray.init(num_cpus=max(ex.workers, 1), include_dashboard=False, log_to_driver=False)
    executor.run()
