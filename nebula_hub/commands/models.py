"""`nebula-hub models build-tiny`: build the tiny Qwen3 used by the quickstart and the tests."""

import argparse
import dataclasses

from nebula_hub.models import TinyModelConfig, build_tiny_model


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="build local models (the tiny Qwen3 for offline runs)",
        description="Build models locally. Nothing is downloaded.",
    )
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    build = sub.add_parser(
        "build-tiny",
        help="build a tiny random-init Qwen3 with a locally trained tokenizer",
        description=(
            "Build a tiny Qwen3 causal LM (random init, seeded) with a BPE tokenizer trained on synthetic text and the "
            "Qwen3 chat template; save it with save_pretrained. Models with the same tokenizer settings share a "
            "byte-identical tokenizer, so different --seed values make compatible teachers."
        ),
        epilog=(
            "examples:\n  nebula-hub models build-tiny\n"
            "  nebula-hub models build-tiny --seed 3 --output ./teacher-math\n"
            "  nebula-hub models build-tiny --hidden-size 128 --num-hidden-layers 4"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for f in dataclasses.fields(TinyModelConfig):
        build.add_argument(
            f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default, help=f.metadata.get("help")
        )
    build.add_argument("--output", help="folder to save to (default: a cache folder named by the config's hash)")
    build.add_argument("--overwrite", action="store_true", help="rebuild even if the folder already holds the model")
    build.set_defaults(func=run_build)


def run_build(args: argparse.Namespace) -> int:
    config = TinyModelConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TinyModelConfig)})
    path = build_tiny_model(config, output_dir=args.output, overwrite=args.overwrite)
    print(path)
    return 0
