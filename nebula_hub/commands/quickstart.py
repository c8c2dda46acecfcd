"""`nebula-hub quickstart`: curate, publish, train, evaluate and compare, end to end on embedded defaults."""

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from nebula_hub.quickstart.sizes import DEFAULT_SIZE, SIZES

    parser = subparsers.add_parser(
        "quickstart",
        help="run the whole recipe end to end on embedded defaults (local Hub, tiny model, bundled data)",
        description=(
            "The whole nebula-hub recipe in one command, with no GPU, no network and no account: the local Hub, the "
            "SFT corpus and RL pool curated from the bundled sources, both published as versioned datasets with "
            "cards, Ins-SFT (three phases), GRPO, OPD and MOPD checkpoints trained from the tiny Qwen3 and pushed with "
            "lineage cards, each evaluated on the bundled benchmark sets with scores in its card, then the comparison "
            "Space. Each stage runs in its own process; wall time and peak memory per stage are printed at the end. "
            "A rerun resumes: completed stages (recorded in <workdir>/quickstart-state.json) are skipped. "
            "Sizes: " + "; ".join(f"{name}: {s.description}" for name, s in SIZES.items()) + "."
        ),
        epilog=(
            "examples:\n"
            "  nebula-hub quickstart\n"
            "  nebula-hub quickstart --size tiny --workdir /tmp/qs --no-space\n"
            "  nebula-hub quickstart --size medium --set recipe.stages.grpo.args.max_steps=20 --set eval.limit=5\n"
            "  nebula-hub quickstart --restart\n"
            "  HF_TOKEN=hf_... nebula-hub quickstart --hub https://huggingface.co --namespace my-org \\\n"
            "      --recipe pipelines/recipes/qwen3-8b-base/quickstart.yaml --accelerate-config pipelines/accelerate/zero3.yaml\n"
            "  nebula-hub space run --config nebula-quickstart/space.yaml      # the Space again, later"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--size", choices=sorted(SIZES), default=DEFAULT_SIZE, help=f"run size (default: {DEFAULT_SIZE})"
    )
    parser.add_argument(
        "--workdir", default="nebula-quickstart", help="outputs, logs and state (default: ./nebula-quickstart)"
    )
    parser.add_argument(
        "--hub", metavar="URL", help="hub URL (default: HF_ENDPOINT, else the local Hub); token: HF_TOKEN"
    )
    parser.add_argument(
        "--namespace", metavar="NS", help="owner of the repos (default: the token's user; local Hub: local)"
    )
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument(
        "--resume",
        dest="restart",
        action="store_false",
        default=False,
        help="skip the stages a previous run in this workdir completed (default)",
    )
    resume.add_argument(
        "--restart",
        dest="restart",
        action="store_true",
        help="delete the workdir's quickstart outputs and state, and run every stage again",
    )
    parser.add_argument(
        "--no-space",
        dest="space",
        action="store_false",
        help="do not start the Space; print the command that starts it",
    )
    parser.add_argument(
        "--space-port", type=int, metavar="N", help="port of the Space (default: 7860 or the next free)"
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="GROUP.KEY=VALUE",
        help="override a setting of a piece, after the size's: sft.* (pipelines/sft_corpus.yaml), rl.* "
        "(pipelines/rl_pool.yaml), recipe.* (the training recipe), eval.* (eval settings); repeatable",
    )
    parser.add_argument("--sft-config", metavar="YAML", help="SFT pipeline config (default: the bundled one)")
    parser.add_argument("--rl-config", metavar="YAML", help="RL pool config (default: the bundled one)")
    parser.add_argument(
        "--recipe", metavar="YAML", help="training recipe (default: pipelines/recipes/tiny/quickstart.yaml)"
    )
    parser.add_argument(
        "--accelerate-config",
        metavar="YAML",
        help="train under `accelerate launch` with this config (e.g. pipelines/accelerate/zero3.yaml) on GPUs",
    )
    parser.add_argument("--verbose", action="store_true", help="show each stage's own output instead of logging it")
    parser.set_defaults(func=run)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from nebula_hub.quickstart import QuickstartOptions, run_quickstart

    options = QuickstartOptions(
        size=args.size,
        workdir=args.workdir,
        hub=args.hub,
        namespace=args.namespace,
        restart=args.restart,
        space=args.space,
        space_port=args.space_port,
        sets=args.sets,
        sft_config=args.sft_config,
        rl_config=args.rl_config,
        recipe=args.recipe,
        accelerate_config=args.accelerate_config,
        verbose=args.verbose,
    )
    result = run_quickstart(options)
    if result.space is not None:
        print(f"\nSpace running on {result.space_url}; press Ctrl-C to stop it (and the local hub).")
        try:
            result.wait_space()
        except KeyboardInterrupt:
            print("stopped")
    return 0
