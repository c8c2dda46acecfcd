"""`nebula-hub hub ...`: run the local Hub server, manage its tokens, and show how other tools reach it."""

import argparse
import json


EPILOG = """examples:
  nebula-hub hub serve --port 8090 --root ./hub-data        # foreground server (an internal Hub)
  nebula-hub hub start                                       # background local hub used by the defaults
  nebula-hub hub status
  eval "$(nebula-hub hub env)"                               # point hf, scripts, notebooks at it
  nebula-hub hub token create alice --role write --namespace team
  nebula-hub hub token list
  nebula-hub hub whoami --hub https://huggingface.co
  nebula-hub hub stop"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "hub",
        help="run the local Hugging Face Hub-compatible server and manage its tokens",
        description=(
            "The local Hub: a Hugging Face Hub-compatible server (repos, commits, LFS, branches, tags, downloads) "
            "that huggingface_hub, datasets, transformers and the hf CLI use unchanged. Commands use it when neither "
            "--hub nor HF_ENDPOINT names another hub."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="hub_command", metavar="ACTION", required=True)

    def add(name, help_, description, examples):
        p = sub.add_parser(
            name,
            help=help_,
            description=description,
            epilog="examples:\n" + examples,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("--root", help="hub data folder (default: <nebula-hub cache>/hub)")
        return p

    serve = add(
        "serve",
        "serve a hub in the foreground",
        "Serve a hub root in the foreground until Ctrl-C.",
        "  nebula-hub hub serve\n  nebula-hub hub serve --host 0.0.0.0 --port 8090 --root /srv/hub",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    serve.add_argument("--port", type=int, default=8090, help="TCP port (default: 8090)")
    serve.add_argument("--max-commit-mb", type=float, default=256, help="largest inline commit payload in MiB")
    serve.add_argument("--max-lfs-gb", type=float, default=50, help="largest LFS object in GiB")
    serve.set_defaults(func=run_serve)

    start = add(
        "start",
        "start the local hub in the background",
        "Start the local hub in the background (reused by every command until `nebula-hub hub stop`).",
        "  nebula-hub hub start\n  nebula-hub hub start --port 8091",
    )
    start.add_argument("--host", default="127.0.0.1")
    start.add_argument("--port", type=int, default=None, help="TCP port (default: 8090, or a free one)")
    start.set_defaults(func=run_start)

    stop = add("stop", "stop the background local hub", "Stop the background local hub.", "  nebula-hub hub stop")
    stop.set_defaults(func=run_stop)

    status = add(
        "status",
        "show whether the local hub runs",
        "Show whether the local hub runs, and where.",
        "  nebula-hub hub status\n  nebula-hub hub status --json",
    )
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=run_status)

    env = add(
        "env",
        "print the environment lines other tools need",
        "Print the shell lines (HF_ENDPOINT, HF_TOKEN, HF_HUB_DISABLE_XET) that make other tools use the hub. "
        "The token is read from its file by the shell, never printed. Starts the local hub if needed.",
        '  eval "$(nebula-hub hub env)"\n  nebula-hub hub env --hub http://hub.internal:8090',
    )
    env.add_argument("--hub", help="a hub URL instead of the local hub")
    env.set_defaults(func=run_env)

    who = add(
        "whoami",
        "show which hub and user a token maps to",
        "Show the hub and the user of the token.",
        "  nebula-hub hub whoami\n  HF_TOKEN=hf_... nebula-hub hub whoami --hub https://huggingface.co",
    )
    who.add_argument("--hub", help="hub URL (default: HF_ENDPOINT, else the local hub)")
    who.set_defaults(func=run_whoami)

    token = sub.add_parser(
        "token",
        help="create and list access tokens of the local hub",
        description="Access tokens of a hub root; only their hashes are stored.",
        epilog="examples:\n  nebula-hub hub token create alice --role write\n"
        "  nebula-hub hub token create bot --role read --namespace team\n"
        "  nebula-hub hub token list",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tsub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = tsub.add_parser(
        "create",
        help="create a token (printed once)",
        description="Create a token for USER; the user and its namespace exist from then on. "
        "The token is printed once and stored only as a hash.",
        epilog="examples:\n  nebula-hub hub token create alice --role write\n"
        "  nebula-hub hub token create alice --write --namespace team",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    create.add_argument("user", metavar="USER")
    create.add_argument(
        "--role",
        choices=("read", "write", "admin"),
        default="read",
        help="read: read the user's private repos; write: also push; admin: every namespace",
    )
    create.add_argument("--write", action="store_true", help="shorthand for --role write")
    create.add_argument(
        "--namespace", action="append", default=[], help="an extra namespace (organisation) the user owns; repeatable"
    )
    create.add_argument("--root", help="hub data folder (default: <nebula-hub cache>/hub)")
    create.set_defaults(func=run_token_create)
    listing = tsub.add_parser(
        "list",
        help="list tokens (user, role, label; never the secret)",
        description="List the tokens of a hub root (user, role, label, id prefix of the hash).",
        epilog="examples:\n  nebula-hub hub token list",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument("--root", help="hub data folder (default: <nebula-hub cache>/hub)")
    listing.set_defaults(func=run_token_list)


def run_serve(args: argparse.Namespace) -> int:
    from nebula_hub.hub.client import local_root
    from nebula_hub.hub.server import ServerLimits, serve

    root = local_root(args.root)
    print(f"hub: serving {root} on http://{args.host}:{args.port} (Ctrl-C to stop)")
    print(f"hub: default token of user 'local' is in {root / 'token'}")
    limits = ServerLimits(
        max_commit_bytes=int(args.max_commit_mb * 1024**2), max_lfs_bytes=int(args.max_lfs_gb * 1024**3)
    )
    try:
        serve(root, host=args.host, port=args.port, limits=limits)
    except KeyboardInterrupt:
        pass
    return 0


def run_start(args: argparse.Namespace) -> int:
    from nebula_hub.hub.client import ensure_local_hub

    hub = ensure_local_hub(args.root, host=args.host, port=args.port)
    verb = "started" if hub.started else "already running"
    print(f"{hub.target.describe()}: {verb} (pid {hub.pid})")
    return 0


def run_stop(args: argparse.Namespace) -> int:
    from nebula_hub.hub.client import local_root, stop_local_hub

    stopped = stop_local_hub(args.root)
    print(f"hub: local hub at {local_root(args.root)} {'stopped' if stopped else 'was not running'}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from nebula_hub.hub.client import local_hub_status

    status = local_hub_status(args.root)
    if args.json:
        print(json.dumps(status))
    elif status["running"]:
        print(f"hub: local hub at {status['root']} running on {status['endpoint']} (pid {status['pid']})")
    else:
        print(f"hub: local hub at {status['root']} is not running (start it with `nebula-hub hub start`)")
    return 0


def run_env(args: argparse.Namespace) -> int:
    from nebula_hub.hub.client import ensure_local_hub, env_lines, resolve_hub

    target = resolve_hub(args.hub) if args.hub else ensure_local_hub(args.root).target
    import sys

    print(f"# {target.describe()}", file=sys.stderr)
    for line in env_lines(target):
        print(line)
    return 0


def run_whoami(args: argparse.Namespace) -> int:
    from nebula_hub.hub.client import get_api, hub_errors, resolve_hub

    target = resolve_hub(args.hub, root=args.root)
    print(target.describe())
    with hub_errors(target):
        me = get_api(target).whoami()
    role = (me.get("auth", {}).get("accessToken") or {}).get("role", "?")
    orgs = ", ".join(o["name"] for o in me.get("orgs", [])) or "none"
    print(f"user: {me['name']} (token role {role}; organisations: {orgs})")
    return 0


def run_token_create(args: argparse.Namespace) -> int:
    from nebula_hub.hub.client import local_root
    from nebula_hub.hub.server import create_user_token

    role = "write" if args.write and args.role == "read" else args.role
    root = local_root(args.root)
    token = create_user_token(root, args.user, role=role, namespaces=args.namespace)
    import sys

    print(
        f"hub: created a {role} token for user {args.user!r} in {root} (shown once; store it as HF_TOKEN)",
        file=sys.stderr,
    )
    print(token)
    return 0


def run_token_list(args: argparse.Namespace) -> int:
    from nebula_hub.hub.client import local_root
    from nebula_hub.hub.server import init_root

    root = local_root(args.root)
    for t in init_root(root).list_tokens():
        print(f"{t['id']}  {t['user']:<16} {t['role']:<6} {t['label']:<20} {t['created_at']}")
    return 0
