"""`nebula-hub curate sft|rl`: run (or resume) a curation pipeline into a self-describing output folder."""

import argparse
import shlex
import sys

from nebula_hub.paths import resource_path


def _add_common(parser: argparse.ArgumentParser, default_config: str) -> None:
    parser.add_argument("--config", default=None, help=f"pipeline YAML (default: the bundled {default_config})")
    parser.add_argument("--executor", choices=("local", "slurm", "ray"), help="executor (default: the config's)")
    parser.add_argument("--tasks", type=int, help="shards of the per-record stages (default: the config's)")
    parser.add_argument("--workers", type=int, help="tasks run at once (default: the config's)")
    parser.add_argument("--output", help="output folder (default: the config's `output`)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set sample.target_size=500 (repeatable)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "curate",
        help="curate SFT or RL datasets with datatrove pipelines",
        description="Run a curation pipeline (datatrove) into an output folder holding the curated records, the "
        "rejected records with stage and reason, stats and a manifest, ready for `nebula-hub publish "
        "dataset`. Rerun the same command to resume an interrupted run.",
        epilog="examples:\n  nebula-hub curate sft --config pipelines/sft_corpus.yaml --output outputs/sft\n"
        "  nebula-hub curate rl --config pipelines/rl_pool.yaml --workers 2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="curate_command", metavar="PIPELINE", required=True)
    sft = sub.add_parser(
        "sft",
        help="build the SFT corpus: ingest, normalize, decontaminate, classify, dedup, distill, verify, grade, sample",
        description="Build a curated SFT corpus from heterogeneous sources (local JSONL/Parquet, Hub datasets). "
        "Every dropped record is kept under rejected/ with its stage and reason.",
        epilog="examples:\n  nebula-hub curate sft --config pipelines/sft_corpus.yaml\n"
        "  nebula-hub curate sft --config pipelines/sft_corpus.yaml --workers 2 --output outputs/sft\n"
        "  nebula-hub curate sft --config my.yaml --executor slurm --tasks 64 --set executor.partition=cpu\n"
        "  nebula-hub curate sft --config pipelines/sft_corpus.yaml --set distill.enabled=false",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(sft, "pipelines/sft_corpus.yaml")
    sft.set_defaults(func=run_sft_command)
    rl = sub.add_parser(
        "rl",
        help="build the RL candidate pool: verifiable prompts graded by rollouts, bucketed by difficulty",
        description="Build the RL candidate pool (math with gold answers, code with tests, IF prompts with "
        "constraints), graded by k rollouts of a grader policy.",
        epilog="examples:\n  nebula-hub curate rl --config pipelines/rl_pool.yaml\n"
        "  nebula-hub curate rl --config pipelines/rl_pool.yaml --workers 2 --output outputs/rl_pool",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(rl, "pipelines/rl_pool.yaml")
    rl.set_defaults(func=run_rl_command)


def run_sft_command(args: argparse.Namespace) -> int:
    from nebula_hub.curate.sft import run_sft

    return _run(args, run_sft, "sft_corpus.yaml")


def run_rl_command(args: argparse.Namespace) -> int:
    from nebula_hub.curate.rl import run_rl_pool

    return _run(args, run_rl_pool, "rl_pool.yaml")


def _run(args: argparse.Namespace, runner, default_config: str) -> int:
    """Both pipelines take the same options, record the command line in the manifest, and report the same totals."""
    from nebula_hub.artifacts import CurationOutput

    out = runner(
        args.config or str(resource_path("pipelines", default_config)),
        output=args.output,
        executor=args.executor,
        tasks=args.tasks,
        workers=args.workers,
        overrides=args.overrides,
        command=shlex.join(["nebula-hub", *sys.argv[1:]]),
    )
    if (out / "manifest.json").is_file():
        totals = CurationOutput(out).stats.get("totals", {})
        print(
            f"curated {totals.get('curated')} of {totals.get('input')} records "
            f"({totals.get('rejected')} rejected) -> {out}"
        )
    else:
        print(f"pipeline submitted; {out}/manifest.json appears when it completes")
    return 0
