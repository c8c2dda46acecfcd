"""`nebula-hub env`: versions, device and folders, to paste into a bug report."""

import argparse
import json

from nebula_hub.envinfo import device_summary, git_commit, library_versions
from nebula_hub.paths import cache_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "env",
        help="show library versions, device and folders",
        description="Show the versions of nebula-hub and its stack, the compute device and the cache folder.",
        epilog="examples:\n  nebula-hub env\n  nebula-hub env --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    info = {
        "versions": library_versions(),
        "device": device_summary(),
        "git_commit": git_commit(),
        "cache_dir": str(cache_dir()),
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for name, version in info["versions"].items():
        print(f"{name:<16} {version or '(not installed)'}")
    for key, value in info["device"].items():
        print(f"{key:<16} {value}")
    print(f"{'git commit':<16} {info['git_commit'] or '(not a git checkout)'}")
    print(f"{'cache folder':<16} {info['cache_dir']}")
    return 0
