"""The client layer every nebula-hub stage uses to reach a Hub: pick the hub, build `HfApi`, point module-level
clients at it, start the embedded local Hub on demand, and turn client errors into `NebulaError`s.

Which hub (`resolve_hub`): an explicit `--hub URL`, else `HF_ENDPOINT`, else the local Hub under
`nebula_hub.paths.cache_dir() / "hub"` (started in the background if not running, with its default token).

Example:
    >>> from nebula_hub.hub import resolve_hub, get_api, use_hub, hub_errors
    >>> target = resolve_hub(None)  # doctest: +SKIP
    >>> print(target.describe())  # doctest: +SKIP
    hub: http://127.0.0.1:8090 (local hub at /home/me/.cache/nebula-hub/hub, token hf_***)
    >>> with hub_errors(target):  # doctest: +SKIP
    ...     get_api(target).create_repo("local/tiny", repo_type="dataset", exist_ok=True)
    >>> with use_hub(target):  # doctest: +SKIP
    ...     datasets.load_dataset("local/tiny", split="train")
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from nebula_hub.errors import NebulaError
from nebula_hub.hub.redact import redact, register_secret


# httpx logs every request URL at INFO; LFS upload URLs carry signatures, so keep those logs out of INFO output.
logging.getLogger("httpx2").setLevel(logging.WARNING)
logging.getLogger("httpx").setLevel(logging.WARNING)

HF_HOSTS = ("huggingface.co", "hf.co", "hub-ci.huggingface.co")
SERVICE_NAME = "nebula-hub-local-hub"  # must match nebula_hub.hub.server.SERVICE_NAME (not imported: it is heavier)
DEFAULT_PORT = 8090


@dataclass(frozen=True)
class HubTarget:
    """Where to talk to: `endpoint` URL, `token` (or None), whether it is the embedded local Hub, and whether the
    hub speaks Xet (huggingface.co) or only git-LFS (nebula-hub servers).

    The token never shows in `repr` or `describe()`.
    """

    endpoint: str
    token: str | None = field(default=None, repr=False)
    is_local: bool = False
    root: Path | None = None
    xet: bool = True

    def describe(self) -> str:
        """One line naming the hub, for commands to print: `hub: URL (local hub at ROOT, token hf_***)`."""
        where = (
            f"local hub at {self.root}" if self.is_local else ("nebula-hub server" if not self.xet else "remote hub")
        )
        tok = redact(self.token) if self.token else "no token"
        return f"hub: {self.endpoint} ({where}, token {tok})"


def local_root(root: str | os.PathLike | None = None) -> Path:
    """The local Hub's root folder: `root` if given, else `nebula_hub.paths.cache_dir() / "hub"`."""
    if root is not None:
        return Path(root).expanduser().resolve()
    from nebula_hub.paths import cache_dir

    return (cache_dir() / "hub").resolve()


# -- the embedded local Hub --------------------------------------------------------------------------------------


def _health(endpoint: str, timeout: float = 2.0) -> dict | None:
    try:
        with urllib.request.urlopen(f"{endpoint}/health", timeout=timeout) as resp:  # noqa: S310 (loopback URL)
            data = json.loads(resp.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("service") == SERVICE_NAME else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_state(root: Path) -> dict | None:
    try:
        state = json.loads((root / "server.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return state if isinstance(state, dict) and "port" in state and "pid" in state else None


def _free_port(host: str, preferred: int | None) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise NebulaError(f"no free TCP port on {host} for the local hub", hint="pass --port N with a free port")


def _read_token(root: Path) -> str | None:
    try:
        token = (root / "token").read_text().strip()
    except FileNotFoundError:
        return None
    register_secret(token)
    return token or None


@dataclass
class LocalHub:
    """A running local Hub: its `target`, and whether this process `started` it (then `stop()` ends it)."""

    target: HubTarget
    pid: int
    started: bool
    process: subprocess.Popen | None = None

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after `timeout` seconds)."""
        _terminate(self.pid, timeout, self.process)


def _terminate(pid: int, timeout: float, process: subprocess.Popen | None = None) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return
        elif not _pid_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if process is not None:
        process.wait(timeout=5)


def ensure_local_hub(
    root: str | os.PathLike | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    timeout: float = 60.0,
    stop_at_exit: bool = False,
    extra_args: list[str] | None = None,
) -> LocalHub:
    """Return the local Hub for `root`, starting it in the background if it is not already running.

    The server records `{pid, host, port}` in `<root>/server.json`; a running one is reused (and left running).
    With `stop_at_exit=True`, a server started here is stopped when this Python process exits (the "for the
    duration of the command" mode); `nebula-hub hub start` leaves it running until `nebula-hub hub stop`.

    Example:
        >>> hub = ensure_local_hub("/tmp/hub-root", port=8091)  # doctest: +SKIP
        >>> hub.target.endpoint  # doctest: +SKIP
        'http://127.0.0.1:8091'
        >>> hub.stop()  # doctest: +SKIP
    """
    root_path = local_root(root)
    root_path.mkdir(parents=True, exist_ok=True)
    with open(root_path / "start.lock", "a+") as lock:
        # Two commands starting at once must not start two servers on one root.
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = _read_state(root_path)
        if state and _pid_alive(int(state["pid"])):
            endpoint = f"http://{state.get('host', host)}:{state['port']}"
            health = _health(endpoint)
            if health and health.get("pid") == state["pid"]:
                token = _read_token(root_path)
                target = HubTarget(endpoint, token, True, root_path, xet=False)
                return LocalHub(target, int(state["pid"]), started=False)
        chosen = _free_port(host, port or DEFAULT_PORT) if not port else port
        log = open(root_path / "server.log", "ab")
        cmd = [
            sys.executable,
            "-m",
            "nebula_hub.hub.server",
            "--root",
            str(root_path),
            "--host",
            host,
            "--port",
            str(chosen),
            *(extra_args or []),
        ]
        env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=env
        )
        log.close()
        endpoint = f"http://{host}:{chosen}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = (root_path / "server.log").read_text(errors="replace")[-2000:]
                raise NebulaError(
                    f"the local hub at {root_path} exited at start (status {proc.returncode}): {redact(tail.strip())}",
                    hint=f"see {root_path / 'server.log'}; if port {chosen} is taken, pass --port with a free one",
                )
            health = _health(endpoint, timeout=1.0)
            if health and health.get("pid") == proc.pid:
                break
            time.sleep(0.1)
        else:
            _terminate(proc.pid, 5, proc)
            raise NebulaError(
                f"the local hub at {root_path} did not answer on {endpoint} within {timeout:.0f} s",
                hint=f"see {root_path / 'server.log'}",
            )
    token = _read_token(root_path)
    hub = LocalHub(HubTarget(endpoint, token, True, root_path, xet=False), proc.pid, started=True, process=proc)
    if stop_at_exit:
        atexit.register(hub.stop)
    return hub


def stop_local_hub(root: str | os.PathLike | None = None, timeout: float = 15.0) -> bool:
    """Stop the background local Hub of `root`; returns False if none was running.

    Example:
        >>> stop_local_hub()  # doctest: +SKIP
        True
    """
    root_path = local_root(root)
    state = _read_state(root_path)
    if not state or not _pid_alive(int(state["pid"])):
        return False
    health = _health(f"http://{state.get('host', '127.0.0.1')}:{state['port']}")
    if not health or health.get("pid") != state["pid"]:
        return False  # the pid was reused by another program: never signal it
    _terminate(int(state["pid"]), timeout)
    return True


def local_hub_status(root: str | os.PathLike | None = None) -> dict:
    """`{"root", "running", "endpoint", "pid"}` for the local Hub of `root`."""
    root_path = local_root(root)
    state = _read_state(root_path)
    if state and _pid_alive(int(state["pid"])):
        endpoint = f"http://{state.get('host', '127.0.0.1')}:{state['port']}"
        health = _health(endpoint)
        if health and health.get("pid") == state["pid"]:
            return {"root": str(root_path), "running": True, "endpoint": endpoint, "pid": state["pid"]}
    return {"root": str(root_path), "running": False, "endpoint": None, "pid": None}


# -- choosing the hub ----------------------------------------------------------------------------------------------


def _is_hf_host(endpoint: str) -> bool:
    host = (urlsplit(endpoint).hostname or "").lower()
    return host in HF_HOSTS or host.endswith(".huggingface.co")


def resolve_hub(
    hub: str | None = None,
    token: str | None = None,
    *,
    root: str | os.PathLike | None = None,
    start: bool = True,
) -> HubTarget:
    """Pick the hub a command talks to.

    Order: `hub` (a URL, or `"local"` for the embedded hub), then `HF_ENDPOINT`, then the local Hub under
    `root` (default: the cache folder), started for the duration of this process if it is not running.
    The token is `token`, else `HF_TOKEN` (remote hubs) or `<root>/token` (local hub).

    Example:
        >>> resolve_hub("https://huggingface.co").endpoint
        'https://huggingface.co'
    """
    if hub and hub != "local":
        endpoint = hub
    elif hub != "local" and os.environ.get("HF_ENDPOINT"):
        endpoint = os.environ["HF_ENDPOINT"]
    else:
        endpoint = None
    if endpoint is not None:
        endpoint = endpoint.rstrip("/")
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise NebulaError(
                f"hub URL {endpoint!r} is not an http(s) URL", hint="pass e.g. --hub https://huggingface.co"
            )
        xet = True
        if not _is_hf_host(endpoint):
            # A nebula-hub server has no Xet storage: clients must use git-LFS for it.
            xet = _health(endpoint, timeout=2.0) is None
        if token is None:
            token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
            if token is None and _is_hf_host(endpoint):
                from huggingface_hub import get_token

                token = get_token()
        register_secret(token)
        return HubTarget(endpoint, token, False, None, xet=xet)
    root_path = local_root(root)
    if not start:
        status = local_hub_status(root_path)
        if not status["running"]:
            raise NebulaError(f"the local hub at {root_path} is not running", hint="run `nebula-hub hub start`")
        return HubTarget(status["endpoint"], token or _read_token(root_path), True, root_path, xet=False)
    local = ensure_local_hub(root_path, stop_at_exit=True)
    target = local.target
    if token is not None:
        register_secret(token)
        target = HubTarget(target.endpoint, token, True, root_path, xet=False)
    return target


def get_api(target: HubTarget):
    """An `HfApi` bound to the target's endpoint and token (and, for LFS-only hubs, with Xet switched off).

    Example:
        >>> api = get_api(HubTarget("https://huggingface.co"))
        >>> api.endpoint
        'https://huggingface.co'
    """
    from huggingface_hub import HfApi, constants

    if not target.xet:
        # Xet is a process-wide switch in huggingface_hub (read in `is_xet_available()` at each upload).
        constants.HF_HUB_DISABLE_XET = True
    from nebula_hub import __version__

    return HfApi(endpoint=target.endpoint, token=target.token, library_name="nebula-hub", library_version=__version__)


def env_lines(target: HubTarget, shell: bool = True) -> list[str]:
    """The environment other tools (`hf`, scripts) need to use `target`, without printing the token itself.

    For the local hub the token line reads it from `<root>/token`; for other hubs it refers to `$HF_TOKEN`.
    """
    lines = [f"export HF_ENDPOINT={target.endpoint}"]
    if target.is_local and target.root is not None:
        lines.append(f'export HF_TOKEN="$(cat {target.root / "token"})"')
    if not target.xet:
        lines.append("export HF_HUB_DISABLE_XET=1")
    return lines


@contextlib.contextmanager
def use_hub(target: HubTarget) -> Iterator[HubTarget]:
    """Point module-level clients at `target` inside the block, then restore everything.

    huggingface_hub and datasets read `HF_ENDPOINT` once, at import, into module constants (and the default
    `HfApi` instance behind `huggingface_hub.create_repo` & co. copies it at import too); this patches those,
    the environment (`HF_ENDPOINT`, `HF_TOKEN`, `HF_HUB_DISABLE_XET`, for subprocesses and lazy readers) and
    clears the cached `HfFileSystem` instances. It is process-wide: do not use two hubs from two threads at once.

    Example:
        >>> with use_hub(HubTarget("http://127.0.0.1:8090", "hf_xxx", xet=False)):  # doctest: +SKIP
        ...     AutoModelForCausalLM.from_pretrained("local/tiny", revision="v1")
    """
    import huggingface_hub.hf_api as hf_api_module
    from huggingface_hub import HfFileSystem, constants

    host = (urlsplit(target.endpoint).hostname or "").lower()
    saved_env = {
        k: os.environ.get(k) for k in ("HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_DISABLE_XET")
    }
    saved_const = {
        k: getattr(constants, k)
        for k in ("ENDPOINT", "HUGGINGFACE_CO_URL_TEMPLATE", "HF_URL_HOSTS", "HF_HUB_DISABLE_XET")
    }
    saved_api_endpoint = hf_api_module.api.endpoint
    datasets_was_loaded = "datasets.config" in sys.modules
    saved_ds = None
    if datasets_was_loaded:
        ds_config = sys.modules["datasets.config"]
        saved_ds = (ds_config.HF_ENDPOINT, ds_config.HUB_DATASETS_URL)

    os.environ["HF_ENDPOINT"] = target.endpoint
    os.environ.pop("HUGGING_FACE_HUB_TOKEN", None)
    if target.token:
        os.environ["HF_TOKEN"] = target.token
    else:
        os.environ.pop("HF_TOKEN", None)
    if not target.xet:
        os.environ["HF_HUB_DISABLE_XET"] = "1"
        constants.HF_HUB_DISABLE_XET = True
    constants.ENDPOINT = target.endpoint
    constants.HUGGINGFACE_CO_URL_TEMPLATE = target.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    constants.HF_URL_HOSTS = frozenset(saved_const["HF_URL_HOSTS"] | ({host} if host else set()))
    hf_api_module.api.endpoint = target.endpoint
    if datasets_was_loaded:
        _set_datasets_endpoint(target.endpoint)
    # transformers keeps one lazily created HfApi (transformers.utils.hub._hf_api) that froze the endpoint of its
    # first use; drop it inside the block so push_to_hub builds one for this hub, and put the old one back after.
    tf_hub = sys.modules.get("transformers.utils.hub")
    saved_tf_api = getattr(tf_hub, "_hf_api", None)
    if tf_hub is not None:
        tf_hub._hf_api = None
    HfFileSystem.clear_instance_cache()
    try:
        yield target
    finally:
        tf_hub = sys.modules.get("transformers.utils.hub")
        if tf_hub is not None:
            tf_hub._hf_api = saved_tf_api
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for key, value in saved_const.items():
            setattr(constants, key, value)
        hf_api_module.api.endpoint = saved_api_endpoint
        if "datasets.config" in sys.modules:
            # datasets imported inside the block read our HF_ENDPOINT at import: put back what the env says now.
            endpoint = saved_ds[0] if saved_ds else os.environ.get("HF_ENDPOINT", "https://huggingface.co")
            _set_datasets_endpoint(endpoint)
        HfFileSystem.clear_instance_cache()


def _set_datasets_endpoint(endpoint: str) -> None:
    ds_config = sys.modules["datasets.config"]
    ds_config.HF_ENDPOINT = endpoint
    ds_config.HUB_DATASETS_URL = endpoint + "/datasets/{repo_id}/resolve/{revision}/{path}"


# -- errors at the CLI edge ----------------------------------------------------------------------------------------


def translate_hub_error(err: BaseException, target: HubTarget | None = None) -> NebulaError | None:
    """A `NebulaError` (message + hint) for a huggingface_hub / network error, or None if `err` is not one."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalTokenNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = target.endpoint if target else "the hub"
    detail = redact(str(err)).strip().splitlines()
    first = next((line for line in detail if line.strip()), type(err).__name__)
    server_msg = ""
    response = getattr(err, "response", None)
    if response is not None:
        server_msg = redact(response.headers.get("X-Error-Message") or "")
    msg = server_msg or first
    if isinstance(err, RepositoryNotFoundError):
        return NebulaError(
            f"repository not found on {where}: {msg}",
            hint="check the repo id and --repo-type; a private repo needs a token of its owner (HF_TOKEN)",
        )
    if isinstance(err, RevisionNotFoundError):
        return NebulaError(
            f"revision not found on {where}: {msg}",
            hint="list branches and tags with HfApi().list_repo_refs(repo_id) or pass an existing one",
        )
    if isinstance(err, EntryNotFoundError):
        return NebulaError(
            f"file not found on {where}: {msg}", hint="list the files with HfApi().list_repo_files(repo_id)"
        )
    if isinstance(err, LocalTokenNotFoundError):
        return NebulaError(f"no token for {where}", hint="set HF_TOKEN or run `hf auth login`")
    if isinstance(err, HfHubHTTPError) and response is not None:
        status = response.status_code
        hints = {
            401: "the token is missing or invalid: set HF_TOKEN (for the local hub: `nebula-hub hub token create USER --role write`)",
            403: "the token lacks rights on this namespace: use a write token of the repo's owner",
            409: "it already exists; pass the option that allows reusing it, or choose another name",
            412: "the branch moved while you were working: fetch the new head and retry",
            413: "the request is larger than the hub accepts; upload large files as LFS (they are by default)",
        }
        return NebulaError(f"{where} answered {status}: {msg}", hint=hints.get(status, "see the message above"))
    name = type(err).__name__
    if isinstance(err, (ConnectionError, TimeoutError)) or name in ("ConnectError", "ConnectTimeout", "ReadTimeout"):
        return NebulaError(
            f"cannot reach {where}: {first}",
            hint="check --hub / HF_ENDPOINT; for the local hub run `nebula-hub hub status`",
        )
    return None


@contextlib.contextmanager
def hub_errors(target: HubTarget | None = None) -> Iterator[None]:
    """Turn client errors raised inside the block into `NebulaError`s with hints (for CLI handlers).

    Example:
        >>> with hub_errors(HubTarget("http://127.0.0.1:1")):  # doctest: +SKIP
        ...     get_api(HubTarget("http://127.0.0.1:1")).model_info("a/b")
        Traceback (most recent call last):
        nebula_hub.errors.NebulaError: cannot reach http://127.0.0.1:1: ...
    """
    try:
        yield
    except NebulaError:
        raise
    except Exception as err:
        translated = translate_hub_error(err, target)
        if translated is None:
            raise
        raise translated from err
