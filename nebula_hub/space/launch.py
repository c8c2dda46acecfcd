"""Run the comparison Space locally (what `nebula-hub space run` calls).

Example:
    >>> run_space(port=7860)  # doctest: +SKIP
    hub: http://127.0.0.1:8090 (local hub at ~/.cache/nebula-hub/hub, token hf_***)
    Space running on http://127.0.0.1:7860
"""

from __future__ import annotations

from pathlib import Path

from nebula_hub.paths import resource_path
from nebula_hub.space.config import SpaceConfig, load_space_config


def default_config_path() -> Path:
    """The Space's default config (`spaces/compare/config.yaml`: discover everything on the hub)."""
    return resource_path("spaces", "compare", "config.yaml")


def run_space(
    config: str | Path | SpaceConfig | None = None,
    hub: str | None = None,
    port: int | None = None,
    host: str = "127.0.0.1",
    block: bool = True,
    print_fn=print,
):
    """Build the Space from `config` (a path, a `SpaceConfig`, or None for the default) and serve it.

    Returns the launched `gr.Blocks` (with `block=False` it returns at once; call `demo.close()` to stop).
    """
    from nebula_hub.hub import redact, resolve_hub
    from nebula_hub.space.ui import build_demo, launch_kwargs

    if not isinstance(config, SpaceConfig):
        config = load_space_config(config if config is not None else default_config_path())
    target = resolve_hub(hub or config.hub)
    print_fn(target.describe())
    demo = build_demo(config, hub=target.endpoint)
    content = demo.nebula_content
    print_fn(
        f"showing {len(content.checkpoints)} checkpoint(s) and {len(content.datasets)} dataset(s)"
        f" ({content.config.source or 'config'})"
    )
    demo.queue(default_concurrency_limit=4).launch(
        server_name=host, server_port=port, prevent_thread_lock=True, quiet=True, ssr_mode=False, **launch_kwargs()
    )
    print_fn(f"Space running on {redact(demo.local_url)}")
    if block:
        try:
            demo.block_thread()
        finally:
            demo.nebula_pool.close()
    return demo
