"""The Hub layer of nebula-hub: one way to reach huggingface.co, any Hub-compatible server, or the local Hub.

- `resolve_hub(hub)` picks the hub (explicit URL, else `HF_ENDPOINT`, else the local Hub under the cache folder,
  started on demand) and its token; `get_api(target)` gives an `HfApi` for it.
- `use_hub(target)` points module-level clients (`datasets.load_dataset`, `transformers ... from_pretrained`,
  `hf_hub_download`, `snapshot_download`, `push_to_hub`) at that hub for the duration of a `with` block.
- `hub_errors(target)` turns the clients' typed errors into `NebulaError`s with hints (use it at the CLI edge).
- `redact(text)` removes tokens from anything shown to users.
- `nebula_hub.hub.server` is the local Hub server itself; `nebula_hub.hub.storage` its crash-safe store.

Example:
    >>> from nebula_hub.hub import resolve_hub, get_api, use_hub
    >>> target = resolve_hub(None)  # doctest: +SKIP
    >>> print(target.describe())  # doctest: +SKIP
    hub: http://127.0.0.1:8090 (local hub at ~/.cache/nebula-hub/hub, token hf_***)
    >>> get_api(target).create_repo("local/demo", exist_ok=True)  # doctest: +SKIP
    >>> with use_hub(target):  # doctest: +SKIP
    ...     ds = datasets.load_dataset("local/demo")
"""

from nebula_hub.hub.redact import redact as redact
from nebula_hub.hub.redact import register_secret as register_secret


# The client layer imports huggingface_hub (slow); the server must start without it, so load it lazily.
_CLIENT_NAMES = {
    "HubTarget",
    "LocalHub",
    "resolve_hub",
    "get_api",
    "use_hub",
    "ensure_local_hub",
    "stop_local_hub",
    "local_hub_status",
    "local_root",
    "hub_errors",
    "translate_hub_error",
    "env_lines",
}

__all__ = sorted(_CLIENT_NAMES | {"redact", "register_secret"})


def __getattr__(name: str):
    if name in _CLIENT_NAMES:
        from nebula_hub.hub import client

        return getattr(client, name)
    raise AttributeError(f"module 'nebula_hub.hub' has no attribute {name!r}")
