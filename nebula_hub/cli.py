"""The `nebula-hub` command line.

Each module in `nebula_hub/commands/` adds its sub-commands through `register(subparsers)`; a command handler takes
the parsed `argparse.Namespace` and returns an exit code. Handlers stay thin: parse, call one library function, print.
`NebulaError`s become one line plus a hint (traceback only with `--debug`).
"""

import argparse
import importlib
import logging
import os
import pkgutil
import sys

from nebula_hub import __version__
from nebula_hub.errors import NebulaError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nebula-hub",
        description="Transparent LLM post-training on the Hugging Face Hub: curate, publish, train, evaluate, compare.",
        epilog="Run `nebula-hub COMMAND --help` for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"nebula-hub {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug logs")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    import nebula_hub.commands as commands_pkg

    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"nebula_hub.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2 if argv is None and len(sys.argv) <= 1 else 0
    try:
        return int(args.func(args) or 0)
    except NebulaError as err:
        if args.debug:
            raise
        print(f"error: {err.message}", file=sys.stderr)
        if err.hint:
            print(f"hint: {err.hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume where it stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
