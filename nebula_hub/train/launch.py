"""Arguments of `train-and-push` and the entry point shared by `nebula-hub train-and-push` and
`python -m nebula_hub.train` (which `accelerate launch` runs on every process).

    accelerate launch --config_file pipelines/accelerate/zero3.yaml -m nebula_hub.train \
        --recipe pipelines/recipes/qwen3-8b-base/instruct.yaml

`nebula-hub train-and-push --accelerate-config FILE ...` (or `train_and_push(..., accelerate_config=FILE)` from
Python) builds exactly that command, runs it, waits, and reads the result back from the run folder's `state.json`.
The launched processes get no `--accelerate-config`, so they train in-process instead of launching again.
"""

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--recipe", required=True, help="recipe YAML (see pipelines/recipes/README.md)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a recipe value, e.g. stages.grpo.args.max_steps=2 or defaults.learning_rate=1e-5 (repeatable)",
    )  # fmt: skip
    parser.add_argument("--hub", help="hub URL (default: $HF_ENDPOINT, else the local Hub)")
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in the run folder from its checkpoints"
    )
    parser.add_argument(
        "--stages", help="comma-separated stages to run (earlier ones must already be in the run folder)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="allow pushing onto a branch/tag another run pushed to"
    )
    parser.add_argument(
        "--accelerate-config", metavar="FILE",
        help="run through `accelerate launch --config_file FILE` (e.g. pipelines/accelerate/zero3.yaml)",
    )  # fmt: skip
    return parser


def accelerate_command(args: argparse.Namespace) -> list[str]:
    """The `accelerate launch` command that reruns these arguments on every process.

    Example:
        >>> args = make_parser().parse_args(["--recipe", "r.yaml", "--set", "seed=1", "--stages", "grpo", "--resume",
        ...                                  "--accelerate-config", "zero3.yaml"])
        >>> accelerate_command(args)[1:]
        ['-m', 'accelerate.commands.launch', '--config_file', 'zero3.yaml', '-m', 'nebula_hub.train', '--recipe', 'r.yaml', '--set', 'seed=1', '--stages', 'grpo', '--resume']
    """
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", args.accelerate_config]
    cmd += ["-m", "nebula_hub.train", "--recipe", args.recipe]
    for item in args.overrides:
        cmd += ["--set", item]
    for flag in ("hub", "stages"):
        if getattr(args, flag):
            cmd += [f"--{flag}", getattr(args, flag)]
    cmd += [f"--{flag}" for flag in ("resume", "overwrite") if getattr(args, flag)]
    return cmd


def run_from_args(args: argparse.Namespace) -> int:
    """Run `train_and_push` with parsed arguments (under `accelerate launch` when `--accelerate-config` is given)."""
    from nebula_hub.train.run import train_and_push

    stages = [s.strip() for s in args.stages.split(",") if s.strip()] if args.stages else None
    result = train_and_push(
        args.recipe,
        overrides=args.overrides,
        hub=args.hub,
        resume=args.resume,
        stages=stages,
        overwrite=args.overwrite,
        accelerate_config=getattr(args, "accelerate_config", None),
    )
    print(
        f"run folder: {result.run_dir}; trained {len(result.trained)} stage(s), "
        f"skipped {len(result.skipped)} already done; {len(result.pushed)} pushed in this run"
    )
    return 0


def make_parser() -> argparse.ArgumentParser:
    return add_arguments(argparse.ArgumentParser(prog="python -m nebula_hub.train", description=__doc__))
