"""`python -m nebula_hub.train --recipe FILE ...`: the process entry point `accelerate launch -m` uses."""

import logging
import sys

from nebula_hub.errors import NebulaError
from nebula_hub.train.launch import make_parser, run_from_args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = make_parser().parse_args(argv)
    try:
        return run_from_args(args)
    except NebulaError as err:
        print(f"error: {err.message}", file=sys.stderr)
        if err.hint:
            print(f"hint: {err.hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
