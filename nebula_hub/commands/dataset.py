"""`nebula-hub dataset versions REPO` and `nebula-hub dataset diff REPO vA vB`: read published versions back."""

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dataset",
        help="inspect the versions of a published dataset repo",
        description="Read the versions of a dataset repo published with `nebula-hub publish dataset`.",
    )
    sub = parser.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    versions = sub.add_parser(
        "versions",
        help="list versions: tag, commit, date, rows per config",
        description="List the vX.Y.Z tags of a dataset repo with their commit, commit date and rows per config.",
        epilog="examples:\n  nebula-hub dataset versions local/nebula-sft\n"
        "  nebula-hub dataset versions my-org/nebula-rl --hub https://huggingface.co",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    versions.add_argument("repo", metavar="REPO", help="dataset repo id, ORG/NAME")
    versions.add_argument("--hub", metavar="URL", help="hub URL (default: HF_ENDPOINT, else the local Hub)")
    versions.set_defaults(func=run_versions)
    diff = sub.add_parser(
        "diff",
        help="what changed between two versions",
        description=(
            "Compare two versions: rows per config and split, ids added and removed per config (counts and "
            "examples), and changes in the curation statistics (totals, stage funnel, distributions)."
        ),
        epilog="examples:\n  nebula-hub dataset diff local/nebula-sft v1.0.0 v1.1.0\n"
        "  nebula-hub dataset diff local/nebula-rl 1.0.0 1.2.0",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diff.add_argument("repo", metavar="REPO", help="dataset repo id, ORG/NAME")
    diff.add_argument("version_a", metavar="vA", help="the older version (X.Y.Z or vX.Y.Z)")
    diff.add_argument("version_b", metavar="vB", help="the newer version")
    diff.add_argument("--hub", metavar="URL", help="hub URL (default: HF_ENDPOINT, else the local Hub)")
    diff.set_defaults(func=run_diff)


def run_versions(args: argparse.Namespace) -> int:
    from nebula_hub.hub import get_api, hub_errors, resolve_hub
    from nebula_hub.publish import format_versions, list_versions

    target = resolve_hub(args.hub)
    print(target.describe())
    with hub_errors(target):
        versions = list_versions(get_api(target), args.repo)
    print(format_versions(args.repo, versions))
    return 0


def run_diff(args: argparse.Namespace) -> int:
    from nebula_hub.hub import get_api, hub_errors, resolve_hub
    from nebula_hub.publish import diff_versions, format_diff

    target = resolve_hub(args.hub)
    print(target.describe())
    with hub_errors(target):
        result = diff_versions(get_api(target), args.repo, args.version_a, args.version_b)
    print(format_diff(result))
    return 0
