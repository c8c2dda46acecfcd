"""`nebula-hub space run|deploy`: serve the comparison Space locally, or deploy it as a Space repo."""

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "space",
        help="run or deploy the comparison Space (arena, benchmarks, data, lineage)",
        description=(
            "The comparison Space: checkpoints answering side by side, their benchmark scores, the curated data and "
            "the lineage behind them, all read back from the hub (cards and dataset repos)."
        ),
        epilog="examples:\n  nebula-hub space run\n  nebula-hub space deploy --repo local/nebula-compare",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="space_command", metavar="ACTION", required=True)

    run = sub.add_parser(
        "run",
        help="serve the Space locally",
        description=(
            "Serve the Space on this machine. Without --config it shows every nebula-hub checkpoint and curated "
            "dataset found on the hub (after `nebula-hub quickstart`: the quickstart's artifacts on the local hub)."
        ),
        epilog=(
            "examples:\n  nebula-hub space run\n  nebula-hub space run --config my-space.yaml --port 7861\n"
            "  nebula-hub space run --hub https://huggingface.co --config spaces/compare/config.yaml"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--config", help="Space config YAML (default: spaces/compare/config.yaml, i.e. discover)")
    run.add_argument("--port", type=int, default=None, help="TCP port (default: 7860 or the next free one)")
    run.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    run.add_argument("--hub", help="hub URL (default: the config's hub, else HF_ENDPOINT, else the local hub)")
    run.set_defaults(func=run_run)

    deploy = sub.add_parser(
        "deploy",
        help="create or update a Space repo running this app",
        description=(
            "Create (or update) a Space repo on the hub with app.py, requirements.txt, the resolved config and a "
            "README whose metadata names the gradio SDK version and the models and datasets the Space shows."
        ),
        epilog=(
            "examples:\n  nebula-hub space deploy --repo local/nebula-compare\n"
            "  nebula-hub space deploy --repo me/compare --hub https://huggingface.co --config my-space.yaml"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    deploy.add_argument("--repo", required=True, help="the Space repo id, ORG/NAME")
    deploy.add_argument("--config", help="Space config YAML (default: discover what is on the hub now)")
    deploy.add_argument("--hub", help="hub URL (default: the config's hub, else HF_ENDPOINT, else the local hub)")
    deploy.add_argument("--private", action="store_true", help="create the Space repo private")
    deploy.set_defaults(func=run_deploy)


def run_run(args: argparse.Namespace) -> int:
    from nebula_hub.space import run_space

    run_space(args.config, hub=args.hub, port=args.port, host=args.host)
    return 0


def run_deploy(args: argparse.Namespace) -> int:
    from nebula_hub.space import deploy_space

    result = deploy_space(args.repo, args.config, hub=args.hub, private=args.private)
    print(f"deployed {result.repo_id} at commit {result.commit[:12]}: {result.url}")
    print(f"models: {', '.join(result.models) or '-'}; datasets: {', '.join(result.datasets) or '-'}")
    return 0
