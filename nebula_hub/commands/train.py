"""`nebula-hub train-and-push`: train every stage of a recipe and push each checkpoint with a lineage card."""

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from nebula_hub.train.launch import add_arguments

    parser = subparsers.add_parser(
        "train-and-push",
        help="train a recipe's stages (SFT, GRPO, OPD, MOPD) and push each checkpoint with its model card",
        description=(
            "Train every stage a recipe names, in order, and push each stage's checkpoint to a branch of the recipe's "
            "model repo (<run>-<stage>) with a model card pinning its lineage: parent checkpoint, dataset and teacher "
            "commits, recipe sha256. Datasets and models are read from the hub at pinned commits."
        ),
        epilog=(
            "examples:\n"
            "  nebula-hub train-and-push --recipe pipelines/recipes/tiny/quickstart.yaml\n"
            "  nebula-hub train-and-push --recipe pipelines/recipes/tiny/quickstart.yaml --set defaults.max_steps=2\n"
            "  nebula-hub train-and-push --recipe pipelines/recipes/tiny/quickstart.yaml --resume\n"
            "  nebula-hub train-and-push --recipe pipelines/recipes/tiny/quickstart.yaml --stages grpo,opd --resume\n"
            "  nebula-hub train-and-push --recipe pipelines/recipes/qwen3-8b-base/instruct.yaml \\\n"
            "      --accelerate-config pipelines/accelerate/zero3.yaml --hub https://huggingface.co"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nebula_hub.train.launch import run_from_args

    return run_from_args(args)
