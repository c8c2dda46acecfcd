"""`nebula-hub publish dataset OUTPUT_DIR --repo ORG/NAME --version X.Y.Z`: a curation output as a tagged Hub version."""

import argparse
import shlex

from nebula_hub.hub.redact import redact


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="publish curated data to the Hub as a versioned dataset with a generated card",
        description="Publish artifacts to a Hub (the local Hub unless --hub or HF_ENDPOINT says otherwise).",
    )
    sub = parser.add_subparsers(dest="publish_command", metavar="WHAT", required=True)
    ds = sub.add_parser(
        "dataset",
        help="publish a curation output folder as version X.Y.Z of a dataset repo",
        description=(
            "Verify a curation output folder (sha256 of every file), write it as size-bounded Parquet shards with "
            "configs `default`, one per task, one per difficulty bucket (RL pools) and `rejected`, render the dataset "
            "card (sources, stage funnel, distributions with charts, changelog, how to reproduce), upload everything "
            "in one commit and tag it vX.Y.Z. A taken version is refused (tags never move); content identical to the "
            "current head makes no commit; an interrupted publish is finished by running the same command again."
        ),
        epilog=(
            "examples:\n"
            "  nebula-hub publish dataset outputs/sft --repo local/nebula-sft --version 1.0.0\n"
            "  nebula-hub publish dataset outputs/rl --repo local/nebula-rl --version 1.1.0 --shard-size-mb 128\n"
            "  HF_TOKEN=hf_... nebula-hub publish dataset outputs/sft --repo my-org/nebula-sft --version 1.0.0 \\\n"
            "      --hub https://huggingface.co --private"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ds.add_argument("output_dir", metavar="OUTPUT_DIR", help="a finished curation output folder (has manifest.json)")
    ds.add_argument("--repo", required=True, metavar="ORG/NAME", help="the dataset repo (created if absent)")
    ds.add_argument("--version", required=True, metavar="X.Y.Z", help="the version to publish; tagged vX.Y.Z")
    ds.add_argument("--hub", metavar="URL", help="hub URL (default: HF_ENDPOINT, else the local Hub); token: HF_TOKEN")
    ds.add_argument(
        "--private", action="store_true", help="create the repo private (an existing repo keeps its setting)"
    )
    ds.add_argument(
        "--shard-size-mb",
        type=float,
        default=256,
        metavar="N",
        help="close a Parquet shard at about N MiB (default: 256)",
    )
    ds.add_argument("--quiet", action="store_true", help="no progress bars")
    ds.set_defaults(func=run_dataset)


def _command_line(args: argparse.Namespace) -> str:
    parts = ["nebula-hub", "publish", "dataset", args.output_dir, "--repo", args.repo, "--version", args.version]
    if args.hub:
        parts += ["--hub", args.hub]
    if args.private:
        parts.append("--private")
    if args.shard_size_mb != 256:
        parts += ["--shard-size-mb", f"{args.shard_size_mb:g}"]
    return redact(shlex.join(parts))


def run_dataset(args: argparse.Namespace) -> int:
    from nebula_hub.hub import hub_errors, resolve_hub
    from nebula_hub.publish import publish_dataset

    target = resolve_hub(args.hub)
    print(target.describe())
    with hub_errors(target):
        result = publish_dataset(
            args.output_dir,
            args.repo,
            args.version,
            target=target,
            private=args.private,
            shard_size_mb=args.shard_size_mb,
            publish_command=_command_line(args),
            progress=not args.quiet,
        )
    print(result.message)
    print(f"commit: {result.commit}")
    if result.status != "unchanged" or result.tag == f"v{result.version}":
        print(f"load it with: {result.load_line}")
    for config, splits in result.configs.items():
        rows = ", ".join(f"{split} {n:,}" for split, n in splits.items())
        print(f"  {config}: {rows}")
    return 0
